// Sampling: a seed fixes the text, greedy decoding ignores the seed, Draw inverts the cumulative distribution
// with the documented edge cases, and the RNG's stream is reproducible and restorable from its state.
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;

namespace CharRnn.Engine.Tests.Sampling;

public class SamplerTests
{
    private const int V = 11;

    private static CharModel<float> NewModel()
    {
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, V, 12, 2));
        model.InitializeUniform(new Rng(2));
        // Three times PyTorch's scale so the next-symbol distributions are far from uniform and greedy paths are stable.
        for (int i = 0; i < model.Parameters.Length; i++) model.Parameters[i] *= 3f;
        model.Pack();
        return model;
    }

    private static readonly int[] PrimeSymbols = [1, 2, 3];

    private static int[] Generate(CharModel<float> model, ulong seed, float temperature, int count)
    {
        var sampler = new Sampler(model, seed) { Temperature = temperature };
        sampler.Prime(PrimeSymbols);
        var symbols = new int[count];
        for (int i = 0; i < count; i++) symbols[i] = sampler.Next();
        return symbols;
    }

    [Fact]
    public void Sampler_SameSeed_GivesSameSequence()
    {
        var model = NewModel();
        int[] first = Generate(model, 42, 1f, 300);
        int[] second = Generate(model, 42, 1f, 300);
        Assert.Equal(first, second);
        Assert.All(first, s => Assert.InRange(s, 0, V - 1));
    }

    [Fact]
    public void Sampler_DifferentSeed_GivesDifferentSequence()
    {
        var model = NewModel();
        Assert.NotEqual(Generate(model, 42, 1f, 300), Generate(model, 43, 1f, 300));
    }

    [Fact]
    public void Sampler_Greedy_IsDeterministicRegardlessOfSeed()
    {
        var model = NewModel();
        int[] greedy = Generate(model, 1, 0f, 300);
        Assert.Equal(greedy, Generate(model, 2, 0f, 300));
        Assert.Equal(greedy, Generate(model, 12345, -1f, 300)); // any temperature <= 0 is greedy
        Assert.Equal(greedy, Generate(model, 7, 1e-40f, 300));   // and one whose 1/T overflows: greedy, not NaN
        Assert.Equal(greedy, Generate(model, 7, 1e-30f, 300));   // a tiny finite 1/T: the top symbol takes all the mass

        // The first greedy symbol is the argmax of the logits after reading the prime from zero state.
        var unrolled = new UnrolledModel<float>(model, batch: 1, steps: 1);
        foreach (int symbol in PrimeSymbols)
        {
            unrolled.Forward(new[] { symbol }, 1);
            unrolled.CarryState();
        }
        Assert.Equal(Sampler.ArgMax(unrolled.Logits), greedy[0]);
    }

    [Fact]
    public void Sampler_Prime_RestartsFromZeroState()
    {
        var model = NewModel();
        var sampler = new Sampler(model, 5) { Temperature = 0f };
        sampler.Prime(PrimeSymbols);
        int[] first = Enumerable.Range(0, 20).Select(_ => sampler.Next()).ToArray();
        sampler.Prime(PrimeSymbols);
        int[] again = Enumerable.Range(0, 20).Select(_ => sampler.Next()).ToArray();
        Assert.Equal(first, again);
        Assert.Throws<ArgumentException>(() => sampler.Prime([]));
    }

    [Fact]
    public void Sampler_Draw_PicksByCumulativeProbability()
    {
        float[] p = { 0.25f, 0.25f, 0.5f }; // exact in binary, so the boundaries are exact
        Assert.Equal(0, Sampler.Draw(p, 0f));
        Assert.Equal(0, Sampler.Draw(p, MathF.BitDecrement(0.25f)));
        Assert.Equal(1, Sampler.Draw(p, 0.25f));   // u < cumulative is strict: a boundary belongs to the next symbol
        Assert.Equal(1, Sampler.Draw(p, 0.4999f));
        Assert.Equal(2, Sampler.Draw(p, 0.5f));
        Assert.Equal(2, Sampler.Draw(p, MathF.BitDecrement(1f))); // the largest NextFloat can return
    }

    [Fact]
    public void Sampler_Draw_ZeroProbabilitySymbol_IsNeverPicked()
    {
        float[] p = { 0f, 1f, 0f };
        Assert.Equal(1, Sampler.Draw(p, 0f));
        Assert.Equal(1, Sampler.Draw(p, MathF.BitDecrement(1f)));
    }

    [Fact]
    public void Sampler_Draw_ProbabilitiesSummingBelowOne_FallBackToLastPossibleSymbol()
    {
        float[] p = { 0.25f, 0.25f, 0.49f, 0f }; // sums to 0.99: rounding left a gap below 1
        Assert.Equal(2, Sampler.Draw(p, 0.98f));
        Assert.Equal(2, Sampler.Draw(p, 0.995f));                  // in the gap: the last symbol with p > 0, not index 3
        Assert.Equal(2, Sampler.Draw(p, MathF.BitDecrement(1f)));

        float[] onlyFirst = { 0.6f, 0f, 0f };
        Assert.Equal(0, Sampler.Draw(onlyFirst, 0.9f));
    }

    [Fact]
    public void Sampler_ArgMax_TakesFirstOfTies()
    {
        Assert.Equal(1, Sampler.ArgMax([0f, 3f, 3f, -1f]));
        Assert.Equal(0, Sampler.ArgMax([-2f]));
    }

    // ---- the RNG --------------------------------------------------------------------------------------------

    [Fact]
    public void Rng_SameSeed_GivesSameStream()
    {
        var a = new Rng(123);
        var b = new Rng(123);
        var c = new Rng(124);
        ulong[] fromA = Enumerable.Range(0, 1000).Select(_ => a.NextUInt64()).ToArray();
        Assert.Equal(fromA, Enumerable.Range(0, 1000).Select(_ => b.NextUInt64()).ToArray());
        Assert.NotEqual(fromA, Enumerable.Range(0, 1000).Select(_ => c.NextUInt64()).ToArray());
    }

    /// <summary>The mean of 100,000 uniform draws has standard deviation sqrt(1/12 / 100,000) = 9.1e-4: 0.01 is 11
    /// of those (measured 7.7e-4 off), and still fails draws whose range is halved (a shift by one bit too many:
    /// mean 0.25).</summary>
    private const double UniformMeanTolerance = 0.01;

    [Fact]
    public void Rng_NextFloat_IsInUnitIntervalWith24Bits()
    {
        var rng = new Rng(7);
        const int Count = 100_000;
        double sum = 0;
        for (int i = 0; i < Count; i++)
        {
            float u = rng.NextFloat();
            if (!(u >= 0f && u < 1f)) Assert.Fail($"draw {i}: {u:R} is outside [0, 1)");
            float scaled = u * (1 << 24);
            if (scaled != MathF.Floor(scaled)) Assert.Fail($"draw {i}: {u:R} is not a multiple of 2^-24");
            sum += u;
        }
        Assert.InRange(sum / Count, 0.5 - UniformMeanTolerance, 0.5 + UniformMeanTolerance);

        for (int i = 0; i < Count; i++)
        {
            double d = rng.NextDouble();
            if (!(d >= 0 && d < 1)) Assert.Fail($"double draw {i}: {d:R} is outside [0, 1)");
        }
    }

    [Fact]
    public void Rng_GetStateSetState_RestoresStreamExactly()
    {
        var rng = new Rng(99);
        for (int i = 0; i < 10; i++) rng.NextUInt64();
        ulong[] state = rng.GetState();
        ulong[] expected = Enumerable.Range(0, 100).Select(_ => rng.NextUInt64()).ToArray();

        rng.SetState(state);
        Assert.Equal(expected, Enumerable.Range(0, 100).Select(_ => rng.NextUInt64()).ToArray());

        var other = new Rng(1);
        other.SetState(state);
        Assert.Equal(expected, Enumerable.Range(0, 100).Select(_ => other.NextUInt64()).ToArray());
    }

    [Fact]
    public void Rng_SetState_RejectsAllZeroOrWrongLength()
    {
        var rng = new Rng(1);
        Assert.Throws<ArgumentException>(() => rng.SetState([0UL, 0UL, 0UL, 0UL]));
        Assert.Throws<ArgumentException>(() => rng.SetState([1UL, 2UL, 3UL]));
    }

    // ---- top-k and top-p -----------------------------------------------------------------------------------

    private static readonly float[] Distribution = [0.05f, 0.4f, 0.02f, 0.3f, 0.13f, 0.1f]; // order: 1, 3, 4, 5, 0, 2

    /// <summary>Decimals to which a frequency over the grid must equal its probability (Assert.Equal rounds both):
    /// over 100,000 grid points a symbol's interval is counted to within one point at each end, 2e-5, plus float
    /// rounding of u and of the cumulative sums (~1e-7). Rounding to 3 decimals then agrees while no expected value
    /// lies within 2e-5 of a rounding midpoint (the nearest, 0.3 / 0.83 = 0.361446, is 5.4e-5 from 0.3615), and fails
    /// any frequency off by 1e-3 or more, as a symbol kept or dropped wrongly makes some of them (by 0.02 or more).</summary>
    private const int FrequencyDecimals = 3;

    /// <summary>Frequencies over a fine grid of u: exactly the renormalised kept probabilities, up to the grid.</summary>
    private static double[] Frequencies(int topK, float topP)
    {
        const int Grid = 100_000;
        var counts = new double[Distribution.Length];
        float[] keys = new float[Distribution.Length];
        int[] order = new int[Distribution.Length];
        for (int i = 0; i < Grid; i++) counts[Sampler.DrawTruncated(Distribution, topK, topP, (i + 0.5f) / Grid, keys, order)]++;
        return counts.Select(c => c / Grid).ToArray();
    }

    [Fact]
    public void TopK_KeepsTheKMostLikely_InProportion()
    {
        double[] f = Frequencies(topK: 2, topP: 1f);
        Assert.Equal(0.4 / 0.7, f[1], FrequencyDecimals);
        Assert.Equal(0.3 / 0.7, f[3], FrequencyDecimals);
        Assert.Equal(0, f[0] + f[2] + f[4] + f[5]);
    }

    [Fact]
    public void TopP_KeepsTheShortestPrefixReachingP()
    {
        // 0.4 + 0.3 = 0.7 < 0.75, + 0.13 = 0.83 >= 0.75: symbols 1, 3, 4.
        double[] f = Frequencies(topK: 0, topP: 0.75f);
        Assert.Equal(0.4 / 0.83, f[1], FrequencyDecimals);
        Assert.Equal(0.3 / 0.83, f[3], FrequencyDecimals);
        Assert.Equal(0.13 / 0.83, f[4], FrequencyDecimals);
        Assert.Equal(0, f[0] + f[2] + f[5]);
    }

    [Fact]
    public void TopKAndTopP_Together_KeepTheSmallerSet()
    {
        double[] f = Frequencies(topK: 2, topP: 0.95f); // top-p alone would keep 5 symbols
        Assert.Equal(0.4 / 0.7, f[1], FrequencyDecimals);
        Assert.Equal(0.3 / 0.7, f[3], FrequencyDecimals);
        Assert.Equal(0, f[0] + f[2] + f[4] + f[5]);
    }

    [Fact]
    public void DrawPoint_IsNeverZero_SoAProbabilityAtExpsFloorIsNeverDrawn()
    {
        var rng = new Rng(1);
        rng.SetState([1, 0, 3, 4]); // s1 = 0: xoshiro's next output is 0, so NextFloat would give exactly 0
        float u = Sampler.DrawPoint(rng);
        Assert.True(u > 0f, $"u = {u}");
        // Symbol 0 at the floor softmax's exp leaves a hopeless logit: u = 0 would draw it, the cell's middle does not.
        Assert.Equal(0, Sampler.Draw([1.2e-38f, 1f], 0f));
        Assert.Equal(1, Sampler.Draw([1.2e-38f, 1f], u));
        // Every other point of the grid is NextFloat's own.
        var a = new Rng(9); var b = new Rng(9);
        for (int i = 0; i < 1000; i++) Assert.Equal(Math.Max(a.NextFloat(), 1f / (1 << 25)), Sampler.DrawPoint(b));
    }

    [Fact]
    public void Truncation_OffKeepsTheFullDistribution()
    {
        double[] f = Frequencies(topK: 0, topP: 1f);
        for (int i = 0; i < Distribution.Length; i++) Assert.Equal(Distribution[i], f[i], FrequencyDecimals);
    }

    [Fact]
    public void BatchedSampler_WarmStepWithTopKTopP_AllocatesNothing()
    {
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, 20, 16, 2));
        model.InitializeUniform(new Rng(3));
        var sampler = new Sampler(model, seed: 4, count: 3) { TopK = 5, TopP = 0.9f };
        sampler.Prime([1, 2]);
        int[] symbols = new int[3];
        for (int i = 0; i < 3; i++) sampler.Next(symbols);
        SteadyState.AssertAllocatesNothing(() => sampler.Next(symbols), steps: 50);
    }
}
