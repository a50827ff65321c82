// The 8-bit product (Int8Matrix, Int8Product): every width, the scalar twin included, gives exactly the bits of the
// definition written in the test, since the sums are exact integers, over all column counts and depths 0..256 and
// odd large shapes; the result stays within the quantization bound of the float product; and the weights' and
// activations' rounding are checked alone, including the extreme inputs that would overflow 32-bit sums without
// the activation limit.
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Tests.Numerics;

public class Int8ProductTests
{
    public static TheoryData<SimdWidth> Widths() => GemmTests.Widths();

    private const float Guard = 12345.5f;

    /// <summary>The product's largest error relative to sum |x||w|: without 8-bit rounding only float
    /// rounding would remain, a few 2^-24 of that sum (Tolerances.Int8BeyondQuantizationRelative), so an error
    /// above 1e-6 somewhere shows the rounding really happened (measured: 1.0e-3).</summary>
    private const double QuantizationVisibleRelative = 1e-6;

    /// <summary>A dequantised weight against its float weight, relative to its column's largest |w|: the scale is
    /// largest / 127 rounded once (then divided and multiplied by ActivationScale, a power of two: exact), and
    /// 127 * scale, the extreme's value, rounds once more: half an ulp each, 1.2e-7 at most together (measured
    /// 6e-8). 1e-6 is 8 to 17 ulp. The scale itself comes out as the test's own division, bit for bit; the shared
    /// bound is loose there, yet far below the 1/127 by which a wrong weight limit would move it.</summary>
    private const float DequantizedRelativeToLargest = 1e-6f;

    /// <summary>How far beyond half a step (in steps) a dequantised weight may lie: w / scale and q * scale each
    /// round to float, half an ulp of a value up to 127 steps, 127 * 2^-24 = 7.6e-6 steps each (the difference
    /// of the two floats is exact); 2e-5 holds both.</summary>
    private const double DequantizedBeyondHalfStep = 2e-5;

    private static float[] Random(int count, int seed)
    {
        var r = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float)(r.NextDouble() * 2 - 1);
        return v;
    }

    /// <summary>B = W^T quantized from W (n, k), whose rows are given k + 3 apart with NaN between (never read).</summary>
    private static Int8Matrix Quantized(float[] w, int k, int n)
    {
        int ldw = k + 3;
        float[] strided = new float[n * ldw];
        Array.Fill(strided, float.NaN);
        for (int j = 0; j < n; j++) w.AsSpan(j * k, k).CopyTo(strided.AsSpan(j * ldw));
        var b = new Int8Matrix(k, n);
        b.PackTransposed(strided, ldw);
        return b;
    }

    /// <summary>
    /// The definition, written from the public surface alone rather than by running the scalar twin (which the Scalar
    /// row runs, and would otherwise compare with itself): each input times ActivationScale (a power of two: exact),
    /// clamped to ±ActivationLimit and rounded to nearest even; each weight's integer read back through the indexer,
    /// B[p, j] / ColumnScale(j) (q * scale rounded once: q to within 2^-24 relative); the sum over p in 64-bit
    /// integers (exact); then (float)sum * (ColumnScale(j) / ActivationScale) [+ C], the same two float roundings the
    /// kernels make, so the bits are determined.
    /// </summary>
    private static void Definition(float[] a, int lda, Int8Matrix b, float[] c, int ldc, int m, bool accumulate)
    {
        int k = b.K, n = b.N;
        var qw = new long[k * n];
        for (int j = 0; j < n; j++)
        {
            float scale = b.ColumnScale(j);
            for (int p = 0; p < k; p++) qw[p * n + j] = scale == 0 ? 0 : (long)MathF.Round(b[p, j] / scale);
        }
        var qx = new long[k];
        for (int i = 0; i < m; i++)
        {
            for (int p = 0; p < k; p++) qx[p] = (long)MathF.Round(Math.Clamp(a[i * lda + p] * b.ActivationScale, -b.ActivationLimit, b.ActivationLimit), MidpointRounding.ToEven);
            for (int j = 0; j < n; j++)
            {
                long sum = 0;
                for (int p = 0; p < k; p++) sum += qx[p] * qw[p * n + j];
                float value = (float)sum * (b.ColumnScale(j) / b.ActivationScale);
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + value : value;
            }
        }
    }

    /// <summary>A (m, k) rows k + 2 apart and C (m, n) rows n + 3 apart, guard cells around both products.</summary>
    private static void CheckAgainstDefinition(SimdWidth width, int m, int n, int k, bool accumulate)
    {
        var b = Quantized(Random(n * k, 31 * n + k), k, n);
        int lda = k + 2, ldc = n + 3;
        float[] a = Random(m * lda, 7 * k + m);
        float[] c = Random(m * ldc + 5, m + n);
        for (int i = 0; i < c.Length; i++) if (i / ldc >= m || i % ldc >= n) c[i] = Guard;
        float[] expected = (float[])c.Clone();
        Definition(a, lda, b, expected, ldc, m, accumulate);
        Int8Product.Multiply(a, lda, b, c, ldc, m, accumulate, width);
        Assert.Equal(expected, c);
        for (int i = 0; i < c.Length; i++) if (i / ldc >= m || i % ldc >= n) Assert.Equal(Guard, c[i]);
    }

    [Theory, MemberData(nameof(Widths))]
    public void EveryColumnCount_0To256_GivesTheDefinitionsBits(SimdWidth width)
    {
        for (int n = 0; n <= 256; n++) CheckAgainstDefinition(width, m: 2, n, k: 37, accumulate: n % 2 == 0);
    }

    [Theory, MemberData(nameof(Widths))]
    public void EveryDepth_0To256_GivesTheDefinitionsBits(SimdWidth width)
    {
        for (int k = 0; k <= 256; k++) CheckAgainstDefinition(width, m: 1, n: 73, k, accumulate: k % 2 == 1); // 5 panels: four together, one alone
    }

    [Theory, MemberData(nameof(Widths))]
    public void OddLargeShapes_GiveTheDefinitionsBits(SimdWidth width)
    {
        CheckAgainstDefinition(width, m: 3, n: 1001, k: 1031, accumulate: true); // past k = 516: a smaller activation limit
        CheckAgainstDefinition(width, m: 2, n: 77, k: 2001, accumulate: false);   // past k = 1032: a smaller activation scale
        CheckAgainstDefinition(width, m: 1, n: 2047, k: 515, accumulate: false);
        CheckAgainstDefinition(width, m: 2, n: 73, k: 513, accumulate: true);
    }

    [Theory, MemberData(nameof(Widths))]
    public void Product_IsWithinTheQuantizationBoundOfTheFloatProduct(SimdWidth width)
    {
        const int M = 3, K = 300, N = 77;
        float[] w = Random(N * K, 5);
        for (int j = 0; j < N; j++) for (int p = 0; p < K; p++) w[j * K + p] *= MathF.Pow(10, j % 5 - 2); // columns 1e-2..1e2: each needs its own scale
        var b = Quantized(w, K, N);
        float[] a = Random(M * K, 6);
        float[] c = new float[M * N];
        Int8Product.Multiply(a, K, b, c, N, M, accumulate: false, width);
        double stepX = 0.5 / b.ActivationScale, largestRelative = 0;
        for (int i = 0; i < M; i++)
        {
            for (int j = 0; j < N; j++)
            {
                double exact = 0, magnitude = 0, bound = 0;
                for (int p = 0; p < K; p++)
                {
                    double x = a[i * K + p], wp = w[j * K + p];
                    exact += x * wp;
                    magnitude += Math.Abs(x * wp);
                    bound += (Math.Abs(x) + stepX) * b.ColumnScale(j) / 2 + Math.Abs(wp) * stepX;
                }
                double error = Math.Abs(c[i * N + j] - exact);
                Assert.True(error <= bound + Tolerances.Int8BeyondQuantizationRelative * magnitude, $"C[{i}, {j}] = {c[i * N + j]}, exact {exact}, error {error} > bound {bound}");
                largestRelative = Math.Max(largestRelative, error / magnitude);
            }
        }
        // The rounding really happened. That it cost little is the bound above, checked entry by entry: at most
        // 8.7e-3 of sum |x||w| here.
        Assert.True(largestRelative > QuantizationVisibleRelative, $"largest error {largestRelative:E2} of sum |x||w|: no sign of 8-bit rounding");
    }

    [Fact]
    public void Quantization_KeepsEachWeightWithinHalfItsColumnsStep()
    {
        const int K = 9, N = 20;
        float[] w = Random(N * K, 8);
        for (int j = 0; j < N; j++) for (int p = 0; p < K; p++) w[j * K + p] *= j + 1;
        w.AsSpan(5 * K, K).Clear(); // an all-zero column: scale 0, no division by it
        var b = Quantized(w, K, N);
        for (int j = 0; j < N; j++)
        {
            float largest = 0;
            for (int p = 0; p < K; p++) largest = Math.Max(largest, Math.Abs(w[j * K + p]));
            Assert.Equal(largest / Int8Matrix.WeightLimit, b.ColumnScale(j), DequantizedRelativeToLargest * largest);
            for (int p = 0; p < K; p++)
            {
                float original = w[j * K + p];
                Assert.True(Math.Abs(b[p, j] - original) <= b.ColumnScale(j) * (0.5 + DequantizedBeyondHalfStep), $"B[{p}, {j}] = {b[p, j]} for {original}");
                if (Math.Abs(original) == largest && largest > 0) Assert.Equal(original, b[p, j], DequantizedRelativeToLargest * largest); // the extreme maps to ±127 exactly
            }
        }
        Assert.Equal(0f, b.ColumnScale(5));
        Assert.Throws<ArgumentException>(() => Quantized([1f, float.NaN, 2f, 3f], 2, 2));
        Assert.Throws<ArgumentException>(() => new Int8Matrix(4, 2).PackTransposed(new float[7], 4)); // W too short
    }

    [Theory]
    [InlineData(1, 32767, 16384)]
    [InlineData(512, 32767, 16384)]
    [InlineData(516, 32767, 16384)]
    [InlineData(518, 32643, 16384)]   // (2^31 - 1) / (127 * 518): the limit starts to shrink
    [InlineData(1031, 16385, 16384)]
    [InlineData(2000, 8454, 8192)]
    [InlineData(Int8Matrix.MaxK, 258, 256)] // the most rows: an input of 1 still keeps 8 bits
    public void ActivationScale_LeavesRoomInThe32BitSums(int k, int limit, int scale)
    {
        var b = new Int8Matrix(k, 1);
        Assert.Equal(limit, b.ActivationLimit);
        Assert.Equal(scale, b.ActivationScale);
        Assert.True((long)Int8Matrix.WeightLimit * b.ActivationLimit * 2 * b.Pairs <= int.MaxValue);
    }

    [Theory, MemberData(nameof(Widths))]
    public void ExtremeInputs_SaturateAndNeverOverflow(SimdWidth width)
    {
        foreach (int k in new[] { 515, 1031, 4001 })
        {
            const int N = 19;
            float[] w = new float[N * k];
            for (int j = 0; j < N; j++) for (int p = 0; p < k; p++) w[j * k + p] = j % 2 == 0 ? 1f : -1f; // every q = ±127
            var b = Quantized(w, k, N);
            foreach (float x in new[] { 1e6f, -1e6f })
            {
                float[] a = Enumerable.Repeat(x, k).ToArray();
                float[] c = new float[N];
                Int8Product.Multiply(a, k, b, c, N, 1, accumulate: false, width);
                for (int j = 0; j < N; j++)
                {
                    long sum = (long)k * (j % 2 == 0 ? 127 : -127) * Math.Sign(x) * b.ActivationLimit;
                    Assert.Equal((float)sum * (b.ColumnScale(j) / b.ActivationScale), c[j]);
                }
            }
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void ActivationRounding_IsToNearestEven_AndClamped(SimdWidth width)
    {
        const float Scale = 16384, Step = 1 / Scale;
        // x * 16384 = 0.5, 1.5, 2.5, -0.5, -1.5, 3.25, huge, -huge, then ordinary values; 37 in all (a vector part and a tail)
        float[] x = new float[37];
        float[] special = [0.5f * Step, 1.5f * Step, 2.5f * Step, -0.5f * Step, -1.5f * Step, 3.25f * Step, 5f, -5f];
        special.CopyTo(x, 0);
        for (int i = special.Length; i < x.Length; i++) x[i] = (i - 20) * 0.037f;
        short[] q = new short[40];
        Array.Fill(q, (short)999);
        Int8Product.QuantizeRow(x, Scale, 32767, q, width);
        Assert.Equal(new short[] { 0, 2, 2, 0, -2, 3, 32767, -32767 }, q[..8]);
        for (int i = special.Length; i < x.Length; i++) Assert.Equal((short)MathF.Round(x[i] * Scale), q[i]);
        Assert.Equal(new short[] { 0, 0, 0 }, q[37..]); // padding up to the pair boundary and beyond is cleared
    }

    [Theory, MemberData(nameof(Widths))]
    public void NaNBecomesZero_AndInfinitiesSaturate_TheSameAtEveryWidth(SimdWidth width)
    {
        float[] x = new float[35];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 4) switch { 0 => float.NaN, 1 => float.PositiveInfinity, 2 => float.NegativeInfinity, _ => 0.25f };
        short[] q = new short[36];
        Int8Product.QuantizeRow(x, 16384, 32767, q, width);
        for (int i = 0; i < x.Length; i++) Assert.Equal((i % 4) switch { 0 => (short)0, 1 => (short)32767, 2 => (short)-32767, _ => (short)4096 }, q[i]);
    }

    [Fact]
    public void BadArguments_AreRejected()
    {
        var b = new Int8Matrix(4, 3);
        Assert.Throws<ArgumentException>(() => Int8Product.Multiply(new float[7], 4, b, new float[6], 3, 2, false));  // A short
        Assert.Throws<ArgumentException>(() => Int8Product.Multiply(new float[8], 4, b, new float[5], 3, 2, false));  // C short
        Assert.Throws<ArgumentException>(() => Int8Product.Multiply(new float[8], 3, b, new float[6], 3, 2, false));  // lda < k
        Assert.Throws<ArgumentOutOfRangeException>(() => Int8Product.Multiply(new float[8], 4, b, new float[6], 3, -1, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Int8Matrix(Int8Matrix.MaxK + 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Int8Matrix(4, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Int8Matrix(Int8Matrix.MaxK, 1 << 20)); // 64 GiB of panels: refused, not wrapped
        Assert.Throws<ArgumentOutOfRangeException>(() => b[4, 0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => b[0, 3]);
        Assert.Throws<ArgumentNullException>(() => Int8Product.Multiply(new float[8], 4, null!, new float[6], 3, 2, false));
    }
}
