using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Tests.Numerics;

public class SoftmaxTests
{
    public static TheoryData<SimdWidth> Widths() => GemmTests.Widths();

    [Theory, MemberData(nameof(Widths))]
    public void Softmax_EveryWidthAndLength_MatchesTheDefinitionInDouble(SimdWidth width)
    {
        var random = new Random(5);
        foreach (int n in Enumerable.Range(1, 256).Concat(new[] { 1001, 4099 }))
        {
            float[] z = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 30 - 10)).ToArray();
            float[] p = Enumerable.Repeat(-3f, n + 4).ToArray();
            // The definition in double, so that the Scalar row (the float reference) is checked as well.
            double[] expected = new double[n];
            float tau = n % 2 == 0 ? 1f : 1.7f;
            double lse = SoftmaxReference.Row<double>(z.Select(v => (double)v).ToArray(), expected, tau);
            float got = Softmax.Row(z, p.AsSpan(0, n), tau, width);
            Assert.True(Math.Abs(got - lse) <= Tolerances.SoftmaxRelative * Math.Max(1f, Math.Abs(lse)), $"n={n} lse {got} vs {lse}");
            // Relative for every entry, the smallest included (down to e^-68 here, still a normal float).
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(p[i] - expected[i]) <= Tolerances.SoftmaxRelative * expected[i], $"n={n} i={i} p {p[i]} vs {expected[i]}");
            for (int i = n; i < p.Length; i++) Assert.Equal(-3f, p[i]);
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void Softmax_EmptyRow_Throws(SimdWidth width)
    {
        // A distribution over nothing has no normaliser: length 0 is an error at every width, not a NaN.
        Assert.Throws<ArgumentException>(() => Softmax.Row([], new float[4], 1f, width));
        Assert.Throws<ArgumentException>(() => Softmax.Row(new float[5], new float[4], 1f, width));
    }

    [Theory, MemberData(nameof(Widths))]
    public void Softmax_HugeLogits_DoNotOverflow(SimdWidth width)
    {
        float[] z = Enumerable.Range(0, 37).Select(i => 1e4f + i).ToArray();
        float[] p = new float[37];
        Softmax.Row(z, p, 1f, width);
        Assert.All(p, v => Assert.True(float.IsFinite(v)));
        Assert.InRange(p.Sum(), 1 - Tolerances.SoftmaxRelative, 1 + Tolerances.SoftmaxRelative);
    }
}
