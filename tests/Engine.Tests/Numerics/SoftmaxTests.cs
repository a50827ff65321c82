using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Tests.Numerics;

public class SoftmaxTests
{
    public static TheoryData<SimdWidth> Widths() => GemmTests.Widths();

    [Theory, MemberData(nameof(Widths))]
    public void Softmax_EveryWidthAndLength_MatchesDefinition(SimdWidth width)
    {
        var random = new Random(5);
        foreach (int n in Enumerable.Range(1, 256).Concat(new[] { 1001, 4099 }))
        {
            float[] z = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 30 - 10)).ToArray();
            float[] p = Enumerable.Repeat(-3f, n + 4).ToArray();
            float[] expected = new float[n];
            float tau = n % 2 == 0 ? 1f : 1.7f;
            float lse = SoftmaxReference.Row<float>(z, expected, tau);
            float got = Softmax.Row(z, p.AsSpan(0, n), tau, width);
            Assert.True(Math.Abs(got - lse) <= 1e-5f * Math.Max(1f, Math.Abs(lse)), $"n={n} lse {got} vs {lse}");
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(p[i] - expected[i]) <= 1e-6f + 1e-5f * expected[i], $"n={n} i={i}");
            for (int i = n; i < p.Length; i++) Assert.Equal(-3f, p[i]);
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void Softmax_HugeLogits_DoNotOverflow(SimdWidth width)
    {
        float[] z = Enumerable.Range(0, 37).Select(i => 1e4f + i).ToArray();
        float[] p = new float[37];
        Softmax.Row(z, p, 1f, width);
        Assert.All(p, v => Assert.True(float.IsFinite(v)));
        Assert.InRange(p.Sum(), 0.9999f, 1.0001f);
    }
}
