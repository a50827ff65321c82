using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Tests.Numerics;

public class ActivationsTests
{
    public static TheoryData<SimdWidth> Widths() => GemmTests.Widths();

    private static readonly int[] Lengths = Enumerable.Range(0, 257).Concat(new[] { 1001, 4099 }).ToArray();

    [Theory, MemberData(nameof(Widths))]
    public void Activations_EveryWidthAndLength_MatchScalarTwin_AndLeaveGuardsAlone(SimdWidth width)
    {
        var random = new Random(3);
        foreach (var function in new[] { Activation.Exp, Activation.Sigmoid, Activation.Tanh })
        {
            foreach (int n in Lengths)
            {
                float[] x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 40 - 20)).ToArray();
                float[] y = Enumerable.Repeat(-7f, n + 5).ToArray();
                float[] expected = new float[n];
                Activations.ApplyReference(function, x, expected);
                Activations.Apply(function, x, y.AsSpan(0, n), width);
                for (int i = 0; i < n; i++)
                {
                    float tolerance = function == Activation.Exp ? Tolerances.ExpRelative * Math.Abs(expected[i]) : Tolerances.ActivationAbsolute;
                    Assert.True(Math.Abs(y[i] - expected[i]) <= tolerance, $"{function} {width} n={n} x={x[i]}: {y[i]} vs {expected[i]}");
                }
                for (int i = n; i < y.Length; i++) Assert.Equal(-7f, y[i]);
            }
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void Exp_FullRange_WithinTwoUlpBudget_AndSaturates(SimdWidth width)
    {
        int n = 200_001;
        float[] x = Enumerable.Range(0, n).Select(i => -87f + 175f * i / (n - 1)).ToArray();
        float[] y = new float[n];
        Activations.Apply(Activation.Exp, x, y, width);
        double worst = 0;
        for (int i = 0; i < n; i++) worst = Math.Max(worst, Math.Abs(y[i] - Math.Exp(x[i])) / Math.Exp(x[i]));
        Assert.True(worst <= Tolerances.ExpRelative, $"max relative error {worst}");
        float[] extremes = [-1000f, -100f, 100f, 1000f, 0f];
        float[] s = new float[5], t = new float[5];
        Activations.Apply(Activation.Sigmoid, extremes, s, width);
        Activations.Apply(Activation.Tanh, extremes, t, width);
        Assert.All(s.Concat(t), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1f, s[3]); Assert.Equal(-1f, t[0]); Assert.Equal(1f, t[3]); Assert.Equal(0.5f, s[4]);
    }
}
