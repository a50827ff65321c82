// Training end to end and its parts: bit-identical runs from the same seed, a small model that actually learns
// (every cell), the char-rnn window layout of CorpusBatches, chunked evaluation that equals one long window,
// warm training and sampling steps that allocate nothing, Adam's width paths against the scalar loop and
// against torch's formula, and clipping by global norm as torch.nn.utils.clip_grad_norm_ does it.
using System.Runtime.InteropServices;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Regularization;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Tests.Numerics;
using CharRnn.Engine.Training;

namespace CharRnn.Engine.Tests.Training;

public class TrainingTests
{
    private const string Pangram = "the quick brown fox jumps over the lazy dog. ";

    public static TheoryData<CellKind> Cells() => new() { CellKind.Lstm, CellKind.Gru, CellKind.Rnn };

    public static TheoryData<SimdWidth> Widths() => GemmTests.Widths();

    /// <summary>The loss, one thread against two, over six steps: the two shares' gradients sum in another order
    /// (float rounding, Tolerances.ShareSumRelativeToLargest), and Adam carries that into the parameters, dividing
    /// by sqrt(v), so rounding on near-zero gradients moves their parameters by more than rounding; the losses
    /// part slowly. Measured: under 1e-8 relative.</summary>
    private const double ThreadsLossRelative = 1e-5;

    /// <summary>The gradient norm, one thread against two, over six steps: it parts about ten times as fast as
    /// the loss (measured under 1e-7 relative against 1e-8), since every gradient entry carries the share-sum
    /// rounding directly and the loss only through the parameters; ten times the loss's allowance.</summary>
    private const double ThreadsGradientNormRelative = 1e-4;

    /// <summary>The evaluator's chunks against one long window: the state is carried exactly and each chunk's mean
    /// times its length is summed in double (~1e-16 relative), but chunks have other row counts than the window,
    /// which GEMM may serve with other kernels summing in another order: ~1e-7 relative per logit, carried through
    /// the state. Measured: equal bits on an AVX-512 machine.</summary>
    private const double ChunkedLossRelative = 1e-5;

    /// <summary>Adam's parameters against torch's formula in double, absolute: p is stored in float, and each of
    /// the two steps rounds it to within half an ulp (3e-8 for |p| &lt; 1) after an update of ~1e-3 computed in
    /// float to a few 1e-7 relative (~1e-10): 6e-8 in all.</summary>
    private const double AdamParameterAbsolute = 1e-7;

    /// <summary>Three Adam steps against torch's formula in double, absolute, on parameters up to ~1: each step
    /// rounds p to float, half an ulp, 6e-8 at most below 2, after an update (~3e-3) whose float error is ~1e-8 at
    /// most: 2.1e-7 in all (measured 1.2e-7).</summary>
    private const double AdamParameterAbsoluteThreeSteps = 2.5e-7;

    /// <summary>Adam's m and v against torch's formula in double, relative to what they add up (for m the sum of the
    /// magnitudes, |m| when nothing cancels): they are kept in float, and each step rounds beta * m, (1 - beta) * g
    /// (g * g for v) and their sum, half an ulp (6e-8 relative) each, after beta and 1 - beta themselves rounded to
    /// float: ~2e-7 (m) and ~3e-7 (v) a step at worst, under 1e-6 over three steps (measured 2.0e-7 and 2.7e-7
    /// over the every-width test's three). The two-step torch test holds m to |m| itself, where m[0] at step 2 is
    /// 0.027 - 0.010: its error, ~1.4e-8 at worst, is 8e-7 of that.</summary>
    private const double AdamMomentRelative = 1e-6;

    /// <summary>The global norm against a sum of squares in double: the squares are summed in float over blocks of
    /// 4096 (TensorPrimitives, in vector lanes) and the blocks in double. Each lane adds up to ~1024 positive squares
    /// whose roundings (2^-24 each) largely cancel, ~sqrt(1024) * 6e-8 = 2e-6 of the sum, half that in its square
    /// root (measured 2.4e-8). A block dropped or counted twice moves it by a fifth or more.</summary>
    private const double NormRelative = 1e-5;

    private static (CharModel<float> Model, int[] Tokens) Setup(CellKind cell, string text, int hidden, int layers, ulong seed)
    {
        var vocabulary = Vocabulary.FromText(text);
        var model = new CharModel<float>(new ModelConfig(cell, vocabulary.Count, hidden, layers));
        model.InitializeUniform(new Rng(seed));
        return (model, vocabulary.Encode(text));
    }

    private static int[] Bits(ReadOnlySpan<float> values) => MemoryMarshal.Cast<float, int>(values).ToArray();

    private static float[] RandomFloats(Random random, int n, float scale) =>
        Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();

    private static void AssertBitwiseEqual(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}] of {expected.Length}: {actual[i]:R} vs {expected[i]:R}");
        }
    }

    // ---- the trainer -----------------------------------------------------------------------------------------

    public static TheoryData<CellKind, int, float> CellsThreadsDropout()
    {
        var data = new TheoryData<CellKind, int, float>();
        foreach (var cell in new[] { CellKind.Lstm, CellKind.Gru, CellKind.Rnn })
        {
            data.Add(cell, 1, 0f);
            data.Add(cell, 2, 0.25f); // two threads with both kinds of dropout: masks must not depend on timing
        }
        return data;
    }

    [Theory, MemberData(nameof(CellsThreadsDropout))]
    public void Trainer_SameSeed_GivesBitIdenticalRun(CellKind cell, int threads, float dropout)
    {
        string text = string.Concat(Enumerable.Repeat("hello trainer, hello world. ", 10));
        var options = new TrainerOptions // 13 windows: the run crosses an epoch
        {
            Batch = 3, Steps = 7, LearningRate = 5e-3f, Threads = threads, Dropout = new Dropout(dropout, dropout),
        };
        var (modelA, tokens) = Setup(cell, text, hidden: 12, layers: 2, seed: 21);
        var (modelB, _) = Setup(cell, text, hidden: 12, layers: 2, seed: 21);
        using var a = new Trainer(modelA, tokens, options);
        using var b = new Trainer(modelB, tokens, options);

        float[] initial = (float[])modelA.Parameters.Clone();
        for (int step = 0; step < 15; step++)
        {
            StepResult ra = a.TrainStep(), rb = b.TrainStep();
            Assert.Equal(ra.Loss, rb.Loss);
            Assert.Equal(ra.GradientNorm, rb.GradientNorm);
            Assert.Equal(ra.Epoch, rb.Epoch);
            Assert.True(ra.Applied, $"step {ra.Step} was not applied");
        }

        AssertBitwiseEqual(modelA.Parameters, modelB.Parameters, "parameters");
        AssertBitwiseEqual(modelA.Packed, modelB.Packed, "packed transposes");
        AssertBitwiseEqual(a.Optimizer.FirstMoment, b.Optimizer.FirstMoment, "m");
        AssertBitwiseEqual(a.Optimizer.SecondMoment, b.Optimizer.SecondMoment, "v");
        Assert.NotEqual(Bits(initial), Bits(modelA.Parameters)); // the runs did move, so equality means something
    }

    [Theory, MemberData(nameof(Cells))]
    public void Trainer_SmallModel_Learns(CellKind cell)
    {
        string text = string.Concat(Enumerable.Repeat(Pangram, 40));
        var (model, tokens) = Setup(cell, text, hidden: 32, layers: 1, seed: 5);
        var trainer = new Trainer(model, tokens, new TrainerOptions { Batch = 4, Steps = 16, LearningRate = 1e-2f });

        var losses = new double[150];
        for (int step = 0; step < losses.Length; step++) losses[step] = trainer.TrainStep().Loss;

        double entropy = UnigramEntropy(text);
        double last = losses[^10..].Average();
        Assert.True(last < 0.5 * entropy,
            $"{cell}: mean loss of the last 10 steps is {last:F4} nats, not below half the unigram entropy {entropy:F4} (first step {losses[0]:F4})");
    }

    [Theory, MemberData(nameof(CellsThreadsDropout))]
    public void Trainer_ResumedThroughACheckpointFile_IsBitIdenticalToAnUninterruptedRun(CellKind cell, int threads, float dropout)
    {
        string text = string.Concat(Enumerable.Repeat("hello trainer, hello world. ", 10));
        var options = new TrainerOptions // 13 windows per epoch: both halves cross an epoch boundary
        {
            Batch = 3, Steps = 7, LearningRate = 5e-3f, Threads = threads, Dropout = new Dropout(dropout, dropout),
            Schedule = new LearningRateSchedule(ScheduleKind.Cosine, 5e-3f, 5e-4f, 30),
        };
        const int N = 17, M = 12;
        var (modelA, tokens) = Setup(cell, text, hidden: 12, layers: 2, seed: 31);
        using var uninterrupted = new Trainer(modelA, tokens, options);
        uninterrupted.LearningRateScale = 0.5f; // as the divergence guard leaves it: the resumed run must keep it
        var expected = Enumerable.Range(0, N + M).Select(_ => uninterrupted.TrainStep()).ToArray();

        var (modelB, _) = Setup(cell, text, hidden: 12, layers: 2, seed: 31);
        string path = Path.Combine(Path.GetTempPath(), $"charrnn-resume-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var first = new Trainer(modelB, tokens, options) { LearningRateScale = 0.5f })
            {
                for (int step = 0; step < N; step++) first.TrainStep();
                var state = first.Capture();
                Checkpoint.Save(path, modelB, Vocabulary.FromText(text), TrainingCheckpoint.Metadata(state), TrainingCheckpoint.Tensors(state, options.Batch, 12));
            }
            var loaded = Checkpoint.Load(path);
            Assert.True(TrainingCheckpoint.Has(loaded));
            using var resumed = new Trainer(loaded.Model, tokens, options);
            resumed.Restore(TrainingCheckpoint.Read(loaded, options.Batch, path));
            for (int step = N; step < N + M; step++)
            {
                StepResult r = resumed.TrainStep();
                Assert.Equal(expected[step].Step, r.Step);
                Assert.Equal(expected[step].Epoch, r.Epoch);
                Assert.Equal(expected[step].Loss, r.Loss);
                Assert.Equal(expected[step].GradientNorm, r.GradientNorm);
            }
            AssertBitwiseEqual(modelA.Parameters, loaded.Model.Parameters, "parameters");
            AssertBitwiseEqual(uninterrupted.Optimizer.FirstMoment, resumed.Optimizer.FirstMoment, "m");
            AssertBitwiseEqual(uninterrupted.Optimizer.SecondMoment, resumed.Optimizer.SecondMoment, "v");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void DivergenceGuard_InjectedNaN_SkipsHalvesTheRateThenReloadsTheLastGoodState()
    {
        string text = string.Concat(Enumerable.Repeat(Pangram, 10));
        var (model, tokens) = Setup(CellKind.Lstm, text, hidden: 16, layers: 1, seed: 8);
        using var trainer = new Trainer(model, tokens, new TrainerOptions { Batch = 4, Steps = 8, Threads = 2 });
        var guard = new DivergenceGuard(trainer, reloadAfter: 3, giveUpAfter: 10);
        for (int i = 0; i < 4; i++) Assert.Equal(GuardAction.Applied, guard.Step().Action);
        guard.MarkGood();
        float[] good = (float[])model.Parameters.Clone();

        model.View(model.Layout.HeadBias)[0] = float.NaN; // poison one bias every logit row uses: every step is now non-finite
        model.Pack();
        Assert.Equal(GuardAction.Skipped, guard.Step().Action);
        Assert.Equal(GuardAction.Skipped, guard.Step().Action);
        var third = guard.Step();
        Assert.Equal(GuardAction.Reloaded, third.Action);
        Assert.Equal(0.125f, third.LearningRateScale); // halved at each of the three failures
        AssertBitwiseEqual(good, model.Parameters, "parameters after reloading the last good state");

        var next = guard.Step();
        Assert.Equal(GuardAction.Applied, next.Action);
        Assert.True(double.IsFinite(next.Result.Loss));
        Assert.Equal(0.125f * trainer.Options.LearningRate, trainer.Optimizer.LearningRate);
        Assert.Equal(3, guard.Failures);
    }

    [Fact]
    public void DivergenceGuard_PersistentNaN_GivesUpAfterTheBound()
    {
        string text = string.Concat(Enumerable.Repeat(Pangram, 10));
        var (model, tokens) = Setup(CellKind.Gru, text, hidden: 16, layers: 1, seed: 8);
        using var trainer = new Trainer(model, tokens, new TrainerOptions { Batch = 4, Steps = 8 });
        var guard = new DivergenceGuard(trainer, reloadAfter: 3, giveUpAfter: 10);
        GuardAction action = GuardAction.Applied;
        int steps = 0;
        while (action != GuardAction.GaveUp && steps < 100)
        {
            model.View(model.Layout.HeadBias)[0] = float.NaN; // re-poisoned even after every reload
            model.Pack();
            action = guard.Step().Action;
            steps++;
        }
        Assert.Equal(GuardAction.GaveUp, action);
        Assert.Equal(10, steps);
        Assert.Equal(10, guard.Failures);
    }

    [Theory, MemberData(nameof(Cells))]
    public void Trainer_TwoThreads_FollowOneThread_UpToRounding(CellKind cell)
    {
        // Shares of 2 and 3 streams, each scaled by the whole batch: their sum must be the gradient of the mean over all 5.
        string text = string.Concat(Enumerable.Repeat(Pangram, 8));
        var (modelA, tokens) = Setup(cell, text, hidden: 16, layers: 2, seed: 2);
        var (modelB, _) = Setup(cell, text, hidden: 16, layers: 2, seed: 2);
        using var one = new Trainer(modelA, tokens, new TrainerOptions { Batch = 5, Steps = 9, Threads = 1 });
        using var two = new Trainer(modelB, tokens, new TrainerOptions { Batch = 5, Steps = 9, Threads = 2 });
        for (int step = 0; step < 6; step++)
        {
            StepResult a = one.TrainStep(), b = two.TrainStep();
            Assert.True(Math.Abs(a.Loss - b.Loss) <= ThreadsLossRelative * a.Loss, $"step {step}: loss {a.Loss:R} (1 thread) vs {b.Loss:R} (2 threads)");
            Assert.True(Math.Abs(a.GradientNorm - b.GradientNorm) <= ThreadsGradientNormRelative * a.GradientNorm, $"step {step}: gradient norm {a.GradientNorm:R} vs {b.GradientNorm:R}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Trainer_SecondWindow_GradientStartsFromTheCarriedState(int threads)
    {
        // The gradient sums read h(-1) from each layer's state slot, so a step may carry its final state into that
        // slot only after them: the second window's gradient must be a plain model's, run from the first window's
        // final state with the weights after the first update.
        string text = string.Concat(Enumerable.Repeat(Pangram, 8));
        var (model, tokens) = Setup(CellKind.Lstm, text, hidden: 16, layers: 2, seed: 4);
        var (plain, _) = Setup(CellKind.Lstm, text, hidden: 16, layers: 2, seed: 4);
        const int batch = 4, steps = 8;
        using var trainer = new Trainer(model, tokens, new TrainerOptions { Batch = batch, Steps = steps, Threads = threads, ClipNorm = 1e30f });
        trainer.TrainStep();
        float[] afterFirst = (float[])model.Parameters.Clone();
        trainer.TrainStep();

        var windows = new CorpusBatches(tokens, batch, steps);
        int[] inputs = new int[batch * steps], targets = new int[batch * steps];
        var unrolled = new UnrolledModel<float>(plain, batch, steps);
        windows.Fill(0, inputs, targets, 0, batch);
        unrolled.ForwardLoss(inputs, targets, steps); // the initial weights, as the first step
        unrolled.CarryState();
        afterFirst.CopyTo(plain.Parameters, 0);
        plain.Pack();
        windows.Fill(1, inputs, targets, 0, batch);
        unrolled.ForwardLoss(inputs, targets, steps);
        var expected = new float[plain.Parameters.Length];
        unrolled.Backward(inputs, targets, expected);

        if (threads == 1)
        {
            Assert.Equal(expected, trainer.Gradients); // the same sums in the same order
            return;
        }
        // Two shares sum in another order: float rounding.
        double largest = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - trainer.Gradients[i]) <= Tolerances.ShareSumRelativeToLargest * largest, $"gradient {i}: {trainer.Gradients[i]:R} vs {expected[i]:R}");
    }

    /// <summary>Entropy in nats of the character frequencies: the loss of the best model that ignores context.</summary>
    private static double UnigramEntropy(string text)
    {
        double n = text.Length;
        return -text.GroupBy(c => c).Sum(g => g.Count() / n * Math.Log(g.Count() / n));
    }

    // ---- batching --------------------------------------------------------------------------------------------

    [Fact]
    public void CorpusBatches_Windows_FollowTheCharRnnLayout()
    {
        const int n = 103, B = 3, T = 4;
        int[] tokens = Enumerable.Range(0, n).ToArray(); // each token is its own position
        var batches = new CorpusBatches(tokens, B, T);

        int used = (n - 1) / (B * T) * (B * T);      // 96
        int streamLength = used / B;                 // 32
        Assert.Equal(streamLength / T, batches.WindowsPerEpoch);
        var inputs = new int[T * B];
        var targets = new int[T * B];
        for (int k = 0; k < batches.WindowsPerEpoch; k++)
        {
            batches.Fill(k, inputs, targets);
            for (int t = 0; t < T; t++)
            {
                for (int b = 0; b < B; b++)
                {
                    // stream b is [b*used/B, (b+1)*used/B); window k is its columns [kT, (k+1)T); targets one ahead
                    int expected = b * used / B + k * T + t;
                    Assert.Equal(expected, inputs[t * B + b]);
                    Assert.Equal(expected + 1, targets[t * B + b]);
                    Assert.True(expected < (b + 1) * used / B, "a window ran past its stream");
                }
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => batches.Fill(batches.WindowsPerEpoch, inputs, targets));
    }

    [Fact]
    public void CorpusBatches_TooShortCorpus_ThrowsInvalidDataWithMinimum()
    {
        Assert.Equal(13, CorpusBatches.MinimumCharacters(3, 4));
        var e = Assert.Throws<InvalidDataException>(() => new CorpusBatches(Enumerable.Range(0, 12).ToArray(), 3, 4));
        Assert.Contains("needs at least 13", e.Message);
        Assert.Contains("12 characters", e.Message);

        var justEnough = new CorpusBatches(Enumerable.Range(0, 13).ToArray(), 3, 4);
        Assert.Equal(1, justEnough.WindowsPerEpoch);
    }

    // ---- evaluation ------------------------------------------------------------------------------------------

    public static TheoryData<CellKind, int> CellsAndChunks()
    {
        var data = new TheoryData<CellKind, int>();
        foreach (var cell in new[] { CellKind.Lstm, CellKind.Gru, CellKind.Rnn })
        {
            data.Add(cell, 7);
            data.Add(cell, 1000);
        }
        return data;
    }

    [Theory, MemberData(nameof(CellsAndChunks))]
    public void Evaluator_ChunksWithCarriedState_EqualOneLongWindow(CellKind cell, int chunk)
    {
        string text = (Pangram + Pangram)[..50];
        var (model, tokens) = Setup(cell, text, hidden: 9, layers: 2, seed: 13);
        int predictions = tokens.Length - 1;
        var unrolled = new UnrolledModel<float>(model, batch: 1, steps: predictions);
        double expected = unrolled.ForwardLoss(tokens.AsSpan(0, predictions), tokens.AsSpan(1, predictions), predictions);

        var evaluator = new Evaluator(model, chunk);
        double actual = evaluator.MeanLoss(tokens);

        Assert.True(Math.Abs(actual - expected) <= ChunkedLossRelative * expected, $"{cell}, chunk {chunk}: {actual:R} vs one window {expected:R}");
        Assert.Equal(actual, evaluator.MeanLoss(tokens)); // every call starts again from zero state
    }

    [Fact]
    public void Evaluator_FewerThanTwoTokens_ThrowsInvalidData()
    {
        var (model, _) = Setup(CellKind.Lstm, Pangram, hidden: 4, layers: 1, seed: 1);
        Assert.Throws<InvalidDataException>(() => new Evaluator(model, 8).MeanLoss([3]));
    }

    [Fact]
    public void Trainer_ThreadTimes_CountTheParallelPhases_OnlyWithThreads()
    {
        string text = string.Concat(Enumerable.Repeat(Pangram, 10));
        var (model, tokens) = Setup(CellKind.Lstm, text, hidden: 16, layers: 2, seed: 1);
        using var single = new Trainer(model, tokens, new TrainerOptions { Batch = 4, Steps = 8, Threads = 1 });
        single.TrainStep();
        Assert.Equal(default, single.ThreadTimes);

        using var trainer = new Trainer(model, tokens, new TrainerOptions { Batch = 4, Steps = 8, Threads = 2 });
        trainer.TrainStep();
        var before = trainer.ThreadTimes;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int step = 0; step < 3; step++) trainer.TrainStep();
        clock.Stop();
        var times = trainer.ThreadTimes - before;
        Assert.Equal(2, times.Parts);
        Assert.InRange(times.InRun, TimeSpan.FromTicks(1), clock.Elapsed); // the two jobs of each step, no more
        Assert.InRange(times.Busy, TimeSpan.FromTicks(1), times.InRun * 2);
    }

    // ---- allocation ------------------------------------------------------------------------------------------

    [Theory, MemberData(nameof(Cells))]
    public void Trainer_WarmStep_WithThreadsAndDropout_AllocatesNothingOnAnyThread(CellKind cell)
    {
        string text = string.Concat(Enumerable.Repeat(Pangram, 10));
        var (model, tokens) = Setup(cell, text, hidden: 16, layers: 2, seed: 1);
        using var trainer = new Trainer(model, tokens, new TrainerOptions { Batch = 4, Steps = 8, Threads = 2, Dropout = new Dropout(0.3f, 0.3f) });
        for (int step = 0; step < 3; step++) trainer.TrainStep();

        // Both threads count: the caller's (share 0, its gradient rows, clipping, Adam) and the worker's (share 1, its rows).
        double total = 0;
        SteadyState.AssertAllocatesNothing(() => total += trainer.TrainStep().Loss, steps: 3, () => trainer.WorkerAllocatedBytes);
        Assert.True(double.IsFinite(total));
    }

    [Theory, MemberData(nameof(Cells))]
    public void Trainer_WarmStep_AllocatesNothing(CellKind cell)
    {
        string text = string.Concat(Enumerable.Repeat(Pangram, 10));
        var (model, tokens) = Setup(cell, text, hidden: 16, layers: 2, seed: 1);
        var trainer = new Trainer(model, tokens, new TrainerOptions { Batch = 4, Steps = 8 });
        for (int step = 0; step < 3; step++) trainer.TrainStep();

        double total = 0;
        SteadyState.AssertAllocatesNothing(() => total += trainer.TrainStep().Loss, steps: 3);
        Assert.True(double.IsFinite(total));
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.7f)]
    [InlineData(0f)] // greedy
    public void Sampler_WarmStep_AllocatesNothing(float temperature)
    {
        var (model, _) = Setup(CellKind.Lstm, Pangram, hidden: 16, layers: 2, seed: 4);
        var sampler = new Sampler(model, seed: 9) { Temperature = temperature };
        sampler.Prime([0, 1, 2]);
        for (int i = 0; i < 5; i++) sampler.Next();

        int sum = 0;
        SteadyState.AssertAllocatesNothing(() => sum += sampler.Next(), steps: 100);
        Assert.InRange(sum, 0, 500 * (model.Config.VocabSize - 1));
    }

    // ---- Adam ------------------------------------------------------------------------------------------------

    [Theory, MemberData(nameof(Widths))]
    public void Adam_EveryWidth_MatchesScalar_AndTheFormulaInDouble(SimdWidth width)
    {
        // Every width against torch's formula in double, so that the Scalar row, whose loop is the reference the
        // vector widths must match bit for bit, is checked too rather than compared with itself.
        const double lr = 3e-3;
        var random = new Random(17);
        foreach (int n in Enumerable.Range(0, 257).Append(1001))
        {
            float[] start = RandomFloats(random, n, 1f);
            float[] expected = (float[])start.Clone(), actual = (float[])start.Clone();
            var scalar = new Adam(n, (float)lr);
            var vector = new Adam(n, (float)lr);
            double[] p = start.Select(x => (double)x).ToArray(), m = new double[n], v = new double[n], mMagnitude = new double[n];
            for (int step = 0; step < 3; step++)
            {
                // The middle step's tiny gradients make epsilon matter in the denominator.
                float[] gradients = RandomFloats(random, n, step == 1 ? 1e-6f : 2f);
                if (width != SimdWidth.Scalar) scalar.Step(expected, gradients, SimdWidth.Scalar);
                vector.Step(actual, gradients, width);
                int t = step + 1;
                for (int i = 0; i < n; i++)
                {
                    double g = gradients[i];
                    m[i] = 0.9 * m[i] + (1 - 0.9) * g;
                    mMagnitude[i] = 0.9 * mMagnitude[i] + (1 - 0.9) * Math.Abs(g);
                    v[i] = 0.999 * v[i] + (1 - 0.999) * g * g;
                    p[i] -= lr / (1 - Math.Pow(0.9, t)) * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(0.999, t)) + 1e-8);
                }
            }
            for (int i = 0; i < n; i++)
            {
                if (Math.Abs(actual[i] - p[i]) > AdamParameterAbsoluteThreeSteps) Assert.Fail($"{width} n={n}: p[{i}] = {actual[i]:R}, torch formula {p[i]:R}");
                if (Math.Abs(vector.FirstMoment[i] - m[i]) > AdamMomentRelative * mMagnitude[i]) Assert.Fail($"{width} n={n}: m[{i}] = {vector.FirstMoment[i]:R} vs {m[i]:R}");
                if (Math.Abs(vector.SecondMoment[i] - v[i]) > AdamMomentRelative * v[i]) Assert.Fail($"{width} n={n}: v[{i}] = {vector.SecondMoment[i]:R} vs {v[i]:R}");
            }
            if (width != SimdWidth.Scalar)
            {
                AssertBitwiseEqual(expected, actual, $"{width} n={n} parameters");
                AssertBitwiseEqual(scalar.FirstMoment, vector.FirstMoment, $"{width} n={n} m");
                AssertBitwiseEqual(scalar.SecondMoment, vector.SecondMoment, $"{width} n={n} v");
            }
            Assert.Equal(3L, vector.StepCount);
        }
    }

    [Fact]
    public void Adam_TwoSteps_MatchTorchFormula()
    {
        // torch.optim.Adam, defaults: m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
        // p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), computed here in double.
        const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        float[] p = { 0.5f, -0.25f, 0.75f };
        float[][] gradients = { new[] { 0.3f, -2f, 1e-6f }, new[] { -0.1f, -1f, 3e-7f } };
        double[] expectedP = p.Select(x => (double)x).ToArray(), m = new double[3], v = new double[3];
        var adam = new Adam(3, (float)lr);

        for (int t = 1; t <= gradients.Length; t++)
        {
            float[] g = gradients[t - 1];
            adam.Step(p, g);
            for (int i = 0; i < 3; i++)
            {
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                expectedP[i] -= lr / (1 - Math.Pow(b1, t)) * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps);
                if (Math.Abs(p[i] - expectedP[i]) > AdamParameterAbsolute) Assert.Fail($"step {t}, p[{i}] = {p[i]:R}, torch formula {expectedP[i]:R}");
                if (Math.Abs(adam.FirstMoment[i] - m[i]) > AdamMomentRelative * Math.Abs(m[i])) Assert.Fail($"step {t}, m[{i}] = {adam.FirstMoment[i]:R} vs {m[i]:R}");
                // 1 - beta2 is formed in double and rounded once, as torch does, so v agrees to float rounding.
                if (Math.Abs(adam.SecondMoment[i] - v[i]) > AdamMomentRelative * v[i]) Assert.Fail($"step {t}, v[{i}] = {adam.SecondMoment[i]:R} vs {v[i]:R}");
            }
        }
        Assert.Equal(2L, adam.StepCount);
    }

    // ---- clipping ----------------------------------------------------------------------------------------------

    [Fact]
    public void GradientClipping_ReturnsTheL2Norm()
    {
        float[] small = { 3f, -4f };
        Assert.Equal(5.0, GradientClipping.ClipByGlobalNorm(small, 10f));

        var random = new Random(3);
        float[] large = RandomFloats(random, 10_007, 1f); // several 4096-element blocks and a remainder
        double expected = Math.Sqrt(large.Sum(x => (double)x * x));
        double norm = GradientClipping.ClipByGlobalNorm(large, 1e9f);
        Assert.True(Math.Abs(norm - expected) <= NormRelative * expected, $"norm {norm:R} vs {expected:R}");
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(2.5f)]
    [InlineData(5f)] // max == norm: torch still scales, by 5 / (5 + 1e-6)
    public void GradientClipping_AboveMax_ScalesByMaxOverNormPlusEpsilon(float maxNorm)
    {
        float[] gradients = { 3f, -4f, 0f };

        double norm = GradientClipping.ClipByGlobalNorm(gradients, maxNorm);

        Assert.Equal(5.0, norm);
        float coefficient = (float)(maxNorm / (5.0 + 1e-6));
        Assert.Equal(Bits(new[] { 3f * coefficient, -4f * coefficient, 0f }), Bits(gradients));
    }

    [Theory]
    [InlineData(5.0001f)]
    [InlineData(100f)]
    public void GradientClipping_WithinMax_LeavesGradientsUntouched(float maxNorm)
    {
        float[] gradients = { 3f, -4f, 0f };

        double norm = GradientClipping.ClipByGlobalNorm(gradients, maxNorm);

        Assert.Equal(5.0, norm);
        Assert.Equal(Bits(new[] { 3f, -4f, 0f }), Bits(gradients));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void GradientClipping_NonFiniteGradient_ReturnsNonFiniteNormAndLeavesGradients(float bad)
    {
        float[] gradients = { 3f, bad, 1f };

        double norm = GradientClipping.ClipByGlobalNorm(gradients, 1f);

        Assert.False(double.IsFinite(norm));
        Assert.Equal(3f, gradients[0]);
        Assert.Equal(1f, gradients[2]);
    }
}
