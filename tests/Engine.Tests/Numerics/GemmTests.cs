using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Tests.Numerics;

public class GemmTests
{
    public static TheoryData<SimdWidth> Widths() { var d = new TheoryData<SimdWidth>(); foreach (var w in Simd.Accelerated) d.Add(w); return d; }

    private const float Guard = 12345.5f;

    private static float[] Random(int n, int seed)
    {
        var r = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(r.NextDouble() * 2 - 1);
        return v;
    }

    private static void Check(SimdWidth width, int m, int n, int k, bool transposedA, bool accumulate)
    {
        CheckOne(width, m, n, k, transposedA, accumulate, packed: false);
        CheckOne(width, m, n, k, transposedA, accumulate, packed: true);
        if (!transposedA) CheckOne(width, m, n, k, transposedA, accumulate, packed: false, transposedB: true);
    }

    /// <summary>transposedB: B given as W (n, k), rows k + 2 apart (a stride wider than a row), through MultiplyByTransposed.</summary>
    private static void CheckOne(SimdWidth width, int m, int n, int k, bool transposedA, bool accumulate, bool packed, bool transposedB = false)
    {
        float[] a = Random(m * k, m * 7 + k), b = Random(k * n, n * 13 + k);
        int ldc = n + 3; // a wider C: the columns between rows are guard cells too
        float[] c = Random(m * ldc + 8, m + n);
        for (int i = 0; i < m; i++) for (int j = n; j < ldc; j++) c[i * ldc + j] = Guard;
        for (int i = m * ldc; i < c.Length; i++) c[i] = Guard;
        float[] expected = (float[])c.Clone();
        int rs = transposedA ? 1 : k, cs = transposedA ? m : 1;
        GemmReference.Multiply<float>(a, rs, cs, b, n, expected, ldc, m, n, k, accumulate);
        if (transposedB)
        {
            int ldw = k + 2;
            float[] w = new float[n * ldw];
            Array.Fill(w, float.NaN); // the gap between W's rows must never be read
            for (int j = 0; j < n; j++) for (int p = 0; p < k; p++) w[j * ldw + p] = b[p * n + j];
            Gemm.MultiplyByTransposed(a, k, w, ldw, c, ldc, m, n, k, accumulate, width);
        }
        else if (packed)
        {
            var panels = new PackedMatrix(k, n, width);
            panels.Pack(b, n);
            Gemm.Multiply(a, rs, cs, panels, c, ldc, m, accumulate);
        }
        else
        {
            Gemm.Multiply(a, rs, cs, b, n, c, ldc, m, n, k, accumulate, width);
        }
        for (int i = 0; i < c.Length; i++)
        {
            int row = i / ldc, col = i % ldc;
            if (row >= m || col >= n) { Assert.Equal(Guard, c[i]); continue; }
            double magnitude = k + (accumulate ? 1 : 0); // |a|,|b|,|c| <= 1
            Assert.True(Math.Abs(c[i] - expected[i]) <= Tolerances.GemmRelativeToMagnitude * magnitude + Tolerances.GemmAbsoluteFloor,
                $"{width} packed={packed} transposedB={transposedB} m={m} n={n} k={k} tA={transposedA} acc={accumulate} at ({row},{col}): {c[i]} vs {expected[i]}");
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void Gemm_EveryWidth_MatchesScalarDefinition_AllSmallShapes(SimdWidth width)
    {
        foreach (int n in new[] { 0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65 })
            foreach (int m in new[] { 0, 1, 3, 4, 5, 7, 8, 9, 13, 25, 32 }) // every tile height 3..6 and their mixes
                foreach (int k in new[] { 0, 1, 2, 7, 33 })
                {
                    Check(width, m, n, k, transposedA: false, accumulate: false);
                    Check(width, m, n, k, transposedA: true, accumulate: true);
                }
    }

    [Theory, MemberData(nameof(Widths))]
    public void Gemm_EveryWidth_MatchesScalarDefinition_ColumnCounts0To256(SimdWidth width)
    {
        for (int n = 0; n <= 256; n++) Check(width, 5, n, 3, transposedA: n % 2 == 0, accumulate: n % 3 == 0);
    }

    [Theory, MemberData(nameof(Widths))]
    public void Gemm_OneAndTwoRows_MatchScalarDefinition_ColumnCounts0To256(SimdWidth width)
    {
        // One or two rows take the streaming kernels (row by row over plain B, panel by panel over packed B, dot
        // products over W), not the tiles the sweep above exercises: every column count through all three.
        for (int n = 0; n <= 256; n++)
        {
            Check(width, 1, n, 3, transposedA: false, accumulate: n % 2 == 0);
            Check(width, 2, n, 5, transposedA: n % 3 == 0, accumulate: n % 2 == 1);
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void Gemm_EveryWidth_MatchesScalarDefinition_Depths0To256(SimdWidth width)
    {
        // Every k: the unrolled loop's remainder steps (k mod 8), the streaming kernels and a 5-row tile.
        for (int k = 0; k <= 256; k++)
        {
            Check(width, 1, 37, k, transposedA: false, accumulate: k % 2 == 0);
            Check(width, 2, 37, k, transposedA: k % 3 == 0, accumulate: k % 2 == 1);
            Check(width, 5, 37, k, transposedA: k % 2 == 0, accumulate: k % 3 == 0);
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void Gemm_EveryWidth_MatchesScalarDefinition_LargeOddShapes(SimdWidth width)
    {
        Check(width, 67, 133, Gemm.BlockDepth + 5, transposedA: false, accumulate: true); // k past one block: exercises k-blocking
        Check(width, 131, 75, 301, transposedA: true, accumulate: false);
        Check(width, 1, 1031, 129, transposedA: false, accumulate: false); // batch-1 sampling shape
        Check(width, 2, 517, 67, transposedA: true, accumulate: true);     // the last streamed row count
        Check(width, 3, 301, Gemm.BlockDepth + 1, transposedA: false, accumulate: true); // the first tiled one, k over two blocks
        Check(width, 97, 2049, 259, transposedA: false, accumulate: true); // past one row block and one column block
        Check(width, 98, 35, 19, transposedA: true, accumulate: false);    // a 2-row tile after a full row block
    }

    /// <summary>
    /// The row sums a weight gradient's product adds for the bias (while packing Aᵀ, or in a pass of their own for
    /// other layouts) must be the sums a separate pass gives, term by term in k order, bit for bit, and must not
    /// change the product: shapes past one row block, past one k block, past one column block (Aᵀ is packed
    /// again for every column block, but summed once), the streamed row counts, and k = 0.
    /// </summary>
    [Theory, MemberData(nameof(Widths))]
    public void Multiply_WithRowSumsOfA_AddsEachRowInKOrder_AndLeavesTheProductUnchanged(SimdWidth width)
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (2, 9, 17), (5, 3, 7), (25, 128, 1250), (97, 33, Gemm.BlockDepth + 519), (13, 1031, 40), (7, 5, 0), (0, 4, 3) })
            foreach (bool transposedA in new[] { true, false })
            {
                float[] a = Random(m * k, m + 3 * k), b = Random(k * n, n + k);
                int rs = transposedA ? 1 : k, cs = transposedA ? m : 1;
                float[] start = Random(m, m + 1), sums = (float[])start.Clone(), expectedSums = (float[])start.Clone();
                for (int p = 0; p < k; p++)
                    for (int i = 0; i < m; i++) expectedSums[i] += a[i * rs + p * cs];
                float[] c = Random(m * n, n), expected = (float[])c.Clone();
                Gemm.Multiply(a, rs, cs, b, n, expected, n, m, n, k, accumulate: true, width);
                Gemm.Multiply(a, rs, cs, b, n, c, n, m, n, k, accumulate: true, width, sums);
                Assert.True(expectedSums.AsSpan().SequenceEqual(sums), $"{width} m={m} n={n} k={k} transposedA={transposedA}: row sums differ");
                Assert.Equal(expected, c);
            }
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[6], 1, 2, new float[6], 2, new float[4], 2, 2, 2, 3, false, width, new float[3]));
    }

    [Theory, MemberData(nameof(Widths))]
    public void PackTransposed_OfW_EqualsPackOfWTransposed(SimdWidth width)
    {
        foreach (var (n, k) in new[] { (0, 3), (3, 0), (1, 1), (17, 5), (33, 70), (73, 129) })
        {
            float[] w = Random(n * k, n + k); // (n, k): a weight (out, in)
            float[] wT = new float[k * n];
            for (int j = 0; j < n; j++) for (int p = 0; p < k; p++) wT[p * n + j] = w[j * k + p];
            var direct = new PackedMatrix(k, n, width);
            var viaTranspose = new PackedMatrix(k, n, width);
            direct.PackTransposed(w, k);
            viaTranspose.Pack(wT, n);
            for (int p = 0; p < k; p++) for (int j = 0; j < n; j++) Assert.Equal(viaTranspose[p, j], direct[p, j]);
            for (int p = 0; p < k; p++) for (int j = 0; j < n; j++) Assert.Equal(wT[p * n + j], direct[p, j]);
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void Gemm_BFloat16Panels_EqualTheProductWithRoundedB(SimdWidth width)
    {
        // Column counts 0..256 at one k, the listed shapes at several, and an odd large sampling shape.
        var shapes = Enumerable.Range(0, 257).Select(n => (m: 1 + n % 3, n, k: 7))
            .Concat(from m in new[] { 1, 2, 3, 7 } from n in new[] { 1, 15, 16, 17, 33, 73 } from k in new[] { 0, 1, 5, 33, 129 } select (m, n, k))
            .Append((m: 1, n: 1031, k: 515)).Append((m: 2, n: 517, k: 131));
        foreach (var (m, n, k) in shapes)
        {
            float[] a = Random(m * k, m + k), b = Random(k * n, n + k);
            float[] rounded = b.Select(BFloat16.Round).ToArray();
            float[] expected = Random(m * n, 3), c = (float[])expected.Clone();
            GemmReference.Multiply<float>(a, k, 1, rounded, n, expected, n, m, n, k, accumulate: true);
            var panels = new PackedMatrix(k, n, width, bfloat16: true);
            panels.Pack(b, n);
            Gemm.Multiply(a, k, 1, panels, c, n, m, accumulate: true);
            for (int i = 0; i < c.Length; i++)
                Assert.True(Math.Abs(c[i] - expected[i]) <= Tolerances.GemmRelativeToMagnitude * (k + 1) + Tolerances.GemmAbsoluteFloor, $"{width} m={m} n={n} k={k} at {i}: {c[i]} vs {expected[i]}");
            if (m > 2 || width == SimdWidth.Scalar) continue;
            // One or two rows take the same streaming kernel for bf16 and float panels, so bf16 panels must
            // give exactly what float panels holding the rounded B give (this pins the bf16 lane order).
            float[] viaFloat = Random(m * n, 3);
            var roundedPanels = new PackedMatrix(k, n, width);
            roundedPanels.Pack(rounded, n);
            Gemm.Multiply(a, k, 1, roundedPanels, viaFloat, n, m, accumulate: true);
            Assert.Equal(viaFloat, c);
        }
    }

    [Fact]
    public void BFloat16_RoundsToNearestEven_AndWidensExactly()
    {
        Assert.Equal(1f, BFloat16.Round(1f));
        Assert.Equal(-2.5f, BFloat16.Round(-2.5f));
        float ulp = MathF.Pow(2, -7); // bf16 spacing just above 1
        Assert.Equal(1f, BFloat16.Round(1f + ulp / 2));                   // a tie rounds to the even mantissa (1.0)
        Assert.Equal(1f + 2 * ulp, BFloat16.Round(1f + 3 * ulp / 2));     // and here to 1 + 2 ulp
        Assert.Equal(1f + ulp, BFloat16.Round(1f + ulp / 2 + ulp / 64));  // just past the tie rounds up
        Assert.Equal(-1f, BFloat16.Round(-1f - ulp / 2));                 // ties to even for negatives too
        Assert.Equal(float.PositiveInfinity, BFloat16.Round(float.MaxValue)); // past bf16's largest finite value
        foreach (ushort h in new ushort[] { 0x0000, 0x8000, 0x3F80, 0x4049, 0xC2F7, 0x7F7F, 0x0001 })
            Assert.Equal((uint)h << 16, BitConverter.SingleToUInt32Bits(BFloat16.ToSingle(h))); // widening is a pure shift
        var random = new Random(5);
        for (int i = 0; i < 10_000; i++)
        {
            float x = (float)(random.NextDouble() * 20 - 10);
            float r = BFloat16.Round(x);
            Assert.Equal(r, BFloat16.Round(r));                                          // bf16 values are fixed points
            Assert.True(Math.Abs(r - x) <= Math.Abs(x) * MathF.Pow(2, -8) * 1.0001f, $"{x} -> {r}"); // half a bf16 ulp
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void MultiplyByTransposed_OneOrTwoRows_EqualsThePanelProductBitForBit(SimdWidth width)
    {
        // One or two rows read W in place in PanelStreaming's summation order: the sampler's split weights are
        // panels and evaluation's are not, and their logits must agree to the bit.
        foreach (int m in new[] { 1, 2 })
            foreach (int k in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 257, 515 })
                foreach (bool accumulate in new[] { false, true })
                {
                    int n = 37;
                    float[] a = Random(m * k, k), w = Random(n * k, k + 1);
                    float[] viaPanels = Random(m * n, k + 2), inPlace = (float[])viaPanels.Clone();
                    var panels = new PackedMatrix(k, n, width);
                    panels.PackTransposed(w, k);
                    Gemm.Multiply(a, k, 1, panels, viaPanels, n, m, accumulate);
                    Gemm.MultiplyByTransposed(a, k, w, k, inPlace, n, m, n, k, accumulate, width);
                    Assert.Equal(viaPanels, inPlace);
                }
    }

    [Fact]
    public void MultiplyByTransposed_ShortOrNarrowW_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.MultiplyByTransposed(new float[6], 3, new float[6], 2, new float[4], 2, 2, 2, 3, false, Simd.Best)); // ldw < k
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyByTransposed(new float[6], 3, new float[5], 3, new float[4], 2, 2, 2, 3, false, Simd.Best));       // W too short
    }

    /// <summary>
    /// Every tiled product sums each element's k terms one multiply-add at a time, in k order, within each
    /// block of Gemm.BlockDepth steps, then adds the block's sum to C: the micro-kernel's eight-step loop and its one-step tail
    /// must not reorder a single term (the trainer's bit-identity across thread splits rests on this order).
    /// Bit-exact against that order for every tile height (one or two rows with unit column stride stream B in
    /// another order by design, so height 2 comes through Aᵀ and height 1 from the last row block of m = 97),
    /// both A layouts, B plain, packed and given as Wᵀ, and k on both sides of the unrolled loop's multiples of 8
    /// and of the block.
    /// </summary>
    [Theory, MemberData(nameof(Widths))]
    public void TiledProducts_SumEveryTermInKOrder_BitExact(SimdWidth width)
    {
        if (width == SimdWidth.Scalar) return; // GemmReference defines the scalar path's own order
        int n = 2 * Gemm.PanelWidthFor(width) + 3; // two full panels and a partial one (the scratch-tile path)
        foreach (int k in new[] { 1, 2, 7, 8, 9, 15, 16, 17, Gemm.BlockDepth - 1, Gemm.BlockDepth, Gemm.BlockDepth + 1, Gemm.BlockDepth + 7 })
        foreach (int m in new[] { 2, 3, 5, 6, 7, 12, 13, 97 })
        foreach (bool transposedA in new[] { false, true })
        foreach (string form in new[] { "plain", "packed", "transposedB" })
        foreach (bool accumulate in new[] { false, true })
        {
            if (!transposedA && m <= 2) continue; // streams
            if (transposedA && form == "transposedB") continue; // MultiplyByTransposed takes a row-major A only
            AssertKOrderBitExact(width, m, n, k, transposedA, form, accumulate);
        }
    }

    /// <summary>
    /// The same order where a row-major A is copied into panels first: its block must hold over 4,096 values and
    /// feed at least 16 B panels. Row counts whose tiles are 6, 5 and 4 rows high (18: 6 6 6; 25: 5 x 5; 19: 5 5
    /// 5 4; 32: 6 6 5 5 5 5), k with and without a multiple of the four steps the packing copies at once.
    /// </summary>
    [Theory, MemberData(nameof(Widths))]
    public void TiledProducts_WithRowMajorAPacked_SumEveryTermInKOrder_BitExact(SimdWidth width)
    {
        if (width == SimdWidth.Scalar) return;
        int n = 16 * Gemm.PanelWidthFor(width) + 3;
        foreach (int k in new[] { Gemm.BlockDepth - 3, Gemm.BlockDepth - 2, Gemm.BlockDepth - 1, Gemm.BlockDepth, Gemm.BlockDepth + 7 })
        foreach (int m in new[] { 18, 19, 25, 32 })
        foreach (string form in new[] { "plain", "packed", "transposedB" })
            AssertKOrderBitExact(width, m, n, k, transposedA: false, form, accumulate: true);
    }

    private static void AssertKOrderBitExact(SimdWidth width, int m, int n, int k, bool transposedA, string form, bool accumulate)
    {
        const int blockDepth = Gemm.BlockDepth; // KC
        float[] a = Random(m * k, 31 * m + k), b = Random(k * n, 17 * n + k), c = Random(m * n, m + 3 * k);
        int rs = transposedA ? 1 : k, cs = transposedA ? m : 1;
        var expected = new float[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float value = c[i * n + j];
                bool hasValue = accumulate;
                for (int first = 0; first < k; first += blockDepth)
                {
                    float sum = 0f;
                    for (int p = first; p < Math.Min(first + blockDepth, k); p++)
                    {
                        float x = a[i * rs + p * cs], y = b[p * n + j];
                        sum = Simd.HasFusedMultiplyAdd ? MathF.FusedMultiplyAdd(x, y, sum) : x * y + sum;
                    }
                    value = hasValue ? sum + value : sum;
                    hasValue = true;
                }
                expected[i * n + j] = value;
            }
        }
        float[] actual = (float[])c.Clone();
        switch (form)
        {
            case "plain":
                Gemm.Multiply(a, rs, cs, b, n, actual, n, m, n, k, accumulate, width);
                break;
            case "packed":
                var panels = new PackedMatrix(k, n, width);
                panels.Pack(b, n);
                Gemm.Multiply(a, rs, cs, panels, actual, n, m, accumulate);
                break;
            default:
                float[] w = new float[n * k];
                for (int j = 0; j < n; j++) for (int p = 0; p < k; p++) w[j * k + p] = b[p * n + j];
                Gemm.MultiplyByTransposed(a, k, w, k, actual, n, m, n, k, accumulate, width);
                break;
        }
        for (int e = 0; e < expected.Length; e++)
        {
            if (BitConverter.SingleToInt32Bits(actual[e]) != BitConverter.SingleToInt32Bits(expected[e]))
                Assert.Fail($"{width} {form} m={m} n={n} k={k} transposedA={transposedA} accumulate={accumulate}: element {e} is {actual[e]:R}, the k-order sum {expected[e]:R}");
        }
    }

    [Fact]
    public void Gemm_ShortBuffers_Throw()
    {
        Assert.Throws<ArgumentException>(() => Gemm.MatMul(new float[5], new float[6], new float[4], 2, 2, 3, false));
    }
}
