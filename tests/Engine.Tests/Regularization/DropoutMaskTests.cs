// Dropout masks: the SIMD generator against its scalar twin, the statistics that make inverted dropout keep
// expected values, and seeding.
using CharRnn.Engine.Regularization;

namespace CharRnn.Engine.Tests.Regularization;

public class DropoutMaskTests
{
    public static IEnumerable<object[]> Lengths() =>
        Enumerable.Range(0, 257).Concat([1001, 4099, 65_537]).Select(n => new object[] { n });

    [Theory, MemberData(nameof(Lengths))]
    public void VectorFill_EqualsScalarFill_AndLeavesTheSameGeneratorState(int length)
    {
        // Vector256 is emulated where AVX2 is missing, so this runs (and must agree) on every machine.
        var vectorRng = new MaskRng(42);
        var scalarRng = new MaskRng(42);
        float[] vector = new float[length + 8], scalar = new float[length + 8];
        vector.AsSpan(length).Fill(-7f); scalar.AsSpan(length).Fill(-7f); // guard cells: nothing written past the end

        DropoutMask.FillVector(vector.AsSpan(0, length), 0.3f, vectorRng);
        DropoutMask.FillScalar<float>(scalar.AsSpan(0, length), 0.3f, scalarRng);

        Assert.Equal(scalar, vector);
        Assert.Equal(scalarRng.GetState(), vectorRng.GetState());
    }

    [Fact]
    public void DoubleMask_KeepsExactlyTheSameElementsAsFloatMask()
    {
        float[] single = new float[999];
        double[] wide = new double[999];
        DropoutMask.Fill<float>(single, 0.4f, new MaskRng(3));
        DropoutMask.Fill<double>(wide, 0.4f, new MaskRng(3));
        for (int i = 0; i < single.Length; i++) Assert.Equal(single[i] != 0, wide[i] != 0);
        Assert.Equal(1 / (1 - (double)0.4f), wide.Max(), 12); // p is a float: the scale is exact for that float
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(0.25f)]
    [InlineData(0.5f)]
    [InlineData(0.9f)]
    public void Mask_PreservesTheExpectedValue_AndDropsAboutP(float p)
    {
        const int N = 1 << 20;
        float[] mask = new float[N];
        DropoutMask.Fill<float>(mask, p, new MaskRng(11));
        double mean = mask.Average(m => (double)m);
        double dropped = mask.Count(m => m == 0) / (double)N;
        // Each element is 0 or 1/(1-p) with P(keep) = 1-p: variance p/(1-p), so the mean of N has standard
        // deviation sqrt(p/((1-p)N)); 5 of them fail by chance less than once in a million runs.
        double sigma = Math.Sqrt(p / ((1 - p) * (double)N));
        Assert.InRange(mean, 1 - 5 * sigma, 1 + 5 * sigma);
        double dropSigma = Math.Sqrt(p * (1 - p) / N);
        Assert.InRange(dropped, p - 5 * dropSigma, p + 5 * dropSigma);
        Assert.All(mask.Distinct(), v => Assert.True(v == 0f || v == 1f / (1f - p), $"unexpected mask value {v}"));
    }

    [Fact]
    public void ZeroProbability_KeepsEverythingAtOne()
    {
        float[] mask = new float[1000];
        DropoutMask.Fill<float>(mask, 0f, new MaskRng(1));
        Assert.All(mask, v => Assert.Equal(1f, v));
    }

    [Fact]
    public void SameSeed_SameMasks_OtherSeed_OtherMasks()
    {
        float[] a = new float[512], b = new float[512], c = new float[512];
        DropoutMask.Fill<float>(a, 0.5f, new MaskRng(7));
        DropoutMask.Fill<float>(b, 0.5f, new MaskRng(7));
        DropoutMask.Fill<float>(c, 0.5f, new MaskRng(8));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void GeneratorState_RoundTrips()
    {
        var rng = new MaskRng(5);
        float[] skip = new float[77];
        DropoutMask.Fill<float>(skip, 0.5f, rng);
        var restored = new MaskRng(0);
        restored.SetState(rng.GetState());
        float[] a = new float[300], b = new float[300];
        DropoutMask.Fill<float>(a, 0.5f, rng);
        DropoutMask.Fill<float>(b, 0.5f, restored);
        Assert.Equal(a, b);
        Assert.Throws<ArgumentException>(() => restored.SetState(new ulong[16]));
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1f)]
    [InlineData(float.NaN)]
    public void Probability_OutsideZeroToOne_IsRejected(float p) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => DropoutMask.Fill<float>(new float[8], p, new MaskRng(1)));
}
