// The fused GRU cell kernel at every accelerated width against its scalar definition, with guard cells after
// every output so an out-of-bounds vector store shows up as a changed guard.
using CharRnn.Engine.Layers;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Tests.Numerics;

namespace CharRnn.Engine.Tests.Layers;

public class GruCellTests
{
    private const float Guard = 99f;

    public static TheoryData<SimdWidth> Widths() => GemmTests.Widths();

    private static float[] Random(Random r, int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

    // A buffer of n values followed by two guard cells.
    private static float[] Guarded(int n) { var v = new float[n + 2]; v[n] = v[n + 1] = Guard; return v; }

    [Theory, MemberData(nameof(Widths))]
    public void GruCell_EveryWidthAndHidden_MatchesScalarTwin(SimdWidth width)
    {
        var random = new Random(13);
        foreach (int hidden in Enumerable.Range(1, 256).Where(h => h <= 40 || h % 17 == 0 || h == 256).Append(515))
        {
            int rows = hidden > 100 ? 2 : 3, n = rows * hidden;
            float[] refGates = Random(random, 3 * n, 3f), recurrent = Random(random, 3 * n, 2f), hPrev = Random(random, n, 1f);
            float[] gates = Guarded(3 * n), h = Guarded(n), refH = new float[n];
            refGates.CopyTo(gates, 0);
            GruCell.ForwardReference<float>(refGates, recurrent, hPrev, refH, hidden, 0);
            GruCell.Forward(gates.AsSpan(0, 3 * n), recurrent, hPrev, h.AsSpan(0, n), hidden, width);
            AssertClose(refGates, gates.AsSpan(0, 3 * n).ToArray(), "gates"); AssertClose(refH, h.AsSpan(0, n).ToArray(), "h");
            AssertGuards(gates, 3 * n, "gates"); AssertGuards(h, n, "h");

            float[] dh = Random(random, n, 1f);
            float[] dProjection = Guarded(3 * n), dRecurrent = Guarded(3 * n), dhPrev = Guarded(n);
            float[] refDProjection = new float[3 * n], refDRecurrent = new float[3 * n], refDhPrev = new float[n];
            GruCell.BackwardReference<float>(refGates, recurrent, hPrev, dh, refDProjection, refDRecurrent, refDhPrev, hidden, 0);
            GruCell.Backward(refGates, recurrent, hPrev, dh, dProjection.AsSpan(0, 3 * n), dRecurrent.AsSpan(0, 3 * n), dhPrev.AsSpan(0, n), hidden, width);
            AssertClose(refDProjection, dProjection.AsSpan(0, 3 * n).ToArray(), "dProjection");
            AssertClose(refDRecurrent, dRecurrent.AsSpan(0, 3 * n).ToArray(), "dRecurrent");
            AssertClose(refDhPrev, dhPrev.AsSpan(0, n).ToArray(), "dhPrev");
            AssertGuards(dProjection, 3 * n, "dProjection"); AssertGuards(dRecurrent, 3 * n, "dRecurrent"); AssertGuards(dhPrev, n, "dhPrev");
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
