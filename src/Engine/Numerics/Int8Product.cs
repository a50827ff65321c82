// C (m, n) = [C +] A (m, k) * B for an 8-bit B (Int8Matrix): generation's per-character products, one row of A
// at a time. Each row is first rounded to 16-bit integers (x * ActivationScale, to nearest even, clamped to
// ±ActivationLimit); then every column is an exact 32-bit integer sum of q_x * q_w, and the float result is
// (float)sum * outputScale_j [+ C]. Integer sums do not depend on order, so every width and the scalar twin
// give the same bits, and a row's result does not depend on the other rows or on how columns are split.
// The vector kernels sign-extend the weights to 16 bits and multiply adjacent pairs (pmaddwd): 16 products per
// Vector256 instruction, against 8 FMAs per instruction for float weights, from a quarter of the bytes.
// x86 only (SSE4.1 / AVX2 / AVX-512BW); elsewhere, and at Scalar, the scalar twin runs.
// Deliberately not here: quantizing the weights (Int8Matrix.PackTransposed).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CharRnn.Engine.Numerics;

public static class Int8Product
{
    // One row of A as 16-bit integers, padded with 0 to whole pairs: (2 * Pairs) of whichever matrix is in hand,
    // in a per-thread buffer of at least max(2 * Pairs, 1024) shorts shared by every matrix that thread multiplies.
    [ThreadStatic] private static short[]? t_row;

    /// <summary>C[i, j] = [C[i, j] +] sum_p A[i, p] * B[p, j] as described above; A rows lda apart, C rows ldc apart.</summary>
    public static void Multiply(ReadOnlySpan<float> a, int lda, Int8Matrix b, Span<float> c, int ldc, int m, bool accumulate) =>
        Multiply(a, lda, b, c, ldc, m, accumulate, Simd.Best);

    /// <summary>As above at a chosen width (tests run every width the machine supports).</summary>
    public static void Multiply(ReadOnlySpan<float> a, int lda, Int8Matrix b, Span<float> c, int ldc, int m, bool accumulate, SimdWidth width)
    {
        ArgumentNullException.ThrowIfNull(b);
        int k = b.K, n = b.N;
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "row count must be non-negative");
        if (m == 0 || n == 0) return;
        if (lda < k || (long)(m - 1) * lda + k > a.Length) throw new ArgumentException($"A holds {a.Length} elements with lda {lda}, too few for ({m}, {k})", nameof(a));
        if (ldc < n || (long)(m - 1) * ldc + n > c.Length) throw new ArgumentException($"C holds {c.Length} elements with ldc {ldc}, too few for ({m}, {n})", nameof(c));
        short[] row = t_row is { } cached && cached.Length >= 2 * b.Pairs ? cached : (t_row = new short[Math.Max(2 * b.Pairs, 1024)]);
        for (int i = 0; i < m; i++)
        {
            Span<short> quantized = row.AsSpan(0, 2 * b.Pairs);
            QuantizeRow(a.Slice(i * lda, k), b.ActivationScale, b.ActivationLimit, quantized, width);
            Span<float> ci = c.Slice(i * ldc, n);
            if (width == SimdWidth.Vector512 && Avx512BW.IsSupported) Row512(quantized, b, ci, accumulate);
            else if (width >= SimdWidth.Vector256 && Avx2.IsSupported) Row256(quantized, b, ci, accumulate);
            else if (width >= SimdWidth.Vector128 && Sse41.IsSupported) Row128(quantized, b, ci, accumulate);
            else RowScalar(quantized, b, ci, accumulate);
        }
    }

    /// <summary>
    /// q[p] = round-to-nearest-even(clamp(x[p] * scale, ±limit)) for p &lt; k, and 0 up to q's end. Clamping before
    /// rounding equals clamping after (the limit is an integer). NaN becomes 0 at every width (the model never
    /// feeds one: checkpoints with non-finite values are refused, and so are non-finite weights here); without
    /// that rule, max/min would turn it into -limit in vector lanes and 0 in the scalar tail.
    /// </summary>
    internal static void QuantizeRow(ReadOnlySpan<float> x, float scale, int limit, Span<short> q, SimdWidth width)
    {
        int p = 0;
        if (width >= SimdWidth.Vector256 && Avx2.IsSupported)
        {
            Vector256<float> s = Vector256.Create(scale), high = Vector256.Create((float)limit), low = -high;
            ref float source = ref MemoryMarshal.GetReference(x);
            ref short destination = ref MemoryMarshal.GetReference(q);
            for (; p + 16 <= x.Length; p += 16)
            {
                Vector256<int> first = Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(WithoutNaN(Vector256.LoadUnsafe(ref source, (nuint)p) * s), low), high));
                Vector256<int> second = Avx.ConvertToVector256Int32(Avx.Min(Avx.Max(WithoutNaN(Vector256.LoadUnsafe(ref source, (nuint)p + 8) * s), low), high));
                // packssdw works within 128-bit lanes (first's low half, second's low half, first's high, second's
                // high); swapping the middle quarters puts the 16 values back in order.
                Vector256<short> packed = Avx2.PackSignedSaturate(first, second);
                Avx2.Permute4x64(packed.AsInt64(), 0b11_01_10_00).AsInt16().StoreUnsafe(ref destination, (nuint)p);
            }
        }
        for (; p < x.Length; p++)
        {
            float v = x[p] * scale;
            q[p] = float.IsNaN(v) ? (short)0 : (short)MathF.Round(Math.Clamp(v, -limit, limit));
        }
        q[x.Length..].Clear();
    }

    /// <summary>v with its NaN lanes set to 0 (a NaN is the one value unequal to itself).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> WithoutNaN(Vector256<float> v) => v & Vector256.Equals(v, v);

    /// <summary>The definition: per column, the integer sum over pairs, then one multiply by the scale (and one add).</summary>
    private static void RowScalar(ReadOnlySpan<short> x, Int8Matrix b, Span<float> c, bool accumulate)
    {
        sbyte[] panels = b.Panels;
        int pairs = b.Pairs;
        for (int j = 0; j < b.N; j++)
        {
            int start = j / Int8Matrix.PanelWidth * pairs * Int8Matrix.PanelWidth * 2 + j % Int8Matrix.PanelWidth * 2;
            int sum = 0;
            for (int r = 0; r < pairs; r++)
            {
                int at = start + r * Int8Matrix.PanelWidth * 2;
                sum += panels[at] * x[2 * r] + panels[at + 1] * x[2 * r + 1];
            }
            float value = sum * b.OutputScale[j];
            c[j] = accumulate ? c[j] + value : value;
        }
    }

    // The vector rows: several panels share each broadcast pair of activations (Vector256: four, then the rest
    // one by one; Vector512: two, then one; Vector128: one). The weights are read once, front to back, and the
    // activations walked by pointer. Never inlined:
    // profile-guided inlining pulled them into the generation step, where register pressure spilled two
    // accumulators to the stack on every pair.

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Row256(ReadOnlySpan<short> x, Int8Matrix b, Span<float> c, bool accumulate)
    {
        int pairs = b.Pairs, panelBytes = pairs * 2 * Int8Matrix.PanelWidth;
        fixed (short* xq = x)
        fixed (sbyte* weights = b.Panels)
        {
            int* xp = (int*)xq; // (x[2r], x[2r+1]) as one 32-bit word per pair
            int panel = 0;
            for (; panel + 4 <= b.PanelCount; panel += 4)
            {
                sbyte* w = weights + (nint)panel * panelBytes;
                nint stride = panelBytes;
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
                for (int* xr = xp, end = xp + pairs; xr < end; xr++)
                {
                    Vector256<short> pair = Vector256.Create(*xr).AsInt16();
                    s0 = Avx2.Add(s0, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w), pair));
                    s1 = Avx2.Add(s1, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w + 16), pair));
                    s2 = Avx2.Add(s2, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w + stride), pair));
                    s3 = Avx2.Add(s3, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w + stride + 16), pair));
                    s4 = Avx2.Add(s4, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w + 2 * stride), pair));
                    s5 = Avx2.Add(s5, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w + 2 * stride + 16), pair));
                    s6 = Avx2.Add(s6, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w + 3 * stride), pair));
                    s7 = Avx2.Add(s7, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w + 3 * stride + 16), pair));
                    w += 32;
                }
                Finish(s0, s1, b, panel, c, accumulate);
                Finish(s2, s3, b, panel + 1, c, accumulate);
                Finish(s4, s5, b, panel + 2, c, accumulate);
                Finish(s6, s7, b, panel + 3, c, accumulate);
            }
            for (; panel < b.PanelCount; panel++)
            {
                sbyte* w = weights + (nint)panel * panelBytes;
                Vector256<int> s0 = default, s1 = default;
                for (int* xr = xp, end = xp + pairs; xr < end; xr++)
                {
                    Vector256<short> pair = Vector256.Create(*xr).AsInt16();
                    s0 = Avx2.Add(s0, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w), pair));
                    s1 = Avx2.Add(s1, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w + 16), pair));
                    w += 32;
                }
                Finish(s0, s1, b, panel, c, accumulate);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Row512(ReadOnlySpan<short> x, Int8Matrix b, Span<float> c, bool accumulate)
    {
        int pairs = b.Pairs, panelBytes = pairs * 2 * Int8Matrix.PanelWidth;
        fixed (short* xq = x)
        fixed (sbyte* weights = b.Panels)
        {
            int* xp = (int*)xq;
            int panel = 0;
            for (; panel + 2 <= b.PanelCount; panel += 2)
            {
                sbyte* w0 = weights + (nint)panel * panelBytes, w1 = w0 + panelBytes;
                Vector512<int> s0 = default, s1 = default;
                for (int* xr = xp, end = xp + pairs; xr < end; xr++)
                {
                    Vector512<short> pair = Vector512.Create(*xr).AsInt16();
                    s0 = Avx512F.Add(s0, Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Avx.LoadVector256(w0)), pair));
                    s1 = Avx512F.Add(s1, Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Avx.LoadVector256(w1)), pair));
                    w0 += 32;
                    w1 += 32;
                }
                Finish(s0.GetLower(), s0.GetUpper(), b, panel, c, accumulate);
                Finish(s1.GetLower(), s1.GetUpper(), b, panel + 1, c, accumulate);
            }
            if (panel < b.PanelCount)
            {
                sbyte* w0 = weights + (nint)panel * panelBytes;
                Vector512<int> s0 = default;
                for (int* xr = xp, end = xp + pairs; xr < end; xr++)
                {
                    s0 = Avx512F.Add(s0, Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Avx.LoadVector256(w0)), Vector512.Create(*xr).AsInt16()));
                    w0 += 32;
                }
                Finish(s0.GetLower(), s0.GetUpper(), b, panel, c, accumulate);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Row128(ReadOnlySpan<short> x, Int8Matrix b, Span<float> c, bool accumulate)
    {
        int pairs = b.Pairs, panelBytes = pairs * 2 * Int8Matrix.PanelWidth;
        fixed (short* xq = x)
        fixed (sbyte* weights = b.Panels)
        {
            int* xp = (int*)xq;
            for (int panel = 0; panel < b.PanelCount; panel++)
            {
                sbyte* w = weights + (nint)panel * panelBytes;
                Vector128<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int* xr = xp, end = xp + pairs; xr < end; xr++)
                {
                    Vector128<short> pair = Vector128.Create(*xr).AsInt16();
                    s0 = Sse2.Add(s0, Sse2.MultiplyAddAdjacent(Sse41.ConvertToVector128Int16(w), pair));
                    s1 = Sse2.Add(s1, Sse2.MultiplyAddAdjacent(Sse41.ConvertToVector128Int16(w + 8), pair));
                    s2 = Sse2.Add(s2, Sse2.MultiplyAddAdjacent(Sse41.ConvertToVector128Int16(w + 16), pair));
                    s3 = Sse2.Add(s3, Sse2.MultiplyAddAdjacent(Sse41.ConvertToVector128Int16(w + 24), pair));
                    w += 32;
                }
                Finish(Vector256.Create(s0, s1), Vector256.Create(s2, s3), b, panel, c, accumulate);
            }
        }
    }

    /// <summary>A panel's 16 integer sums (columns 0-7 in lower, 8-15 in upper) to floats: times the scale, [+ C].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector256<int> lower, Vector256<int> upper, Int8Matrix b, int panel, Span<float> c, bool accumulate)
    {
        int j0 = panel * Int8Matrix.PanelWidth, columns = Math.Min(Int8Matrix.PanelWidth, b.N - j0);
        ref float scale = ref b.OutputScale[j0];
        Vector256<float> v0 = Vector256.ConvertToSingle(lower) * Vector256.LoadUnsafe(ref scale);
        Vector256<float> v1 = Vector256.ConvertToSingle(upper) * Vector256.LoadUnsafe(ref scale, 8);
        if (columns == Int8Matrix.PanelWidth)
        {
            ref float destination = ref MemoryMarshal.GetReference(c.Slice(j0, Int8Matrix.PanelWidth));
            if (accumulate)
            {
                v0 += Vector256.LoadUnsafe(ref destination);
                v1 += Vector256.LoadUnsafe(ref destination, 8);
            }
            v0.StoreUnsafe(ref destination);
            v1.StoreUnsafe(ref destination, 8);
            return;
        }
        // The last, partial panel (no stackalloc here: it would keep this from inlining, and then the second
        // panel's sums are spilled to the stack on every pair to survive the first call).
        for (int j = 0; j < columns; j++)
        {
            float value = j < 8 ? v0.GetElement(j) : v1.GetElement(j - 8);
            c[j0 + j] = accumulate ? c[j0 + j] + value : value;
        }
    }
}
