// The engine's single-precision matrix product: C(m, n) = [C +] A(m, k) * B(k, n), B and C row-major and A
// addressed through two strides, so the three products an RNN needs run without transposing copies:
//   forward   X(N, D) * W^T(D, G)      (W^T packed once per optimizer step by the model)
//   backward  dGates(N, G) * W(G, D)    and   dGates^T(G, N) * X(N, D)   (A read column-wise: rowStride 1)
// Register-blocked micro-tiles of 4 rows x 2 vectors broadcast one A element against two B vectors per FMA
// pair; K is blocked so the B panel a tile streams stays in L1/L2. Remainder policy: columns that do not
// fill a vector finish in scalar code, rows that do not fill a tile run one-row tiles; nothing overlaps,
// because accumulation must never touch an element twice.
// Deliberately not here: packing of A into panels and multi-threading (the performance issue tunes those).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CharRnn.Engine.Numerics;

public static class Gemm
{
    private const int KBlock = 256;   // 256 rows of a 2-vector B panel = 16 KiB at Vector256: fits L1 beside A.
    private const int PackingMinRows = 8; // below this a packed panel is not reused enough to pay for its copy

    // (KBlock, 2 x widest vector) the current B panel, contiguous. B's rows are ldb apart (8 KiB for a 2048-gate
    // weight), so without the copy every k step lands in the same few L1 sets and a new page; one per thread,
    // allocated on first use, so steady-state calls allocate nothing.
    [ThreadStatic] private static float[]? t_panel;

    /// <summary>C(m, n) = [C +] A(m, k) * B(k, n), all row-major.</summary>
    public static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Multiply(a, k, 1, b, n, c, n, m, n, k, accumulate, Simd.Best);

    /// <summary>C(m, n) = [C +] A^T * B where A is stored (k, m) row-major and B is (k, n).</summary>
    public static void MatMulTransposedA(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Multiply(a, 1, m, b, n, c, n, m, n, k, accumulate, Simd.Best);

    /// <summary>The general form; see <see cref="GemmReference.Multiply{T}"/> for the exact definition.</summary>
    public static void Multiply(ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, int m, int n, int k, bool accumulate, SimdWidth width)
    {
        Validate(a.Length, aRowStride, aColStride, b.Length, ldb, c.Length, ldc, m, n, k);
        if (m == 0 || n == 0) return;
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rc = ref MemoryMarshal.GetReference(c);
        switch (width)
        {
            case SimdWidth.Vector512: Blocked<Ops512, Vector512<float>>(ref ra, aRowStride, aColStride, ref rb, ldb, ref rc, ldc, m, n, k, accumulate); break;
            case SimdWidth.Vector256: Blocked<Ops256, Vector256<float>>(ref ra, aRowStride, aColStride, ref rb, ldb, ref rc, ldc, m, n, k, accumulate); break;
            case SimdWidth.Vector128: Blocked<Ops128, Vector128<float>>(ref ra, aRowStride, aColStride, ref rb, ldb, ref rc, ldc, m, n, k, accumulate); break;
            default: GemmReference.Multiply(a, aRowStride, aColStride, b, ldb, c, ldc, m, n, k, accumulate); break;
        }
    }

    private static void Validate(int aLength, int aRowStride, int aColStride, int bLength, int ldb, int cLength, int ldc, int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"matrix sizes must be non-negative, got m={m} n={n} k={k}");
        if (ldb < n) throw new ArgumentOutOfRangeException(nameof(ldb), $"ldb={ldb} is less than n={n}");
        if (ldc < n) throw new ArgumentOutOfRangeException(nameof(ldc), $"ldc={ldc} is less than n={n}");
        if (m == 0 || n == 0) return;
        if (k > 0 && (long)(m - 1) * aRowStride + (long)(k - 1) * aColStride >= aLength) throw new ArgumentException($"A holds {aLength} elements, too few for ({m}, {k}) with strides ({aRowStride}, {aColStride})", "a");
        if (k > 0 && (long)(k - 1) * ldb + n > bLength) throw new ArgumentException($"B holds {bLength} elements, too few for ({k}, {n}) with ldb {ldb}", "b");
        if ((long)(m - 1) * ldc + n > cLength) throw new ArgumentException($"C holds {cLength} elements, too few for ({m}, {n}) with ldc {ldc}", "c");
    }

    private static void Blocked<TOps, TVec>(ref float a, int rs, int cs, ref float b, int ldb, ref float c, int ldc, int m, int n, int k, bool accumulate)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) MemoryMarshal.CreateSpan(ref Unsafe.Add(ref c, (nint)i * ldc), n).Clear();
            return;
        }
        if (m < 4)
        {
            RowStreaming<TOps, TVec>(ref a, rs, cs, ref b, ldb, ref c, ldc, m, n, k, accumulate);
            return;
        }
        int w = TOps.Count;
        for (int k0 = 0; k0 < k; k0 += KBlock)
        {
            int kc = Math.Min(KBlock, k - k0);
            bool add = accumulate || k0 > 0;
            ref float ak = ref Unsafe.Add(ref a, (nint)k0 * cs);
            ref float bk = ref Unsafe.Add(ref b, (nint)k0 * ldb);
            int j = 0;
            for (; j + 2 * w <= n; j += 2 * w)
            {
                // Tiles read 2w columns of rows `ldp` apart starting at `panel`: B itself, or its packed copy.
                ref float panel = ref Unsafe.Add(ref bk, j);
                int ldp = ldb;
                if (m >= PackingMinRows)
                {
                    float[] packed = t_panel ??= new float[KBlock * 2 * Vector512<float>.Count];
                    for (int p = 0; p < kc; p++)
                    {
                        MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref bk, (nint)p * ldb + j), 2 * w).CopyTo(packed.AsSpan(p * 2 * w, 2 * w));
                    }
                    panel = ref MemoryMarshal.GetArrayDataReference(packed);
                    ldp = 2 * w;
                }
                int i = 0;
                for (; i + 4 <= m; i += 4) Tile4x2<TOps, TVec>(ref ak, rs, cs, ref panel, ldp, ref c, ldc, i, j, kc, add);
                for (; i < m; i++) Tile1x2<TOps, TVec>(ref ak, rs, cs, ref panel, ldp, ref c, ldc, i, j, kc, add);
            }
            for (; j + w <= n; j += w)
            {
                for (int i = 0; i < m; i++) Tile1x1<TOps, TVec>(ref ak, rs, cs, ref bk, ldb, ref c, ldc, i, j, kc, add);
            }
            for (; j < n; j++)
            {
                for (int i = 0; i < m; i++) ScalarCell(ref ak, rs, cs, ref bk, ldb, ref c, ldc, i, j, kc, add);
            }
        }
    }

    /// <summary>
    /// A handful of rows (batch-1 sampling, evaluation): a matrix-vector product, bound by reading B. Stream B
    /// row by row, contiguously, into a C row that stays in L1, instead of walking B in column panels.
    /// </summary>
    private static void RowStreaming<TOps, TVec>(ref float a, int rs, int cs, ref float b, int ldb, ref float c, int ldc, int m, int n, int k, bool accumulate)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        int w = TOps.Count, vectorEnd = n - n % w;
        for (int i = 0; i < m; i++)
        {
            ref float ci = ref Unsafe.Add(ref c, (nint)i * ldc);
            if (!accumulate) MemoryMarshal.CreateSpan(ref ci, n).Clear();
            ref float ai = ref Unsafe.Add(ref a, (nint)i * rs);
            for (int p = 0; p < k; p++)
            {
                float x = Unsafe.Add(ref ai, (nint)p * cs);
                TVec vx = TOps.Broadcast(x);
                ref float bp = ref Unsafe.Add(ref b, (nint)p * ldb);
                int j = 0;
                for (; j < vectorEnd; j += w) TOps.Store(TOps.MultiplyAdd(vx, TOps.Load(ref bp, (nuint)j), TOps.Load(ref ci, (nuint)j)), ref ci, (nuint)j);
                for (; j < n; j++) Unsafe.Add(ref ci, j) = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref bp, j), Unsafe.Add(ref ci, j));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile4x2<TOps, TVec>(ref float a, int rs, int cs, ref float bj, int ldb, ref float c, int ldc, int i, int j, int kc, bool add)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        nuint w = (nuint)TOps.Count;
        TVec c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        ref float ai = ref Unsafe.Add(ref a, (nint)i * rs);
        for (int p = 0; p < kc; p++)
        {
            ref float bp = ref Unsafe.Add(ref bj, (nint)p * ldb);
            TVec b0 = TOps.Load(ref bp, 0), b1 = TOps.Load(ref bp, w);
            ref float ap = ref Unsafe.Add(ref ai, (nint)p * cs);
            TVec x = TOps.Broadcast(ap);
            c00 = TOps.MultiplyAdd(x, b0, c00); c01 = TOps.MultiplyAdd(x, b1, c01);
            x = TOps.Broadcast(Unsafe.Add(ref ap, rs));
            c10 = TOps.MultiplyAdd(x, b0, c10); c11 = TOps.MultiplyAdd(x, b1, c11);
            x = TOps.Broadcast(Unsafe.Add(ref ap, 2 * rs));
            c20 = TOps.MultiplyAdd(x, b0, c20); c21 = TOps.MultiplyAdd(x, b1, c21);
            x = TOps.Broadcast(Unsafe.Add(ref ap, 3 * rs));
            c30 = TOps.MultiplyAdd(x, b0, c30); c31 = TOps.MultiplyAdd(x, b1, c31);
        }
        ref float ci = ref Unsafe.Add(ref c, (nint)i * ldc + j);
        StoreRow<TOps, TVec>(ref ci, w, c00, c01, add);
        StoreRow<TOps, TVec>(ref Unsafe.Add(ref ci, ldc), w, c10, c11, add);
        StoreRow<TOps, TVec>(ref Unsafe.Add(ref ci, 2 * ldc), w, c20, c21, add);
        StoreRow<TOps, TVec>(ref Unsafe.Add(ref ci, 3 * ldc), w, c30, c31, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TOps, TVec>(ref float ci, nuint w, TVec v0, TVec v1, bool add)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        if (add)
        {
            v0 = TOps.Add(v0, TOps.Load(ref ci, 0));
            v1 = TOps.Add(v1, TOps.Load(ref ci, w));
        }
        TOps.Store(v0, ref ci, 0);
        TOps.Store(v1, ref ci, w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile1x2<TOps, TVec>(ref float a, int rs, int cs, ref float bj, int ldb, ref float c, int ldc, int i, int j, int kc, bool add)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        nuint w = (nuint)TOps.Count;
        TVec c0 = default, c1 = default;
        ref float ai = ref Unsafe.Add(ref a, (nint)i * rs);
        for (int p = 0; p < kc; p++)
        {
            ref float bp = ref Unsafe.Add(ref bj, (nint)p * ldb);
            TVec x = TOps.Broadcast(Unsafe.Add(ref ai, (nint)p * cs));
            c0 = TOps.MultiplyAdd(x, TOps.Load(ref bp, 0), c0);
            c1 = TOps.MultiplyAdd(x, TOps.Load(ref bp, w), c1);
        }
        StoreRow<TOps, TVec>(ref Unsafe.Add(ref c, (nint)i * ldc + j), w, c0, c1, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile1x1<TOps, TVec>(ref float a, int rs, int cs, ref float b, int ldb, ref float c, int ldc, int i, int j, int kc, bool add)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        TVec c0 = default;
        ref float ai = ref Unsafe.Add(ref a, (nint)i * rs);
        ref float bj = ref Unsafe.Add(ref b, j);
        for (int p = 0; p < kc; p++)
        {
            c0 = TOps.MultiplyAdd(TOps.Broadcast(Unsafe.Add(ref ai, (nint)p * cs)), TOps.Load(ref Unsafe.Add(ref bj, (nint)p * ldb), 0), c0);
        }
        ref float ci = ref Unsafe.Add(ref c, (nint)i * ldc + j);
        if (add) c0 = TOps.Add(c0, TOps.Load(ref ci, 0));
        TOps.Store(c0, ref ci, 0);
    }

    private static void ScalarCell(ref float a, int rs, int cs, ref float b, int ldb, ref float c, int ldc, int i, int j, int kc, bool add)
    {
        float sum = 0f;
        ref float ai = ref Unsafe.Add(ref a, (nint)i * rs);
        for (int p = 0; p < kc; p++)
        {
            sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref ai, (nint)p * cs), Unsafe.Add(ref b, (nint)p * ldb + j), sum);
        }
        ref float cij = ref Unsafe.Add(ref c, (nint)i * ldc + j);
        cij = add ? cij + sum : sum;
    }
}
