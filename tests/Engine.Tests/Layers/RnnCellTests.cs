// The fused tanh-RNN cell kernel at every accelerated width against its scalar definition, with guard cells
// after every output so an out-of-bounds vector store shows up as a changed guard.
using CharRnn.Engine.Layers;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Tests.Numerics;

namespace CharRnn.Engine.Tests.Layers;

public class RnnCellTests
{
    private const float Guard = 99f;

    public static TheoryData<SimdWidth> Widths() => GemmTests.Widths();

    private static float[] Random(Random r, int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

    // A buffer of n values followed by two guard cells.
    private static float[] Guarded(int n) { var v = new float[n + 2]; v[n] = v[n + 1] = Guard; return v; }

    [Theory, MemberData(nameof(Widths))]
    public void RnnCell_EveryWidthAndHidden_MatchesScalarTwin(SimdWidth width)
    {
        var random = new Random(17);
        foreach (int hidden in Enumerable.Range(1, 256).Where(h => h <= 40 || h % 17 == 0 || h == 256).Append(515))
        {
            int rows = hidden > 100 ? 2 : 3, n = rows * hidden;
            float[] refA = Random(random, n, 4f);
            float[] a = Guarded(n), h = Guarded(n), refH = new float[n];
            refA.CopyTo(a, 0);
            RnnCell.ForwardReference<float>(refA, refH, hidden, 0);
            RnnCell.Forward(a.AsSpan(0, n), h.AsSpan(0, n), hidden, width);
            AssertClose(refA, a.AsSpan(0, n).ToArray(), "a"); AssertClose(refH, h.AsSpan(0, n).ToArray(), "h");
            AssertGuards(a, n, "a"); AssertGuards(h, n, "h");

            float[] dh = Random(random, n, 1f);
            float[] dA = Guarded(n), refDA = new float[n];
            RnnCell.BackwardReference<float>(refH, dh, refDA, hidden, 0);
            RnnCell.Backward(refH, dh, dA.AsSpan(0, n), hidden, width);
            AssertClose(refDA, dA.AsSpan(0, n).ToArray(), "dA");
            AssertGuards(dA, n, "dA");
        }
    }

    private static void AssertGuards(float[] buffer, int n, string what)
    {
        Assert.True(buffer[n] == Guard && buffer[n + 1] == Guard, $"{what}: guard after {n} values overwritten");
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 4 * Tolerances.ActivationAbsolute * (1 + Math.Abs(expected[i])), $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }
}
