using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Tests.Numerics;

public class ActivationsTests
{
    public static TheoryData<SimdWidth> Widths() => GemmTests.Widths();

    private static readonly int[] Lengths = Enumerable.Range(0, 257).Concat(new[] { 1001, 4099 }).ToArray();

    /// <summary>The functions' definitions in double.</summary>
    private static double Definition(Activation function, double x) => function switch
    {
        Activation.Exp => Math.Exp(x),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-x)),
        _ => Math.Tanh(x),
    };

    [Theory, MemberData(nameof(Widths))]
    public void Activations_EveryWidthAndLength_MatchTheDefinitionInDouble_AndLeaveGuardsAlone(SimdWidth width)
    {
        // Against the definition in double, not the scalar twin (ApplyReference): the Scalar row runs the twin
        // alone, and would otherwise compare it with itself.
        var random = new Random(3);
        foreach (var function in new[] { Activation.Exp, Activation.Sigmoid, Activation.Tanh })
        {
            foreach (int n in Lengths)
            {
                float[] x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 40 - 20)).ToArray();
                float[] y = Enumerable.Repeat(-7f, n + 5).ToArray();
                Activations.Apply(function, x, y.AsSpan(0, n), width);
                for (int i = 0; i < n; i++)
                {
                    double expected = Definition(function, x[i]);
                    double tolerance = function == Activation.Exp ? Tolerances.ExpRelative * expected : Tolerances.ActivationAbsolute;
                    if (!(Math.Abs(y[i] - expected) <= tolerance)) Assert.Fail($"{function} {width} n={n} x={x[i]}: {y[i]} vs {expected}");
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

    [Theory, MemberData(nameof(Widths))]
    public void TanhAndSigmoid_DenseRange_WithinAbsoluteBudget_AndInsideTheirRanges(SimdWidth width)
    {
        // Every 2e-5 over [-20, 20]: through zero, the whole curved part and past the clamp at 9 (sigmoid: 18).
        int n = 2_000_001;
        float[] x = Enumerable.Range(0, n).Select(i => -20f + 40f * i / (n - 1)).ToArray();
        float[] t = new float[n], s = new float[n], negated = x.Select(v => -v).ToArray(), tn = new float[n];
        Activations.Apply(Activation.Tanh, x, t, width);
        Activations.Apply(Activation.Sigmoid, x, s, width);
        Activations.Apply(Activation.Tanh, negated, tn, width);
        double worstTanh = 0, worstSigmoid = 0;
        for (int i = 0; i < n; i++)
        {
            worstTanh = Math.Max(worstTanh, Math.Abs(t[i] - Math.Tanh(x[i])));
            worstSigmoid = Math.Max(worstSigmoid, Math.Abs(s[i] - 1 / (1 + Math.Exp(-(double)x[i]))));
            // Messages built only on failure: two million interpolated strings per width would dominate the test.
            if (!(t[i] >= -1f && t[i] <= 1f)) Assert.Fail($"tanh({x[i]}) = {t[i]} is outside [-1, 1]");
            if (!(s[i] >= 0f && s[i] <= 1f)) Assert.Fail($"sigmoid({x[i]}) = {s[i]} is outside [0, 1]");
            if (tn[i] != -t[i]) Assert.Fail($"tanh is not odd at {x[i]}: {t[i]} and {tn[i]}");
        }
        Assert.True(worstTanh <= Tolerances.ActivationAbsolute, $"tanh max absolute error {worstTanh}");
        Assert.True(worstSigmoid <= Tolerances.ActivationAbsolute, $"sigmoid max absolute error {worstSigmoid}");

        // Far outside the fitted range (the input clamp at 9 must hold, not only the output clamp), the infinities,
        // both zeros and NaN, each repeated to fill the widest vector so that every width's vector code sees them.
        float[] special = [float.NegativeInfinity, -float.MaxValue, -1e6f, -100f, 0f, -0f, 100f, 1e6f, float.MaxValue, float.PositiveInfinity, float.NaN];
        float[] expectTanh = [-1f, -1f, -1f, -1f, 0f, -0f, 1f, 1f, 1f, 1f, float.NaN];
        float[] expectSigmoid = [0f, 0f, 0f, 0f, 0.5f, 0.5f, 1f, 1f, 1f, 1f, float.NaN];
        const int Copies = 16;
        float[] input = special.SelectMany(v => Enumerable.Repeat(v, Copies)).ToArray();
        float[] ts = new float[input.Length], ss = new float[input.Length];
        Activations.Apply(Activation.Tanh, input, ts, width);
        Activations.Apply(Activation.Sigmoid, input, ss, width);
        for (int i = 0; i < input.Length; i++)
        {
            int k = i / Copies;
            // Bit patterns, so -0 is told from 0 and NaN equals NaN.
            Assert.True(BitConverter.SingleToInt32Bits(ts[i]) == BitConverter.SingleToInt32Bits(expectTanh[k]) || (float.IsNaN(ts[i]) && float.IsNaN(expectTanh[k])),
                $"{width} tanh({input[i]}) = {ts[i]}, expected {expectTanh[k]}");
            Assert.True(ss[i] == expectSigmoid[k] || (float.IsNaN(ss[i]) && float.IsNaN(expectSigmoid[k])),
                $"{width} sigmoid({input[i]}) = {ss[i]}, expected {expectSigmoid[k]}");
        }
    }
}
