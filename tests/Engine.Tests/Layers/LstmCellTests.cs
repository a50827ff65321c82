using CharRnn.Engine.Layers;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Tests.Numerics;

namespace CharRnn.Engine.Tests.Layers;

public class LstmCellTests
{
    public static TheoryData<SimdWidth> Widths() => GemmTests.Widths();

    private static float[] Random(Random r, int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();

    [Theory, MemberData(nameof(Widths))]
    public void LstmCell_EveryWidthAndHidden_MatchesScalarTwin(SimdWidth width)
    {
        var random = new Random(11);
        foreach (int hidden in Enumerable.Range(1, 256).Where(h => h <= 40 || h % 17 == 0 || h == 256).Append(515))
        {
            int rows = hidden > 100 ? 2 : 3, n = rows * hidden;
            // Every buffer the cell writes ends in a guard: gates (activated in place) and dc (updated in place) too.
            float[] gates = [.. Random(random, 4 * n, 4f), 99f, 99f], cPrev = Random(random, n, 2f);
            float[] refGates = gates[..(4 * n)], c = new float[n + 3], t = new float[n + 3], h = new float[n + 3];
            float[] refC = new float[n], refT = new float[n], refH = new float[n];
            c[n] = t[n] = h[n] = 99f;
            LstmCell.ForwardReference<float>(refGates, cPrev, refC, refT, refH, hidden, 0);
            LstmCell.Forward(gates.AsSpan(0, 4 * n), cPrev, c.AsSpan(0, n), t.AsSpan(0, n), h.AsSpan(0, n), hidden, width);
            AssertClose(refGates, gates[..(4 * n)], "gates"); Assert.Equal(99f, gates[4 * n]); Assert.Equal(99f, gates[4 * n + 1]); AssertClose(refC, c.AsSpan(0, n).ToArray(), "c"); AssertClose(refH, h.AsSpan(0, n).ToArray(), "h");
            Assert.Equal(99f, c[n]); Assert.Equal(99f, h[n]); Assert.Equal(99f, t[n]);

            float[] dh = Random(random, n, 1f), dc = [.. Random(random, n, 1f), 99f], refDc = dc[..n];
            float[] dGates = new float[4 * n + 2], refDGates = new float[4 * n];
            dGates[4 * n] = 99f;
            LstmCell.BackwardReference<float>(refGates, cPrev, refT, dh, refDc, refDGates, hidden, 0);
            LstmCell.Backward(refGates, cPrev, refT, dh, dc.AsSpan(0, n), dGates.AsSpan(0, 4 * n), hidden, width);
            AssertClose(refDGates, dGates.AsSpan(0, 4 * n).ToArray(), "dGates"); AssertClose(refDc, dc[..n], "dc"); Assert.Equal(99f, dc[n]);
            Assert.Equal(99f, dGates[4 * n]);
        }
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 4 * Tolerances.ActivationAbsolute * (1 + Math.Abs(expected[i])), $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }
}
