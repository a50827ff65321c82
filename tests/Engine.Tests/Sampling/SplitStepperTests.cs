// The generation step with weights split by hidden unit: its logits are bit-identical to the unsplit unrolled
// model's, for every cell, stream count and thread count (including splits that leave a scalar tail), and a
// warm step allocates nothing on any thread. The barrier it meets at is checked on its own.
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Threading;

namespace CharRnn.Engine.Tests.Sampling;

public class SplitStepperTests
{
    private const int V = 13;

    /// <summary>The largest change of a logit that bf16 or int8 weights make, lower end: the float step gives the
    /// unrolled model's logits bit for bit (Logits_AreBitIdenticalToTheUnrolledModel), so a stepper that used its
    /// float weights would show 0; the smallest measured with rounded weights is 9e-5 (bf16, LSTM).</summary>
    private const double RoundingVisible = 1e-6;

    /// <summary>The largest change of a logit that bf16 or int8 weights make, upper end: bf16 moves each weight by at
    /// most 2^-9 of itself, int8 by half a step of 1/127 of its column's largest, and the logits, sums of such
    /// products through two layers and the head, by a fraction of a percent of their terms' sizes: measured up to
    /// 6.7e-4 (bf16) and 1.4e-3 (int8) on logits up to 0.35. 0.05 still fails logits moved by their own size
    /// (0.2-0.35 here), as a product lost or doubled would move them.</summary>
    private const double RoundingSmall = 0.05;

    public static TheoryData<CellKind, int, int, int> Cases()
    {
        var data = new TheoryData<CellKind, int, int, int>();
        foreach (var cell in new[] { CellKind.Lstm, CellKind.Gru, CellKind.Rnn })
            foreach (int hidden in new[] { 20, 64 }) // 20: the second part holds only the 4-unit scalar tail
                foreach (int streams in new[] { 1, 3 })
                    foreach (int threads in new[] { 1, 2, 3 })
                        data.Add(cell, hidden, streams, threads);
        // As many parts as 16-unit blocks, with a short last block: every part must still get units.
        data.Add(CellKind.Lstm, 33, 1, 3);
        data.Add(CellKind.Gru, 50, 2, 4);
        data.Add(CellKind.Rnn, 100, 1, 7);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Logits_AreBitIdenticalToTheUnrolledModel(CellKind cell, int hidden, int streams, int threads)
    {
        var model = new CharModel<float>(new ModelConfig(cell, V, hidden, 2));
        model.InitializeUniform(new Rng(7));
        var unrolled = new UnrolledModel<float>(model, batch: streams, steps: 1);
        using var split = new SplitStepper(model, streams, threads);
        var random = new Random(3);
        int[] tokens = new int[streams];
        for (int step = 0; step < 12; step++)
        {
            for (int b = 0; b < streams; b++) tokens[b] = random.Next(V);
            unrolled.Forward(tokens, 1);
            unrolled.CarryState();
            split.Step(tokens);
            Assert.Equal(unrolled.Logits.ToArray(), split.Logits.ToArray());
        }
        // Reset returns every state to zero: the same first step again gives the same logits as a fresh model.
        split.Reset();
        unrolled.ResetState();
        unrolled.Forward(tokens, 1);
        split.Step(tokens);
        Assert.Equal(unrolled.Logits.ToArray(), split.Logits.ToArray());
    }

    [Theory]
    [InlineData(CellKind.Lstm, 1, 1)]
    [InlineData(CellKind.Lstm, 2, 1)]
    [InlineData(CellKind.Gru, 2, 1)]
    [InlineData(CellKind.Rnn, 2, 1)]
    [InlineData(CellKind.Lstm, 2, 3)] // three streams: rounded weights in float panels, for the tiled kernel
    public void BFloat16Weights_GiveExactlyTheRoundedModelsLogits(CellKind cell, int threads, int streams)
    {
        var model = new CharModel<float>(new ModelConfig(cell, V, 40, 2));
        model.InitializeUniform(new Rng(12));
        var rounded = new UnrolledModel<float>(model.RoundedToBFloat16(), batch: streams, steps: 1);
        using var split = new SplitStepper(model, streams, threads, WeightFormat.BFloat16);
        var plain = new UnrolledModel<float>(model, batch: streams, steps: 1);
        double largestChange = 0;
        var random = new Random(4);
        for (int step = 0; step < 10; step++)
        {
            int[] token = Enumerable.Range(0, streams).Select(_ => random.Next(V)).ToArray();
            rounded.Forward(token, 1); rounded.CarryState();
            plain.Forward(token, 1); plain.CarryState();
            split.Step(token);
            Assert.Equal(rounded.Logits.ToArray(), split.Logits.ToArray());
            for (int v = 0; v < V * streams; v++) largestChange = Math.Max(largestChange, Math.Abs(split.Logits[v] - plain.Logits[v]));
        }
        Assert.InRange(largestChange, RoundingVisible, RoundingSmall); // rounding really happened, and moved the logits only a little
    }

    [Theory]
    [InlineData(CellKind.Lstm)]
    [InlineData(CellKind.Gru)]
    [InlineData(CellKind.Rnn)]
    public void Int8Weights_SameLogitsAtEveryThreadCount_AndForEachStreamAlone(CellKind cell)
    {
        const int Streams = 3;
        var model = new CharModel<float>(new ModelConfig(cell, V, 40, 2)); // three 16-unit blocks, the last a tail of 8
        model.InitializeUniform(new Rng(13));
        var plain = new UnrolledModel<float>(model, batch: Streams, steps: 1);
        var split = new[] { 1, 2, 3 }.Select(threads => new SplitStepper(model, Streams, threads, WeightFormat.Int8)).ToArray();
        using var alone = new SplitStepper(model, 1, 2, WeightFormat.Int8); // stream 1 on its own
        double largestChange = 0;
        var random = new Random(5);
        for (int step = 0; step < 10; step++)
        {
            int[] tokens = Enumerable.Range(0, Streams).Select(_ => random.Next(V)).ToArray();
            plain.Forward(tokens, 1); plain.CarryState();
            foreach (var stepper in split) stepper.Step(tokens);
            alone.Step([tokens[1]]);
            // Exact integer sums: neither the thread split nor the other streams change a bit.
            Assert.Equal(split[0].Logits.ToArray(), split[1].Logits.ToArray());
            Assert.Equal(split[0].Logits.ToArray(), split[2].Logits.ToArray());
            Assert.Equal(split[0].Logits.Slice(V, V).ToArray(), alone.Logits.ToArray());
            for (int v = 0; v < V * Streams; v++) largestChange = Math.Max(largestChange, Math.Abs(split[0].Logits[v] - plain.Logits[v]));
        }
        foreach (var stepper in split) stepper.Dispose();
        Assert.InRange(largestChange, RoundingVisible, RoundingSmall); // quantization really happened, and moved the logits only a little
    }

    [Fact]
    public void Threads_AreCappedAtOnePerSixteenUnits()
    {
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, V, 20, 1));
        model.InitializeUniform(new Rng(1));
        using var split = new SplitStepper(model, 1, threads: 8);
        Assert.Equal(2, split.Threads);
    }

    [Theory]
    [InlineData(WeightFormat.Float32)]
    [InlineData(WeightFormat.Int8)]
    public void TwoThreadSampler_WarmStep_AllocatesNothingOnAnyThread(WeightFormat weights)
    {
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, V, 64, 2));
        model.InitializeUniform(new Rng(5));
        using var sampler = new Sampler(model, seed: 4, count: 1, threads: 2, weights) { TopK = 5 };
        Assert.Equal(2, sampler.Threads);
        sampler.Prime([1, 2]);
        for (int i = 0; i < 5; i++) sampler.Next();
        SteadyState.AssertAllocatesNothing(() => sampler.Next(), steps: 100, () => sampler.WorkerAllocatedBytes);
    }

    [Fact]
    public void Sampler_SameSeed_SameTextAtEveryThreadCount()
    {
        var model = new CharModel<float>(new ModelConfig(CellKind.Gru, V, 48, 2));
        model.InitializeUniform(new Rng(9));
        int[] Sample(int threads)
        {
            using var sampler = new Sampler(model, seed: 11, count: 1, threads);
            sampler.Prime([3]);
            return Enumerable.Range(0, 300).Select(_ => sampler.Next()).ToArray();
        }
        Assert.Equal(Sample(1), Sample(2));
        Assert.Equal(Sample(1), Sample(3));
    }

    [Fact]
    public void SpinBarrier_NoThreadStartsAPhaseBeforeAllFinishedThePrevious()
    {
        const int Parts = 3, Phases = 20_000;
        var barrier = new SpinBarrier(Parts);
        var arrived = new int[Phases];
        int violations = 0;
        var threads = Enumerable.Range(0, Parts).Select(_ => new Thread(() =>
        {
            for (int phase = 0; phase < Phases; phase++)
            {
                if (phase > 0 && Volatile.Read(ref arrived[phase - 1]) != Parts) Interlocked.Increment(ref violations);
                Interlocked.Increment(ref arrived[phase]);
                barrier.SignalAndWait();
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        Assert.Equal(0, violations);
        Assert.All(arrived, count => Assert.Equal(Parts, count));
    }
}
