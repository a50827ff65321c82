// Backward in two halves, as the trainer runs it: BackwardThroughTime per share, then the parameter gradients
// summed by row ranges that threads own. Splitting the rows must change no bit (every element sums its rows in
// the same order), and shares whose losses are scaled by the whole batch's mean must add up to the gradient of
// one model over the whole batch. The shares also let the loss overwrite the logits with probabilities in place,
// which must change nothing.
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Regularization;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Threading;

namespace CharRnn.Engine.Tests.Model;

public class WeightGradientSplitTests
{
    // V = 11 head rows and G = 4*20 = 80 gate rows: part counts that leave ragged ranges down to one row.
    // T*B rows (560): the gradient products' k runs past one block of Gemm.BlockDepth.
    private const int B = 5, T = Gemm.BlockDepth / B + 10, V = 11, H = 20;

    public static TheoryData<CellKind, int> CellsAndParts()
    {
        var data = new TheoryData<CellKind, int>();
        foreach (var cell in new[] { CellKind.Lstm, CellKind.Gru, CellKind.Rnn })
            foreach (int parts in new[] { 2, 3, 7 }) data.Add(cell, parts);
        return data;
    }

    private static CharModel<float> NewModel(CellKind cell)
    {
        var model = new CharModel<float>(new ModelConfig(cell, V, H, 2));
        model.InitializeUniform(new Rng(5));
        return model;
    }

    private static int[] Tokens(int n, int seed) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => r.Next(V)).ToArray(); }

    [Theory, MemberData(nameof(CellsAndParts))]
    public void WeightGradients_SummedInParts_EqualOneSumBitForBit(CellKind cell, int parts)
    {
        var model = NewModel(cell);
        var unrolled = new UnrolledModel<float>(model, B, T, new Dropout(0.3f, 0.3f)); // masked inputs too
        unrolled.DrawMasks(new MaskRng(3));
        int[] inputs = Tokens(B * T, 1), targets = Tokens(B * T, 2);

        // Summed onto a buffer that already holds something, as a second share's contribution is.
        float[] start = Enumerable.Range(0, model.Parameters.Length).Select(i => MathF.Sin(i)).ToArray();
        unrolled.ForwardLoss(inputs, targets, T);
        var whole = (float[])start.Clone();
        unrolled.Backward(inputs, targets, whole);

        unrolled.ForwardLoss(inputs, targets, T);
        unrolled.BackwardThroughTime(targets);
        var split = (float[])start.Clone();
        for (int part = parts - 1; part >= 0; part--) unrolled.AccumulateWeightGradients(inputs, split, part, parts); // any order

        Assert.NotEqual(start, whole);
        Assert.Equal(whole, split);
    }

    [Theory, MemberData(nameof(CellsAndParts))]
    public void Shares_ScaledByTheWholeBatch_AddUpToTheWholeBatchGradient(CellKind cell, int parts)
    {
        var model = NewModel(cell);
        int[] inputs = Tokens(B * T, 1), targets = Tokens(B * T, 2); // (T, B) time-major
        var whole = new UnrolledModel<float>(model, B, T);
        whole.ForwardLoss(inputs, targets, T);
        var expected = new float[model.Parameters.Length];
        whole.Backward(inputs, targets, expected);

        // Streams [0, 2) and [2, 5), each share's window cut out of the time-major one.
        var shares = new[] { (First: 0, Count: 2), (First: 2, Count: 3) };
        var models = new UnrolledModel<float>[shares.Length];
        var shareInputs = new int[shares.Length][];
        for (int s = 0; s < shares.Length; s++)
        {
            var (first, count) = shares[s];
            shareInputs[s] = new int[T * count];
            var shareTargets = new int[T * count];
            for (int t = 0; t < T; t++)
            {
                Array.Copy(inputs, t * B + first, shareInputs[s], t * count, count);
                Array.Copy(targets, t * B + first, shareTargets, t * count, count);
            }
            models[s] = new UnrolledModel<float>(model, count, T);
            models[s].ForwardLoss(shareInputs[s], shareTargets, T);
            models[s].BackwardThroughTime(shareTargets, meanRows: B * T);
        }
        var summed = new float[model.Parameters.Length];
        for (int part = 0; part < parts; part++)
            for (int s = 0; s < shares.Length; s++) models[s].AccumulateWeightGradients(shareInputs[s], summed, part, parts);

        double largest = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - summed[i]) <= Tolerances.ShareSumRelativeToLargest * largest, $"{cell}: gradient {i}: {summed[i]:R} from shares, {expected[i]:R} whole");
    }

    [Theory, MemberData(nameof(CellsAndParts))]
    public void ProbabilitiesInPlaceOfTheLogits_ChangeNoLossAndNoGradient(CellKind cell, int parts)
    {
        var model = NewModel(cell);
        int[] inputs = Tokens(B * T, 1), targets = Tokens(B * T, 2);
        var kept = new UnrolledModel<float>(model, B, T);
        var inPlace = new UnrolledModel<float>(model, B, T, keepLogits: false);
        Assert.Equal(kept.ForwardLoss(inputs, targets, T), inPlace.ForwardLoss(inputs, targets, T));
        var expected = new float[model.Parameters.Length];
        var actual = new float[model.Parameters.Length];
        kept.Backward(inputs, targets, expected);
        inPlace.BackwardThroughTime(targets);
        for (int part = 0; part < parts; part++) inPlace.AccumulateWeightGradients(inputs, actual, part, parts);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(5, 3)]
    [InlineData(2048, 2)]
    [InlineData(73, 7)]
    public void WorkSplit_Ranges_TileTheRowsInOrder(int count, int parts)
    {
        int next = 0;
        for (int part = 0; part < parts; part++)
        {
            var (first, end) = WorkSplit.Range(count, part, parts);
            Assert.Equal(next, first);
            Assert.InRange(end - first, count / parts, count / parts + 1);
            next = end;
        }
        Assert.Equal(count, next);
    }
}
