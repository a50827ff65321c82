// Dropout inside the model: evaluation is exactly the undropped network, the recurrent mask is one mask for
// the whole window (checked against the equivalent network whose W_hh columns are scaled by it), and the
// backward pass of both kinds of dropout matches finite differences with the masks held fixed.
using CharRnn.Engine.Model;
using CharRnn.Engine.Regularization;
using CharRnn.Engine.Sampling;

namespace CharRnn.Engine.Tests.Regularization;

public class DropoutModelTests
{
    private const int B = 2, T = 4, V = 7, H = 5;

    /// <summary>(h*m) W^T and h (W diag m)^T differ only in where rounding happens: a few ulp of double.</summary>
    private const double ScaledWeightsEquivalence = 1e-12;

    public static TheoryData<CellKind> Cells() => new() { CellKind.Lstm, CellKind.Gru, CellKind.Rnn };

    private static CharModel<T> NewModel<T>(CellKind cell, int layers, ulong seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var model = new CharModel<T>(new ModelConfig(cell, V, H, layers));
        model.InitializeUniform(new Rng(seed));
        for (int i = 0; i < model.Parameters.Length; i++) model.Parameters[i] *= T.CreateTruncating(1.5);
        model.Pack();
        return model;
    }

    private static int[] Tokens(int n, int seed) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => r.Next(V)).ToArray(); }

    [Theory, MemberData(nameof(Cells))]
    public void NotTraining_IsExactlyTheNetworkWithoutDropout(CellKind cell)
    {
        var model = NewModel<float>(cell, layers: 2, seed: 3);
        var plain = new UnrolledModel<float>(model, B, T);
        var dropped = new UnrolledModel<float>(model, B, T, new Dropout(0.5f, 0.5f));
        int[] inputs = Tokens(B * T, 1), targets = Tokens(B * T, 2);

        // Before any mask is drawn the dropout model is the plain one, training or not.
        double expected = plain.ForwardLoss(inputs, targets, T);
        Assert.Equal(expected, dropped.ForwardLoss(inputs, targets, T));

        dropped.DrawMasks(new MaskRng(9));
        double training = dropped.ForwardLoss(inputs, targets, T);
        Assert.NotEqual(expected, training); // the masks do something while training...

        dropped.Training = false;
        double evaluation = dropped.ForwardLoss(inputs, targets, T);
        Assert.Equal(expected, evaluation); // ...and nothing at all at evaluation: bit for bit
        Assert.Equal(plain.Logits.ToArray(), dropped.Logits.ToArray());
    }

    [Theory, MemberData(nameof(Cells))]
    public void RecurrentMask_IsOneMaskForTheWholeWindow(CellKind cell)
    {
        // Masking h(t-1) by m at every step is the same as scaling column j of W_hh by m_j: if the layer drew a
        // new mask per step, or applied it anywhere else, the two networks would disagree.
        var model = NewModel<double>(cell, layers: 2, seed: 5);
        var dropped = new UnrolledModel<double>(model, batch: 1, steps: T, new Dropout(0f, 0.5f));
        dropped.DrawMasks(new MaskRng(4));
        int[] inputs = Tokens(T, 6), targets = Tokens(T, 7);
        double loss = dropped.ForwardLoss(inputs, targets, T);
        double[] logits = dropped.Logits.ToArray();

        var scaled = NewModel<double>(cell, layers: 2, seed: 5);
        for (int l = 0; l < 2; l++)
        {
            ReadOnlySpan<double> mask = dropped.Layers[l].RecurrentMask; // (1, H)
            Assert.Contains(0.0, mask.ToArray()); // p = 0.5 over H = 5 units: this seed drops at least one
            Span<double> weightHh = scaled.View(scaled.Layout.WeightHh(l)); // (G, H)
            for (int g = 0; g < weightHh.Length / H; g++)
            {
                for (int j = 0; j < H; j++) weightHh[g * H + j] *= mask[j];
            }
        }
        scaled.Pack();
        var plain = new UnrolledModel<double>(scaled, batch: 1, steps: T);
        Assert.Equal(plain.ForwardLoss(inputs, targets, T), loss, ScaledWeightsEquivalence);
        double[] expected = plain.Logits.ToArray();
        for (int i = 0; i < logits.Length; i++) Assert.Equal(expected[i], logits[i], ScaledWeightsEquivalence);
    }

    [Theory, MemberData(nameof(Cells))]
    public void Backward_WithFixedMasks_MatchesFiniteDifferences(CellKind cell)
    {
        var model = NewModel<double>(cell, layers: 2, seed: 7);
        var unrolled = new UnrolledModel<double>(model, B, T, new Dropout(0.3f, 0.4f));
        unrolled.DrawMasks(new MaskRng(12));
        unrolled.ForwardLoss(Tokens(B * T, 1), Tokens(B * T, 2), T);
        unrolled.CarryState(); // a non-zero carried state, as in training
        GradientCheck.AssertModel($"{cell}", unrolled, Tokens(B * T, 3), Tokens(B * T, 4), T);
    }
}
