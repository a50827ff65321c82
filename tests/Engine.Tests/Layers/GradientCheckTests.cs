// Every backward pass against centered finite differences, in double precision, on small odd sizes; the model's
// also with the loss of the last steps only (firstLossStep) and with a share's mean over the whole batch (meanRows).
using CharRnn.Engine.Layers;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;

namespace CharRnn.Engine.Tests.Layers;

public class GradientCheckTests
{
    private const int B = 2, T = 3, V = 7, H = 5;

    private static CharModel<double> NewModel(CellKind cell, int layers, ulong seed)
    {
        var model = new CharModel<double>(new ModelConfig(cell, V, H, layers));
        model.InitializeUniform(new Rng(seed));
        // A little larger than PyTorch's init so the recurrent path matters, not so large that gates saturate and
        // gradients shrink below what finite differences in double can resolve.
        for (int i = 0; i < model.Parameters.Length; i++) model.Parameters[i] *= 1.5;
        model.Pack();
        return model;
    }

    private static int[] Tokens(int n, int seed) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => r.Next(V)).ToArray(); }

    public static TheoryData<CellKind> Cells() => new() { CellKind.Lstm, CellKind.Gru, CellKind.Rnn };

    /// <summary>
    /// A 2-layer model of the cell unrolled over B x T after one window: the carried state is non-zero, so a
    /// check covers h(0), c(0) != 0.
    /// </summary>
    private static UnrolledModel<double> AfterAFirstWindow(CellKind cell)
    {
        var unrolled = new UnrolledModel<double>(NewModel(cell, layers: 2, seed: 7), B, T);
        unrolled.ForwardLoss(Tokens(B * T, 1), Tokens(B * T, 2), T);
        unrolled.CarryState();
        return unrolled;
    }

    [Theory, MemberData(nameof(Cells))]
    public void Model_Backward_MatchesFiniteDifferences_EveryParameterTensor(CellKind cell)
    {
        var unrolled = AfterAFirstWindow(cell);
        GradientCheck.AssertModel($"{cell}", unrolled, Tokens(B * T, 3), Tokens(B * T, 4), T);
    }

    public static TheoryData<CellKind, int> CellsAndFirstLossSteps()
    {
        var data = new TheoryData<CellKind, int>();
        foreach (var cell in new[] { CellKind.Lstm, CellKind.Gru, CellKind.Rnn })
            foreach (int first in new[] { 1, T - 1 }) data.Add(cell, first);
        return data;
    }

    [Theory, MemberData(nameof(CellsAndFirstLossSteps))]
    public void Model_Backward_LossOfTheLastStepsOnly_MatchesFiniteDifferences(CellKind cell, int firstLossStep)
    {
        // Backward's firstLossStep (the gradient-flow probe passes T - 1): only the losses of steps firstLossStep..
        // send gradient back, still divided by all T * B rows.
        var unrolled = AfterAFirstWindow(cell);
        GradientCheck.AssertModel($"{cell} firstLossStep={firstLossStep}", unrolled, Tokens(B * T, 3), Tokens(B * T, 4), T, firstLossStep: firstLossStep);
    }

    [Theory, MemberData(nameof(Cells))]
    public void Model_ShareBackward_MeanOverTheWholeBatch_MatchesFiniteDifferences(CellKind cell)
    {
        // A trainer's share: these B = 2 streams of a batch of 5, their summed loss divided by the whole batch's
        // 5 * T rows (BackwardThroughTime's meanRows), so that the shares' gradients add up to the batch's.
        var unrolled = AfterAFirstWindow(cell);
        GradientCheck.AssertModel($"{cell} meanRows={5 * T}", unrolled, Tokens(B * T, 3), Tokens(B * T, 4), T, meanRows: 5 * T);
    }

    [Theory, MemberData(nameof(Cells))]
    public void Model_Backward_AcrossOutputGradientChunks_MatchesFiniteDifferences(CellKind cell)
    {
        // 37 steps: each layer's output gradient arrives in chunks of 16, 16 and 5 steps (UnrolledModel), through
        // three layers and their output dropout masks, so every chunk boundary and mask slice is differentiated.
        const int steps = 37;
        var model = NewModel(cell, layers: 3, seed: 11);
        var unrolled = new UnrolledModel<double>(model, B, steps, new CharRnn.Engine.Regularization.Dropout(0.3f, 0f));
        unrolled.DrawMasks(new CharRnn.Engine.Regularization.MaskRng(5));
        GradientCheck.AssertModel($"{cell}", unrolled, Tokens(B * steps, 5), Tokens(B * steps, 6), steps);
    }

    [Theory, MemberData(nameof(Cells))]
    public void Backward_WithoutObserver_SkipsOnlyTheCarriedStateGradient(CellKind cell)
    {
        // Training leaves out step 0's product into h(-1), which truncated BPTT cuts off; the gradient-flow
        // probe asks for it. Both must give the same parameter gradients bit for bit, and the probe its step -1.
        var model = NewModel(cell, layers: 2, seed: 13);
        double[] Gradients(bool observed)
        {
            var unrolled = new UnrolledModel<double>(model, B, T);
            var observers = unrolled.Layers.Select(_ => new StepRecorder()).ToArray();
            if (observed) for (int l = 0; l < observers.Length; l++) unrolled.Layers[l].GradientObserver = observers[l];
            unrolled.ForwardLoss(Tokens(B * T, 1), Tokens(B * T, 2), T);
            unrolled.CarryState();
            int[] tokens = Tokens(B * T, 3), targets = Tokens(B * T, 4);
            unrolled.ForwardLoss(tokens, targets, T);
            var gradients = new double[model.Parameters.Length];
            unrolled.Backward(tokens, targets, gradients);
            if (observed)
            {
                foreach (var observer in observers)
                {
                    Assert.Equal([2, 1, 0, -1], observer.Steps);
                    Assert.Contains(observer.CarriedStateGradient, x => x != 0);
                }
            }
            return gradients;
        }
        Assert.Equal(Gradients(observed: true), Gradients(observed: false));
    }

    private sealed class StepRecorder : IHiddenGradientObserver<double>
    {
        public List<int> Steps { get; } = [];
        public double[] CarriedStateGradient { get; private set; } = [];

        public void Observe(int step, ReadOnlySpan<double> dh)
        {
            Steps.Add(step);
            if (step == -1) CarriedStateGradient = dh.ToArray();
        }
    }

    [Theory, MemberData(nameof(Cells))]
    public void RecurrentLayer_Backward_MatchesFiniteDifferences_IncludingInputGradient(CellKind cell)
    {
        // Layer 1 of a 2-layer model: dense input (T, B, H), loss = sum(output * R) for a fixed random R.
        var model = NewModel(cell, layers: 2, seed: 9);
        var unrolled = new UnrolledModel<double>(model, B, T);
        var layer = unrolled.Layers[1];
        var random = new Random(5);
        double[] input = Enumerable.Range(0, T * B * H).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        double[] r = Enumerable.Range(0, T * B * H).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        double Loss()
        {
            model.Pack();
            layer.Forward(default, input, T);
            var o = layer.Output(T);
            double s = 0;
            for (int i = 0; i < o.Length; i++) s += o[i] * r[i];
            return s;
        }
        Loss();
        var gradients = new double[model.Parameters.Length];
        var dInput = new double[T * B * H];
        layer.Backward(default, input, r, dInput, gradients, T);
        GradientCheck.Assert("dInput", input, dInput, Loss);
        foreach (var spec in new[] { model.Layout.WeightIh(1), model.Layout.WeightHh(1), model.Layout.BiasIh(1), model.Layout.BiasHh(1) })
            GradientCheck.Assert(spec.Name, model.Parameters, gradients.AsSpan(spec.Offset, spec.Length), Loss, spec.Offset, spec.Length);
    }

    [Fact]
    public void Head_Backward_MatchesFiniteDifferences()
    {
        var model = NewModel(CellKind.Lstm, layers: 1, seed: 3);
        var head = new Linear<double>(model);
        var random = new Random(8);
        int rows = 5;
        double[] input = Enumerable.Range(0, rows * H).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        double[] r = Enumerable.Range(0, rows * V).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        double[] logits = new double[rows * V];
        double Loss() { model.Pack(); head.Forward(input, logits, rows); return logits.Select((z, i) => z * r[i]).Sum(); }
        var gradients = new double[model.Parameters.Length];
        var dInput = new double[rows * H];
        head.Backward(input, r, dInput, gradients, rows);
        GradientCheck.Assert("head dInput", input, dInput, Loss);
        foreach (var spec in new[] { model.Layout.HeadWeight, model.Layout.HeadBias })
            GradientCheck.Assert(spec.Name, model.Parameters, gradients.AsSpan(spec.Offset, spec.Length), Loss, spec.Offset, spec.Length);
    }

    [Fact]
    public void SoftmaxCrossEntropy_Backward_MatchesFiniteDifferences()
    {
        var random = new Random(4);
        int rows = 3;
        double[] logits = Enumerable.Range(0, rows * V).Select(_ => random.NextDouble() * 6 - 3).ToArray();
        int[] targets = [1, 6, 0];
        double[] probabilities = new double[rows * V];
        double Loss() => SoftmaxCrossEntropy.Forward<double>(logits, targets, probabilities, V);
        Loss();
        SoftmaxCrossEntropy.Backward<double>(probabilities, targets, V);
        double[] dLogits = (double[])probabilities.Clone(); // Loss() below overwrites the buffer
        GradientCheck.Assert("dlogits", logits, dLogits, Loss);
    }
}
