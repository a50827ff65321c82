// Generates characters one step at a time for Count independent streams at once (one batched forward per
// step): feed each stream's previous symbol, take its logits, soften or sharpen them with the temperature,
// optionally keep only the K most likely symbols (top-k) and/or the smallest set whose probability reaches P
// (top-p, nucleus sampling), and draw with the stream's own seeded RNG; temperature 0 takes the argmax.
// Each call of Next allocates nothing; priming runs the prime through the same single-step path.
// The forward step is a SplitStepper: with threads > 1 each step's weights are read by several cores at once.
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Sampling;

public sealed class Sampler : IDisposable
{
    private readonly SplitStepper _stepper;
    private readonly float[] _probabilities; // (V) the distribution of the stream being drawn
    private readonly float[] _sortKeys;      // (V) negated probabilities, sorted ascending = most likely first
    private readonly int[] _order;           // (V) symbol indices in that order
    private readonly int[] _tokens;          // (Count) the symbols fed at the next step
    private readonly Rng[] _rngs;            // (Count) stream 0 draws from Rng(seed), as the single-stream sampler does
    private readonly ModelConfig _config; // the model's shape: its VocabSize is V

    /// <summary>count streams drawn together; threads share each step; weights: bf16 or int8 copies are faster and give slightly different text.</summary>
    public Sampler(CharModel<float> model, ulong seed, int count = 1, int threads = 1, WeightFormat weights = WeightFormat.Float32)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "at least one stream");
        Count = count;
        _config = model.Config;
        _stepper = new SplitStepper(model, count, threads, weights);
        _probabilities = new float[_config.VocabSize];
        _sortKeys = new float[_config.VocabSize];
        _order = new int[_config.VocabSize];
        _tokens = new int[count];
        _rngs = new Rng[count];
        // Stream i > 0 from seed ^ (i * golden ratio): unlike seed + i, --seed 5 --count 3 shares no stream with --seed 6.
        for (int i = 0; i < count; i++) _rngs[i] = new Rng(seed ^ (0x9E3779B97F4A7C15UL * (ulong)i));
    }

    /// <summary>Threads that share each step.</summary>
    public int Threads => _stepper.Threads;

    /// <summary>Bytes allocated on the helper threads so far (for allocation tests).</summary>
    public long WorkerAllocatedBytes => _stepper.WorkerAllocatedBytes;

    /// <summary>Independent streams sampled together.</summary>
    public int Count { get; }

    /// <summary>1 means the model's own distribution; lower is more conservative; 0 (or less) means greedy. Not NaN.</summary>
    public float Temperature
    {
        get => _temperature;
        set => _temperature = !float.IsNaN(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "temperature must be a number (0 or less for greedy)");
    }

    /// <summary>Keep only the K most likely symbols before drawing; 0 keeps all.</summary>
    public int TopK
    {
        get => _topK;
        set => _topK = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "top-k must be 0 (all) or more");
    }

    /// <summary>Keep the smallest set of most likely symbols whose probability reaches P, in (0, 1]; 1 keeps all.</summary>
    public float TopP
    {
        get => _topP;
        set => _topP = value > 0 && value <= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "top-p must be in (0, 1]");
    }

    private float _temperature = 1f, _topP = 1f;
    private int _topK;

    /// <summary>Starts every stream from zero state and reads prime (indices); the last one conditions the first draw.</summary>
    public void Prime(ReadOnlySpan<int> prime)
    {
        if (prime.Length == 0) throw new ArgumentException("priming needs at least one symbol", nameof(prime));
        _config.CheckTokens(prime, nameof(prime));
        _stepper.Reset();
        foreach (int symbol in prime)
        {
            Array.Fill(_tokens, symbol);
            Feed();
        }
    }

    /// <summary>The next symbol of a single-stream sampler, fed back in.</summary>
    public int Next()
    {
        if (Count != 1) throw new InvalidOperationException($"this sampler has {Count} streams; use Next(Span<int>)");
        Span<int> one = stackalloc int[1];
        Next(one);
        return one[0];
    }

    /// <summary>Draws the next symbol of every stream into symbols (Count) and feeds them back in.</summary>
    public void Next(Span<int> symbols)
    {
        if (symbols.Length != Count) throw new ArgumentException($"expected {Count} symbols, got {symbols.Length}", nameof(symbols));
        ReadOnlySpan<float> logits = _stepper.Logits; // (Count, V)
        for (int i = 0; i < Count; i++) symbols[i] = Choose(logits.Slice(i * _config.VocabSize, _config.VocabSize), _rngs[i]);
        symbols.CopyTo(_tokens);
        Feed();
    }

    private int Choose(ReadOnlySpan<float> logits, Rng rng)
    {
        // Greedy is temperature's limit at 0, and also what a temperature so small that 1/T overflows (below
        // ~2.9e-39) means: scaling by infinity would turn the top logit's 0 * inf into NaN.
        if (Temperature <= 0f || !float.IsFinite(1f / Temperature)) return ArgMax(logits);
        Softmax.Row(logits, _probabilities, 1f / Temperature);
        bool truncate = (TopK > 0 && TopK < _config.VocabSize) || TopP < 1f;
        if (!truncate) return Draw(_probabilities, DrawPoint(rng));
        return DrawTruncated(_probabilities, TopK, TopP, DrawPoint(rng), _sortKeys, _order);
    }

    /// <summary>
    /// The uniform point a draw takes: NextFloat's grid of 2^24 cells, with the first point moved to the middle of
    /// its cell, so it is never 0. At u = 0 the first symbol with any probability would be drawn, and softmax's exp
    /// keeps even a hopeless symbol's probability at its floor (~1e-38, a logit ~87 below the top) instead of 0:
    /// symbol 0 would come out once in 2^24 draws whatever its logit.
    /// </summary>
    internal static float DrawPoint(Rng rng) => Math.Max(rng.NextFloat(), FirstCellMiddle);

    private const float FirstCellMiddle = 1f / (1 << 25);

    /// <summary>
    /// Sorts by probability (most likely first), keeps the first topK (0: all), then the shortest prefix of
    /// those whose probability reaches topP, and draws within the kept mass with u in [0, 1).
    /// sortKeys and order (V each) are scratch, so the call allocates nothing.
    /// </summary>
    public static int DrawTruncated(ReadOnlySpan<float> probabilities, int topK, float topP, float u, Span<float> sortKeys, Span<int> order)
    {
        int vocab = probabilities.Length;
        for (int i = 0; i < vocab; i++) { sortKeys[i] = -probabilities[i]; order[i] = i; }
        sortKeys[..vocab].Sort(order[..vocab]);
        int keep = topK > 0 ? Math.Min(topK, vocab) : vocab;
        if (topP < 1f)
        {
            float mass = 0f;
            for (int i = 0; i < keep; i++)
            {
                mass -= sortKeys[i];
                if (mass >= topP) { keep = i + 1; break; }
            }
        }
        float total = 0f;
        for (int i = 0; i < keep; i++) total -= sortKeys[i];
        float target = u * total, cumulative = 0f;
        for (int i = 0; i < keep; i++)
        {
            cumulative -= sortKeys[i];
            if (target < cumulative) return order[i];
        }
        return order[keep - 1];
    }

    private void Feed() => _stepper.Step(_tokens);

    public void Dispose() => _stepper.Dispose();

    /// <summary>The first index whose cumulative probability exceeds u; the last index if rounding leaves a gap.</summary>
    public static int Draw(ReadOnlySpan<float> probabilities, float u)
    {
        float cumulative = 0f;
        for (int i = 0; i < probabilities.Length; i++)
        {
            cumulative += probabilities[i];
            if (u < cumulative) return i;
        }
        for (int i = probabilities.Length - 1; i > 0; i--) if (probabilities[i] > 0) return i;
        return 0;
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
