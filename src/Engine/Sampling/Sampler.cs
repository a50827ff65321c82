// Generates characters one at a time: feed the previous symbol, take the logits, soften or sharpen them with
// the temperature, draw from the softmax with the seeded RNG (or take the argmax when greedy). Each call of
// Next allocates nothing; priming runs the prime through the same single-step path.
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Sampling;

public sealed class Sampler
{
    private readonly UnrolledModel<float> _unrolled;
    private readonly float[] _probabilities; // (V)
    private readonly int[] _token = new int[1];
    private readonly Rng _rng;

    public Sampler(CharModel<float> model, ulong seed)
    {
        model.Pack();
        _unrolled = new UnrolledModel<float>(model, batch: 1, steps: 1);
        _probabilities = new float[model.Config.VocabSize];
        _rng = new Rng(seed);
    }

    /// <summary>1 means the model's own distribution; lower is more conservative; 0 means greedy.</summary>
    public float Temperature { get; set; } = 1f;

    /// <summary>Starts from zero state and reads prime (indices); the last one conditions the first draw.</summary>
    public void Prime(ReadOnlySpan<int> prime)
    {
        if (prime.Length == 0) throw new ArgumentException("priming needs at least one symbol", nameof(prime));
        _unrolled.ResetState();
        foreach (int symbol in prime) Feed(symbol);
    }

    /// <summary>Draws the next symbol from the current distribution and feeds it back in.</summary>
    public int Next()
    {
        ReadOnlySpan<float> logits = _unrolled.Logits;
        int symbol;
        if (Temperature <= 0f)
        {
            symbol = ArgMax(logits);
        }
        else
        {
            Softmax.Row(logits, _probabilities, 1f / Temperature);
            symbol = Draw(_probabilities, _rng.NextFloat());
        }
        Feed(symbol);
        return symbol;
    }

    private void Feed(int symbol)
    {
        _token[0] = symbol;
        _unrolled.Forward(_token, 1);
        _unrolled.CarryState();
    }

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
