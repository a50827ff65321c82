// The engine's single-precision matrix product, C(m, n) = [C +] A(m, k) * B(k, n), organised as in BLIS:
//   for each block of NC columns, for each KC-deep slice of k:
//     B's (KC, NC) block sits in panels of NR columns (packed here per call, or packed once per optimizer
//       step by the caller as a PackedMatrix: the weights),
//     for each block of MC rows: A's (MC, KC) block is read in place when its rows are contiguous and the
//       block is small (≤ 16 KiB) or reused by few B panels (< 16), and A^T when at most 4 B panels read it;
//       else it is copied into row panels first,
//       for each B panel, for each A panel: one register tile, C tile = [C +] sum over KC.
// The micro-kernel keeps up to 6 x 2 vector accumulators in registers (6 x 16 floats at Vector256: 12 of the
// 16 ymm registers) and per k step loads two B vectors and broadcasts one A value per row.
// A B panel (KC x NR, 32 KiB at Vector256) is read by every A panel in turn, from L1 or L2; A's block stays in L2.
// Row tiles: a block of mc rows is cut into ceil(mc/6) tiles of nearly equal height (25 rows: 5 x 5, 32: 6 6 5
// 5 5 5), so a training share of 25 or 32 streams wastes no FMA on padding; heights 4-6 all keep enough
// independent accumulators to hide the FMA latency.
// Remainder policy: B panels are zero-padded; a tile with a partial B panel is computed into a scratch tile
// and only its valid columns are added to C, so nothing is written twice or out of bounds.
// Tiny m (batch-1 sampling and evaluation) is a matrix-vector product bound by reading B: those rows stream
// B once each instead (row by row when B is plain, panel by panel when packed).
// B may also be given as W^T, W (n, k) row-major (MultiplyByTransposed): the weights of products that run once
// per window over all T*B rows, where packing W^T per call costs next to nothing and the model keeps no copy.
// Deliberately not here: threads (the trainer splits work into shares, the sampler splits columns).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CharRnn.Engine.Numerics;

public static class Gemm
{
    /// <summary>
    /// KC: the k steps a register tile sums before it adds the sum to C; a B panel is 32 KiB at Vector256 (all
    /// of a Zen 3's or Zen 4's L1d, so part of it is read from L2, which measured no slower) and 64 KiB at Vector512.
    /// Every tiled product sums each element's terms in k order within a block, then adds the block's sum to C
    /// (GemmTests). 512 against 256 (tools/AbCompare, whole training steps, 2026-11-27): W1 1.037x, 1.019x and
    /// 1.011x over all rounds in three runs of 14, 14 and 30 rounds (A and B swapped in the second), faster in 41
    /// of the 58 rounds; W2 (k ≤ 128 but for the gradient products) 1.007x and 1.056x in 20 and 30 rounds. Each C
    /// tile is read and written half as often. 1024: 0.966x at W1 (14 rounds). Those at Vector256 on a Zen 3; on
    /// a Zen 4 at Vector512 (64 KiB panels against its 32 KiB L1, 2026-11-27), 256 against 512 was again slower:
    /// W1 0.976x (20 rounds), W2 0.989x (80 rounds).
    /// </summary>
    public const int BlockDepth = 512;

    private const int TileRows = 6;          // MR: the tallest register tile
    private const int RowBlock = 96;        // MC: A's packed block, 96 x 512 floats = 192 KiB (L2); a multiple of MR
    private const int ColumnBlock = 512;    // NC: B's packed block, 512 x 512 floats = 1 MiB: a per-thread buffer that stays
                                            // small in memory; wider B is packed in several blocks. A multiple of every NR
    private const int StreamingMaxRows = 2; // up to this many rows a product streams B instead of tiling
    private const int InPlaceABlockMax = 4096; // A blocks up to 16 KiB (half of L1) are read in place...
    private const int InPlaceAPanelsMax = 16;  // ...and so are larger ones that fewer B panels than this reuse
    private const int InPlaceTransposedAPanelsMax = 4; // Aᵀ is read in place, each tile row a broadcast from another
                                            // G-wide row, by up to this many B panels; packed for more. See Blocked.
    private const int WidestPanel = 32;     // NR at Vector512
    private const int FloatsPerCacheLine = 16; // 64-byte lines
    private const int PanelSkew = FloatsPerCacheLine; // packed A's tile t starts t lines past r*KC: see PackedPanelOffset
    private const int MaxTilesPerBlock = (RowBlock + TileRows - 1) / TileRows;
    private const int PrefetchAhead = 8;    // Aᵀ packing requests the row this many steps ahead: far enough for a miss to L3 to
                                            // complete before the copy arrives, near enough to stay within the core's outstanding misses
                                            // (row by row, 16 and 24 measured 0.980x and 0.937x at W1 in AbCompare)

    // Per-thread packing buffers, allocated on first use so steady-state calls allocate nothing.
    [ThreadStatic] private static float[]? t_packedA; // (MC, KC) A's block as row panels: tile t at row r, height h, is (KC, h) at PackedPanelOffset(r, t, KC)
    [ThreadStatic] private static float[]? t_packedB; // (NC / NR, KC, NR) B's block in column panels

    /// <summary>Columns per B panel for a width: two vectors (the micro-kernel's tile width).</summary>
    public static int PanelWidthFor(SimdWidth width) =>
        2 * Simd.FloatsPerVector(width == SimdWidth.Scalar ? SimdWidth.Vector256 : width); // the scalar reference reads any layout

    /// <summary>C(m, n) = [C +] A(m, k) * B(k, n), all row-major.</summary>
    public static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate) =>
        Multiply(a, k, 1, b, n, c, n, m, n, k, accumulate, Simd.Best);

    /// <summary>C(m, n) = [C +] A(m, k) * W^T with A rows lda apart and W (n, k) row-major, rows ldw apart.</summary>
    public static void MultiplyByTransposed(ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> w, int ldw, Span<float> c, int ldc,
        int m, int n, int k, bool accumulate, SimdWidth width)
    {
        Validate(a.Length, lda, 1, c.Length, ldc, m, n, k);
        if (ldw < k) throw new ArgumentOutOfRangeException(nameof(ldw), $"ldw={ldw} is less than k={k}");
        if (m > 0 && n > 0 && k > 0 && (long)(n - 1) * ldw + k > w.Length) throw new ArgumentException($"W holds {w.Length} elements, too few for ({n}, {k}) with ldw {ldw}", nameof(w));
        PlainB(a, lda, 1, w, ldw, transposedB: true, c, ldc, m, n, k, accumulate, width);
    }

    /// <summary>The general form; see <see cref="GemmReference.Multiply{T}"/> for the exact definition.</summary>
    public static void Multiply(ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, int m, int n, int k, bool accumulate, SimdWidth width)
    {
        Validate(a.Length, aRowStride, aColStride, c.Length, ldc, m, n, k);
        ValidatePlainB(b.Length, ldb, m, n, k);
        PlainB(a, aRowStride, aColStride, b, ldb, transposedB: false, c, ldc, m, n, k, accumulate, width);
    }

    /// <summary>
    /// Multiply, and rowSumsOfA[i] += A[i, 0] + A[i, 1] + ... + A[i, k-1], added one term at a time in p order
    /// (what Kernels.AddColumnSums does to the rows of the matrix whose transpose A is). For A given as Aᵀ
    /// (aRowStride 1: a weight gradient's (T*B, G) output gradient, whose column sums are the bias gradient) the
    /// terms are added while A is packed, which reads every value anyway: a separate pass would read the whole
    /// gradient from L3 a second time; where Aᵀ is read in place (few B panels) and for other layouts, in a pass
    /// of their own, in the same order.
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, int aRowStride, int aColStride, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, int m, int n, int k, bool accumulate, SimdWidth width, Span<float> rowSumsOfA)
    {
        if (rowSumsOfA.Length != m) throw new ArgumentException($"rowSumsOfA holds {rowSumsOfA.Length} sums for {m} rows of A", nameof(rowSumsOfA));
        Validate(a.Length, aRowStride, aColStride, c.Length, ldc, m, n, k);
        ValidatePlainB(b.Length, ldb, m, n, k);
        if (n == 0 || !BlockedAddsRowSums(aRowStride, aColStride, m, width))
        {
            for (int p = 0; p < k; p++)
            {
                for (int i = 0; i < m; i++) rowSumsOfA[i] += a[i * aRowStride + p * aColStride];
            }
            PlainB(a, aRowStride, aColStride, b, ldb, transposedB: false, c, ldc, m, n, k, accumulate, width);
            return;
        }
        PlainB(a, aRowStride, aColStride, b, ldb, transposedB: false, c, ldc, m, n, k, accumulate, width, ref MemoryMarshal.GetReference(rowSumsOfA));
    }

    /// <summary>Whether Blocked adds the row sums (Aᵀ, rows 1 apart, tiled): while packing it, or beside reading it in place.</summary>
    private static bool BlockedAddsRowSums(int rs, int cs, int m, SimdWidth width) =>
        width != SimdWidth.Scalar && rs == 1 && cs != 1 && m > 0;

    /// <summary>Both forms of a B that is not pre-packed (B itself, or W with B = W^T): the width dispatch, after validation.</summary>
    private static void PlainB(ReadOnlySpan<float> a, int rs, int cs, ReadOnlySpan<float> b, int ldb, bool transposedB,
        Span<float> c, int ldc, int m, int n, int k, bool accumulate, SimdWidth width) =>
        PlainB(a, rs, cs, b, ldb, transposedB, c, ldc, m, n, k, accumulate, width, ref Unsafe.NullRef<float>());

    /// <summary>PlainB, adding A's row sums into aRowSums unless it is null (Aᵀ only: see BlockedAddsRowSums).</summary>
    private static void PlainB(ReadOnlySpan<float> a, int rs, int cs, ReadOnlySpan<float> b, int ldb, bool transposedB,
        Span<float> c, int ldc, int m, int n, int k, bool accumulate, SimdWidth width, ref float aRowSums)
    {
        if (m == 0 || n == 0) return;
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rc = ref MemoryMarshal.GetReference(c);
        switch (width)
        {
            case SimdWidth.Vector512: Blocked<Ops512, Vector512<float>>(ref ra, rs, cs, ref rb, ldb, null, ref rc, ldc, m, n, k, accumulate, transposedB, ref aRowSums); break;
            case SimdWidth.Vector256: Blocked<Ops256, Vector256<float>>(ref ra, rs, cs, ref rb, ldb, null, ref rc, ldc, m, n, k, accumulate, transposedB, ref aRowSums); break;
            case SimdWidth.Vector128: Blocked<Ops128, Vector128<float>>(ref ra, rs, cs, ref rb, ldb, null, ref rc, ldc, m, n, k, accumulate, transposedB, ref aRowSums); break;
            default:
                if (transposedB) GemmReference.MultiplyByTransposed(a, rs, b, ldb, c, ldc, m, n, k, accumulate);
                else GemmReference.Multiply(a, rs, cs, b, ldb, c, ldc, m, n, k, accumulate);
                break;
        }
    }

    /// <summary>C(m, n) = [C +] A(m, k) * B with B packed (k, n) at its width; A addressed through strides.</summary>
    public static void Multiply(ReadOnlySpan<float> a, int aRowStride, int aColStride, PackedMatrix b, Span<float> c, int ldc, int m, bool accumulate)
    {
        int n = b.N, k = b.K;
        Validate(a.Length, aRowStride, aColStride, c.Length, ldc, m, n, k);
        if (m == 0 || n == 0) return;
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rc = ref MemoryMarshal.GetReference(c);
        if (b.IsBFloat16 && k > 0)
        {
            // bf16 weights serve generation: a few rows, each streaming the panels once.
            switch (b.Width)
            {
                case SimdWidth.Vector512: PanelStreaming<Ops512, Vector512<float>, ushort>(ref ra, aRowStride, aColStride, b, ref rc, ldc, m, accumulate); return;
                case SimdWidth.Vector256: PanelStreaming<Ops256, Vector256<float>, ushort>(ref ra, aRowStride, aColStride, b, ref rc, ldc, m, accumulate); return;
                case SimdWidth.Vector128: PanelStreaming<Ops128, Vector128<float>, ushort>(ref ra, aRowStride, aColStride, b, ref rc, ldc, m, accumulate); return;
            }
        }
        switch (b.Width)
        {
            case SimdWidth.Vector512: Blocked<Ops512, Vector512<float>>(ref ra, aRowStride, aColStride, ref Unsafe.NullRef<float>(), 0, b, ref rc, ldc, m, n, k, accumulate, transposedB: false, ref Unsafe.NullRef<float>()); break;
            case SimdWidth.Vector256: Blocked<Ops256, Vector256<float>>(ref ra, aRowStride, aColStride, ref Unsafe.NullRef<float>(), 0, b, ref rc, ldc, m, n, k, accumulate, transposedB: false, ref Unsafe.NullRef<float>()); break;
            case SimdWidth.Vector128: Blocked<Ops128, Vector128<float>>(ref ra, aRowStride, aColStride, ref Unsafe.NullRef<float>(), 0, b, ref rc, ldc, m, n, k, accumulate, transposedB: false, ref Unsafe.NullRef<float>()); break;
            default: PackedReference(a, aRowStride, aColStride, b, c, ldc, m, accumulate); break;
        }
    }

    /// <summary>A row-major B (k, n), rows ldb apart, holds what the product reads.</summary>
    private static void ValidatePlainB(int bLength, int ldb, int m, int n, int k)
    {
        if (ldb < n) throw new ArgumentOutOfRangeException(nameof(ldb), $"ldb={ldb} is less than n={n}");
        if (m > 0 && n > 0 && k > 0 && (long)(k - 1) * ldb + n > bLength) throw new ArgumentException($"B holds {bLength} elements, too few for ({k}, {n}) with ldb {ldb}", "b");
    }

    private static void Validate(int aLength, int aRowStride, int aColStride, int cLength, int ldc, int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"matrix sizes must be non-negative, got m={m} n={n} k={k}");
        // Negative strides would put the lowest index, not the highest, at the far corner: the check below would
        // pass and the kernels, which read through Unsafe.Add, would read before the span.
        if (aRowStride < 0 || aColStride < 0) throw new ArgumentOutOfRangeException(nameof(aRowStride), $"A's strides must be non-negative, got ({aRowStride}, {aColStride})");
        if (ldc < n) throw new ArgumentOutOfRangeException(nameof(ldc), $"ldc={ldc} is less than n={n}");
        if (m == 0 || n == 0) return;
        if (k > 0 && (long)(m - 1) * aRowStride + (long)(k - 1) * aColStride >= aLength) throw new ArgumentException($"A holds {aLength} elements, too few for ({m}, {k}) with strides ({aRowStride}, {aColStride})", "a");
        if ((long)(m - 1) * ldc + n > cLength) throw new ArgumentException($"C holds {cLength} elements, too few for ({m}, {n}) with ldc {ldc}", "c");
    }

    /// <summary>The scalar path for a packed B: the definition, reading B through its panel layout.</summary>
    private static void PackedReference(ReadOnlySpan<float> a, int rs, int cs, PackedMatrix b, Span<float> c, int ldc, int m, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < b.N; j++)
            {
                float sum = 0f;
                for (int p = 0; p < b.K; p++) sum += a[i * rs + p * cs] * b[p, j];
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
        }
    }

    /// <summary>
    /// The blocked product; B is plain (b, ldb) when packed is null, else packed's panels. transposedB: b holds
    /// W (n, k) with rows ldb apart and B = W^T.
    /// </summary>
    private static void Blocked<TOps, TVec>(ref float a, int rs, int cs, ref float b, int ldb, PackedMatrix? packed, ref float c, int ldc, int m, int n, int k, bool accumulate,
        bool transposedB, ref float aRowSums)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) MemoryMarshal.CreateSpan(ref Unsafe.Add(ref c, (nint)i * ldc), n).Clear();
            return;
        }
        // Streaming sums k in one run from C; tiles sum BlockDepth-deep blocks. A^T (the parameter gradients, whose rows
        // threads split) always tiles, so a gradient element gets the same bits however its rows are split.
        if (m <= StreamingMaxRows && cs == 1)
        {
            if (transposedB) RowDots(ref a, rs, ref b, ldb, ref c, ldc, m, n, k, accumulate);
            else if (packed == null) RowStreaming<TOps, TVec>(ref a, rs, cs, ref b, ldb, ref c, ldc, m, n, k, accumulate);
            else PanelStreaming<TOps, TVec, float>(ref a, rs, cs, packed, ref c, ldc, m, accumulate);
            return;
        }
        int nr = 2 * TOps.Count;
        float[] packedA = t_packedA ??= new float[RowBlock * BlockDepth + MaxTilesPerBlock * PanelSkew];
        float[] packedB = packed == null ? (t_packedB ??= new float[ColumnBlock * BlockDepth]) : [];
        Span<float> edge = stackalloc float[TileRows * WidestPanel]; // (MR, NR) scratch tile for partial tiles
        int columnBlock = packed == null ? ColumnBlock : n;            // packed panels already span all of n
        for (int jc = 0; jc < n; jc += columnBlock)
        {
            int nc = Math.Min(columnBlock, n - jc);
            for (int pc = 0; pc < k; pc += BlockDepth)
            {
                int kc = Math.Min(BlockDepth, k - pc);
                bool add = accumulate || pc > 0;
                ref float panels = ref MemoryMarshal.GetArrayDataReference(packedB);
                nint panelStride = (nint)kc * nr;
                if (packed == null)
                {
                    if (transposedB) PackTransposedB(ref Unsafe.Add(ref b, (nint)jc * ldb + pc), ldb, kc, nc, nr, ref panels);
                    else PackB<TOps, TVec>(ref Unsafe.Add(ref b, (nint)pc * ldb + jc), ldb, kc, nc, ref panels);
                }
                else
                {
                    panels = ref Unsafe.Add(ref packed.Panel(0), (nint)pc * nr); // this KC slice of panel 0
                    panelStride = (nint)k * nr;
                }
                for (int ic = 0; ic < m; ic += RowBlock)
                {
                    int mc = Math.Min(RowBlock, m - ic);
                    var tiles = new RowTiles(mc);
                    // A is copied into panels (a tile's values for one p side by side) when its block would crowd
                    // L1 and enough B panels reuse the copy; otherwise (the small per-step products of short rows)
                    // it is read in place, each tile row streaming forward. Aᵀ (the parameter gradients' (T*B, G)
                    // output gradient) is read in place only by at most 4 B panels (W2's H=128 at Vector512):
                    // each step's broadcasts then come from one row, a G-wide row past the last, which the
                    // prefetchers serve from L2, and packing, which reads all of Aᵀ from L3 once, is not repaid by
                    // so few panels. AbCompare, whole training steps at Vector512 (2026-11-27): in place up to 4
                    // panels against always packed W2 1.040x (80 rounds); up to 8 panels, the default train
                    // model's H=256, 0.971x (60 rounds); always in place, W1's 16 panels, 0.957x (20 rounds).
                    ref float aBlock = ref Unsafe.Add(ref a, (nint)ic * rs + (nint)pc * cs);
                    int bPanels = (nc + nr - 1) / nr;
                    bool packA = cs == 1
                        ? mc * kc > InPlaceABlockMax && bPanels >= InPlaceAPanelsMax
                        : bPanels > InPlaceTransposedAPanelsMax;
                    if (!packA && rs == 1 && !Unsafe.IsNullRef(ref aRowSums) && jc == 0)
                    {
                        // Aᵀ read in place: its row sums in a pass of their own, each of its kc rows once, in order.
                        for (int p = 0; p < kc; p++) AddInPlace(ref Unsafe.Add(ref aRowSums, ic), ref Unsafe.Add(ref aBlock, (nint)p * cs), mc);
                    }
                    if (packA)
                    {
                        // A's row sums (when asked for) are added once, in p order: in the first column block only.
                        ref float sums = ref (Unsafe.IsNullRef(ref aRowSums) || jc > 0 ? ref Unsafe.NullRef<float>() : ref Unsafe.Add(ref aRowSums, ic));
                        PackA(ref aBlock, rs, cs, tiles, kc, ref MemoryMarshal.GetArrayDataReference(packedA), ref sums);
                        aBlock = ref MemoryMarshal.GetArrayDataReference(packedA);
                    }
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int columns = Math.Min(nr, nc - jr);
                        ref float bPanel = ref Unsafe.Add(ref panels, jr / nr * panelStride);
                        for (int tile = 0, ir = 0; tile < tiles.Count; ir += tiles.Height(tile), tile++)
                        {
                            int rows = tiles.Height(tile);
                            // A[i, p] of this tile: a packed tile is (kc, rows); an in-place one keeps A's strides.
                            ref float aPanel = ref Unsafe.Add(ref aBlock, packA ? PackedPanelOffset(ir, tile, kc) : (nint)ir * rs);
                            nint tileRowStride = packA ? 1 : rs, tileStepStride = packA ? rows : cs;
                            ref float cTile = ref Unsafe.Add(ref c, (nint)(ic + ir) * ldc + jc + jr);
                            if (columns == nr)
                            {
                                Tile<TOps, TVec>(rows, ref aPanel, tileRowStride, tileStepStride, ref bPanel, kc, ref cTile, ldc, add);
                            }
                            else
                            {
                                Tile<TOps, TVec>(rows, ref aPanel, tileRowStride, tileStepStride, ref bPanel, kc, ref MemoryMarshal.GetReference(edge), nr, add: false);
                                MergeTile(edge, nr, ref cTile, ldc, rows, columns, add);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>How a block of rows is cut into register tiles: ceil(rows/6) tiles, heights differing by at most 1.</summary>
    private readonly struct RowTiles
    {
        private readonly int _base, _taller; // every tile is _base rows high, the first _taller of them one more

        public RowTiles(int rows)
        {
            Rows = rows;
            Count = (rows + TileRows - 1) / TileRows;
            _base = Count == 0 ? 0 : rows / Count;   // divided once here, not per tile in the loops
            _taller = Count == 0 ? 0 : rows % Count;
        }

        public int Rows { get; }
        public int Count { get; }
        public int ShortestHeight => _base;
        public int Height(int tile) => _base + (tile < _taller ? 1 : 0);
    }

    /// <summary>C tile (rows, NR) = [C +] A tile (rows, KC) * B panel (KC, NR), for rows 1..6; A[i, p] at a[i*rs + p*cs].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // a dispatch, not a call of its own per tile
    private static void Tile<TOps, TVec>(int rows, ref float a, nint rs, nint cs, ref float b, int kc, ref float c, int ldc, bool add)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        switch (rows)
        {
            case 6: MicroKernel<TOps, TVec, Rows6>(ref a, rs, cs, ref b, kc, ref c, ldc, add); break;
            case 5: MicroKernel<TOps, TVec, Rows5>(ref a, rs, cs, ref b, kc, ref c, ldc, add); break;
            case 4: MicroKernel<TOps, TVec, Rows4>(ref a, rs, cs, ref b, kc, ref c, ldc, add); break;
            case 3: MicroKernel<TOps, TVec, Rows3>(ref a, rs, cs, ref b, kc, ref c, ldc, add); break;
            case 2: MicroKernel<TOps, TVec, Rows2>(ref a, rs, cs, ref b, kc, ref c, ldc, add); break;
            default: MicroKernel<TOps, TVec, Rows1>(ref a, rs, cs, ref b, kc, ref c, ldc, add); break;
        }
    }

    // A tile height as a type, so each height compiles to its own kernel with exactly its accumulators.
    private interface ITileHeight { static abstract int Rows { get; } }
    private readonly struct Rows1 : ITileHeight { public static int Rows => 1; }
    private readonly struct Rows2 : ITileHeight { public static int Rows => 2; }
    private readonly struct Rows3 : ITileHeight { public static int Rows => 3; }
    private readonly struct Rows4 : ITileHeight { public static int Rows => 4; }
    private readonly struct Rows5 : ITileHeight { public static int Rows => 5; }
    private readonly struct Rows6 : ITileHeight { public static int Rows => 6; }

    /// <summary>
    /// The micro-kernel: C tile (H, NR) = [C +] A tile (H, KC) * B panel (KC, NR) with all 2H accumulators in
    /// registers; A[i, p] at a[i*rs + p*cs]. H is a compile-time constant per instantiation, so the unused
    /// rows' code disappears.
    /// </summary>
    /// <remarks>
    /// Eight k steps per loop iteration, and the rows' offsets computed once: one step is 2H FMAs and H + 2
    /// loads, and with the loop's counter, compare, branch and address arithmetic on every step as well the
    /// core spent its issue slots on bookkeeping instead of FMAs. In-process A/B of whole training steps
    /// (tools/AbCompare): eight steps per iteration against one, 1.13-1.16x at W2 in three runs of 30 rounds and
    /// 1.05x in a fourth, 1.09-1.11x at W1; eight against four, 1.005-1.03x. Unrolling keeps each accumulator's
    /// sum in k order, so no bit of any product changes (GemmTests pins this against a one-step reference).
    /// The prefetch of an accumulated C tile: a lone product with C cold in L3 ran 1.06x faster (W2's per-step
    /// shape) and 1.13x (W1's), and 0.99x with C hot; with the final code, whole training steps 1.06-1.13x at W1
    /// (two runs of 12 rounds, A and B swapped) and a wash at W2 (+1.9% and -3.7%).
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MicroKernel<TOps, TVec, THeight>(ref float a, nint rs, nint cs, ref float b, int kc, ref float c, int ldc, bool add)
        where TOps : IVectorOps<TVec> where TVec : struct where THeight : ITileHeight
    {
        nuint w = (nuint)TOps.Count;
        int h = THeight.Rows;
        TVec c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        TVec c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint r1 = rs, r2 = 2 * rs, r3 = 3 * rs, r4 = 4 * rs, r5 = 5 * rs; // row i of A at a + ri, hoisted out of the loop
        // An accumulated C tile is often far from this core's caches (above layer 0, step t's gate pre-activations
        // were written with the whole window's projection): ask for it now, to arrive while the FMAs run.
        if (add) for (int i = 0; i < h; i++) PrefetchRun(ref Unsafe.Add(ref c, (nint)i * ldc), 2 * (int)w);
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            Step<TOps, TVec, THeight>(ref a, r1, r2, r3, r4, r5, ref b, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step<TOps, TVec, THeight>(ref Unsafe.Add(ref a, cs), r1, r2, r3, r4, r5, ref Unsafe.Add(ref b, 2 * w), ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step<TOps, TVec, THeight>(ref Unsafe.Add(ref a, 2 * cs), r1, r2, r3, r4, r5, ref Unsafe.Add(ref b, 4 * w), ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step<TOps, TVec, THeight>(ref Unsafe.Add(ref a, 3 * cs), r1, r2, r3, r4, r5, ref Unsafe.Add(ref b, 6 * w), ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step<TOps, TVec, THeight>(ref Unsafe.Add(ref a, 4 * cs), r1, r2, r3, r4, r5, ref Unsafe.Add(ref b, 8 * w), ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step<TOps, TVec, THeight>(ref Unsafe.Add(ref a, 5 * cs), r1, r2, r3, r4, r5, ref Unsafe.Add(ref b, 10 * w), ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step<TOps, TVec, THeight>(ref Unsafe.Add(ref a, 6 * cs), r1, r2, r3, r4, r5, ref Unsafe.Add(ref b, 12 * w), ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step<TOps, TVec, THeight>(ref Unsafe.Add(ref a, 7 * cs), r1, r2, r3, r4, r5, ref Unsafe.Add(ref b, 14 * w), ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            a = ref Unsafe.Add(ref a, 8 * cs);
            b = ref Unsafe.Add(ref b, 16 * w);
        }
        for (; p < kc; p++)
        {
            Step<TOps, TVec, THeight>(ref a, r1, r2, r3, r4, r5, ref b, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            a = ref Unsafe.Add(ref a, cs);
            b = ref Unsafe.Add(ref b, 2 * w);
        }
        StoreRow<TOps, TVec>(ref c, w, c00, c01, add);
        if (h > 1) StoreRow<TOps, TVec>(ref Unsafe.Add(ref c, ldc), w, c10, c11, add);
        if (h > 2) StoreRow<TOps, TVec>(ref Unsafe.Add(ref c, 2 * ldc), w, c20, c21, add);
        if (h > 3) StoreRow<TOps, TVec>(ref Unsafe.Add(ref c, 3 * ldc), w, c30, c31, add);
        if (h > 4) StoreRow<TOps, TVec>(ref Unsafe.Add(ref c, 4 * ldc), w, c40, c41, add);
        if (h > 5) StoreRow<TOps, TVec>(ref Unsafe.Add(ref c, 5 * ldc), w, c50, c51, add);
    }

    /// <summary>One k step of the micro-kernel: two B vectors, one broadcast of A per row, 2H FMAs into the accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step<TOps, TVec, THeight>(ref float a, nint r1, nint r2, nint r3, nint r4, nint r5, ref float b,
        ref TVec c00, ref TVec c01, ref TVec c10, ref TVec c11, ref TVec c20, ref TVec c21, ref TVec c30, ref TVec c31, ref TVec c40, ref TVec c41, ref TVec c50, ref TVec c51)
        where TOps : IVectorOps<TVec> where TVec : struct where THeight : ITileHeight
    {
        int h = THeight.Rows;
        TVec b0 = TOps.Load(ref b, 0), b1 = TOps.Load(ref b, (nuint)TOps.Count);
        TVec x = TOps.Broadcast(a);
        c00 = TOps.MultiplyAdd(x, b0, c00); c01 = TOps.MultiplyAdd(x, b1, c01);
        if (h > 1) { x = TOps.Broadcast(Unsafe.Add(ref a, r1)); c10 = TOps.MultiplyAdd(x, b0, c10); c11 = TOps.MultiplyAdd(x, b1, c11); }
        if (h > 2) { x = TOps.Broadcast(Unsafe.Add(ref a, r2)); c20 = TOps.MultiplyAdd(x, b0, c20); c21 = TOps.MultiplyAdd(x, b1, c21); }
        if (h > 3) { x = TOps.Broadcast(Unsafe.Add(ref a, r3)); c30 = TOps.MultiplyAdd(x, b0, c30); c31 = TOps.MultiplyAdd(x, b1, c31); }
        if (h > 4) { x = TOps.Broadcast(Unsafe.Add(ref a, r4)); c40 = TOps.MultiplyAdd(x, b0, c40); c41 = TOps.MultiplyAdd(x, b1, c41); }
        if (h > 5) { x = TOps.Broadcast(Unsafe.Add(ref a, r5)); c50 = TOps.MultiplyAdd(x, b0, c50); c51 = TOps.MultiplyAdd(x, b1, c51); }
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

    /// <summary>C's valid (rows, columns) corner = [C +] the scratch tile (MR, NR).</summary>
    private static void MergeTile(ReadOnlySpan<float> tile, int nr, ref float c, int ldc, int rows, int columns, bool add)
    {
        for (int i = 0; i < rows; i++)
        {
            ref float ci = ref Unsafe.Add(ref c, (nint)i * ldc);
            for (int j = 0; j < columns; j++) Unsafe.Add(ref ci, j) = add ? Unsafe.Add(ref ci, j) + tile[i * nr + j] : tile[i * nr + j];
        }
    }

    /// <summary>
    /// Where packed A's tile number `tile`, starting at row r, begins: r*kc, plus one cache line per tile before it.
    /// A 6-row panel of 512 steps is 12 KiB, a multiple of 4 KiB, so without the skew every tile's panel would
    /// start in the same L1 set, and packing Aᵀ, which writes all the tiles' panels at once, would keep evicting
    /// its own lines (L1 is 8-way; a block has up to 16 tiles).
    /// </summary>
    private static nint PackedPanelOffset(int r, int tile, int kc) => (nint)r * kc + (nint)tile * PanelSkew;

    /// <summary>A's (mc, kc) block into row panels, one per tile: the tile at row r of height h is (kc, h) at PackedPanelOffset.</summary>
    private static void PackA(ref float a, int rs, int cs, RowTiles tiles, int kc, ref float destination, ref float rowSums)
    {
        if (rs == 1)
        {
            PackTransposedA(ref a, cs, tiles, kc, ref destination, ref rowSums);
            return;
        }
        for (int tile = 0, ir = 0; tile < tiles.Count; ir += tiles.Height(tile), tile++)
        {
            int rows = tiles.Height(tile);
            ref float panel = ref Unsafe.Add(ref destination, PackedPanelOffset(ir, tile, kc));
            ref float first = ref Unsafe.Add(ref a, (nint)ir * rs);
            // Step by step across the tile's rows: the panel is written front to back, each row read forward.
            int p = cs == 1 && rows >= 4 ? PackRowsByFourSteps(ref first, rs, rows, kc, ref panel) : 0;
            for (; p < kc; p++)
            {
                ref float source = ref Unsafe.Add(ref first, (nint)p * cs);
                ref float packed = ref Unsafe.Add(ref panel, p * rows);
                for (int i = 0; i < rows; i++) Unsafe.Add(ref packed, i) = Unsafe.Add(ref source, (nint)i * rs);
            }
        }
    }

    /// <summary>
    /// Aᵀ's block (A[i, p] at a[i + p*cs]: the parameter gradients, where step p is a row of the (T*B, G)
    /// gradient) into the tiles' panels, one source row at a time: row p holds every tile's values at step p side
    /// by side, so it is read once and dealt out, each tile's 4-6 values as two overlapping 4-float copies. Tile
    /// by tile instead, each tile would walk all kc rows again; rows a G-wide row apart (8 KiB at W1) all fall in
    /// the same L1 sets, so every such walk missed L1 on every row. Unless rowSums is null, row p is also added
    /// to rowSums[0..rows) (the rows of A, summed over this block's steps in order).
    /// </summary>
    private static void PackTransposedA(ref float a, int cs, RowTiles tiles, int kc, ref float destination, ref float rowSums)
    {
        bool vectors = Vector128.IsHardwareAccelerated && tiles.ShortestHeight >= 4;
        bool sums = !Unsafe.IsNullRef(ref rowSums);
        for (int p = 0; p < kc; p++)
        {
            ref float source = ref Unsafe.Add(ref a, (nint)p * cs);
            if (p + PrefetchAhead < kc) PrefetchRun(ref Unsafe.Add(ref source, (nint)PrefetchAhead * cs), tiles.Rows);
            if (sums) AddInPlace(ref rowSums, ref source, tiles.Rows); // the row is in L1 now: the copies below read it again
            for (int tile = 0, ir = 0; tile < tiles.Count; tile++)
            {
                int rows = tiles.Height(tile);
                ref float values = ref Unsafe.Add(ref source, ir);
                ref float packed = ref Unsafe.Add(ref destination, PackedPanelOffset(ir, tile, kc) + p * rows);
                if (vectors)
                {
                    // values 0-3, then rows-4..rows-1 (the same ones again when rows is 4): stays within the tile's slot
                    Vector128.LoadUnsafe(ref values).StoreUnsafe(ref packed);
                    Vector128.LoadUnsafe(ref values, (nuint)(rows - 4)).StoreUnsafe(ref packed, (nuint)(rows - 4));
                }
                else
                {
                    for (int i = 0; i < rows; i++) Unsafe.Add(ref packed, i) = Unsafe.Add(ref values, i);
                }
                ir += rows;
            }
        }
    }

    /// <summary>
    /// sums[0..count) += values[0..count), element by element (one float add each, as TensorPrimitives.Add). Not
    /// TensorPrimitives.Add itself: called once per Aᵀ row on runs of ~96 floats, its per-call dispatch measured
    /// slower (AbCompare, 2026-11-27: W1 0.979x per round in 20 rounds, W2 0.993x in 100), bit-identical.
    /// </summary>
    private static void AddInPlace(ref float sums, ref float values, int count)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + Vector256<float>.Count <= count; i += Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref sums, (nuint)i) + Vector256.LoadUnsafe(ref values, (nuint)i)).StoreUnsafe(ref sums, (nuint)i);
        }
        for (; i < count; i++) Unsafe.Add(ref sums, i) += Unsafe.Add(ref values, i);
    }

    /// <summary>
    /// The first steps of a tile of 4-6 contiguous rows (A[i, p] at a[i*rs + p]) into its panel, four steps at a
    /// time: rows 0-3 as a 4 x 4 transpose of one vector per row, rows 4 and 5 as interleaved pairs, instead of
    /// a scalar load and store per value. Returns the steps done (a multiple of 4, none without SSE); the caller
    /// copies the rest. PackA fell from 6.5% to 5.0% of W1's samples; whole training steps, in one process
    /// (tools/AbCompare), 1.034x and 1.037x at W1, 1.002x and 1.013x at W2.
    /// </summary>
    private static int PackRowsByFourSteps(ref float a, int rs, int rows, int kc, ref float panel)
    {
        if (!Sse.IsSupported) return 0;
        ref float row4 = ref Unsafe.Add(ref a, 4 * (nint)rs);
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            var r0 = Vector128.LoadUnsafe(ref Unsafe.Add(ref a, p));
            var r1 = Vector128.LoadUnsafe(ref Unsafe.Add(ref a, rs + p));
            var r2 = Vector128.LoadUnsafe(ref Unsafe.Add(ref a, 2 * (nint)rs + p));
            var r3 = Vector128.LoadUnsafe(ref Unsafe.Add(ref a, 3 * (nint)rs + p));
            var t0 = Sse.UnpackLow(r0, r1);  // r0[0] r1[0] r0[1] r1[1]
            var t1 = Sse.UnpackLow(r2, r3);  // r2[0] r3[0] r2[1] r3[1]
            var t2 = Sse.UnpackHigh(r0, r1); // r0[2] r1[2] r0[3] r1[3]
            var t3 = Sse.UnpackHigh(r2, r3); // r2[2] r3[2] r2[3] r3[3]
            ref float step = ref Unsafe.Add(ref panel, p * rows); // step p's rows, then p+1's, ... rows apart
            Sse.MoveLowToHigh(t0, t1).StoreUnsafe(ref step);                           // step p: rows 0-3
            Sse.MoveHighToLow(t1, t0).StoreUnsafe(ref Unsafe.Add(ref step, rows));     // step p+1
            Sse.MoveLowToHigh(t2, t3).StoreUnsafe(ref Unsafe.Add(ref step, 2 * rows)); // step p+2
            Sse.MoveHighToLow(t3, t2).StoreUnsafe(ref Unsafe.Add(ref step, 3 * rows)); // step p+3
            if (rows == 6)
            {
                var r4 = Vector128.LoadUnsafe(ref Unsafe.Add(ref row4, p));
                var r5 = Vector128.LoadUnsafe(ref Unsafe.Add(ref row4, rs + p));
                var low = Sse.UnpackLow(r4, r5).AsUInt64();   // rows 4 and 5 at step p, then at p+1
                var high = Sse.UnpackHigh(r4, r5).AsUInt64(); // at steps p+2 and p+3
                Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref step, 4)), low.GetElement(0));
                Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref step, rows + 4)), low.GetElement(1));
                Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref step, 2 * rows + 4)), high.GetElement(0));
                Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref step, 3 * rows + 4)), high.GetElement(1));
            }
            else if (rows == 5)
            {
                for (int q = 0; q < 4; q++) Unsafe.Add(ref step, q * rows + 4) = Unsafe.Add(ref row4, p + q);
            }
        }
        return p;
    }

    /// <summary>
    /// Asks for the cache lines of run[0..count) ahead of use (x86; elsewhere nothing): the micro-kernel's
    /// accumulated C rows, and the rows packing Aᵀ will read. Packing Aᵀ reads a few floats from each of KC rows
    /// a row apart, a stride the hardware prefetchers serve late: the activations come from L3. Profiles: PackA's
    /// share of all samples fell from 7.5-8.7% to 6.3-6.4% at W2 and from 8.6-9.0% to 6.5-7.3% at W1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchRun(ref float run, int count)
    {
        if (!Sse.IsSupported) return;
        for (int i = 0; i < count; i += FloatsPerCacheLine) Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref run, i)));
        // The run rarely starts on a line boundary, so the steps above can stop one line short of its end.
        if (count > 0) Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref run, count - 1)));
    }

    /// <summary>B's (kc, nc) block (rows ldb apart) into column panels of NR, zero columns past nc.</summary>
    private static void PackB<TOps, TVec>(ref float b, int ldb, int kc, int nc, ref float destination)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        nuint w = (nuint)TOps.Count;
        int nr = 2 * TOps.Count, full = nc - nc % nr;
        // Row by row, each dealt out to the panels: B is read front to back (panel by panel would read a few
        // floats from every row, a row apart, once per panel).
        for (int p = 0; p < kc; p++)
        {
            ref float row = ref Unsafe.Add(ref b, (nint)p * ldb);
            ref float packedRow = ref Unsafe.Add(ref destination, p * nr); // row p of panel 0
            int jr = 0;
            for (; jr < full; jr += nr)
            {
                ref float target = ref Unsafe.Add(ref packedRow, (nint)jr * kc);
                TOps.Store(TOps.Load(ref row, (nuint)jr), ref target, 0);
                TOps.Store(TOps.Load(ref row, (nuint)jr + w), ref target, w);
            }
            if (jr < nc)
            {
                ref float target = ref Unsafe.Add(ref packedRow, (nint)jr * kc);
                for (int j = 0; j < nc - jr; j++) Unsafe.Add(ref target, j) = Unsafe.Add(ref row, jr + j);
                for (int j = nc - jr; j < nr; j++) Unsafe.Add(ref target, j) = 0f;
            }
        }
    }

    /// <summary>B = W^T's (kc, nc) block into column panels of nr, from W's rows (ldw apart); zero columns past nc.</summary>
    private static void PackTransposedB(ref float w, int ldw, int kc, int nc, int nr, ref float destination)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int columns = Math.Min(nr, nc - jr);
            ref float panel = ref Unsafe.Add(ref destination, (nint)jr * kc);
            // Column j of the panel is W's row jr + j, read along k: nr sequential streams.
            for (int j = 0; j < columns; j++)
            {
                ref float row = ref Unsafe.Add(ref w, (nint)(jr + j) * ldw);
                for (int p = 0; p < kc; p++) Unsafe.Add(ref panel, p * nr + j) = Unsafe.Add(ref row, p);
            }
            for (int j = columns; j < nr; j++)
            {
                for (int p = 0; p < kc; p++) Unsafe.Add(ref panel, p * nr + j) = 0f;
            }
        }
    }

    /// <summary>
    /// A handful of rows against B = W^T: each C element is the dot product of an A row and a W row, summed in
    /// exactly PanelStreaming's order (four k phases, the tail in phase 0, then (0+1)+(2+3)), so a product read
    /// in place equals the same product through packed panels bit for bit (the sampler's split weights are
    /// panels; evaluation's are not). Scalar: only products of one or two rows come here (the evaluator's last
    /// chunk, single-step unrolled models), never a hot loop.
    /// </summary>
    private static void RowDots(ref float a, int lda, ref float w, int ldw, ref float c, int ldc, int m, int n, int k, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            ref float ai = ref Unsafe.Add(ref a, (nint)i * lda);
            ref float ci = ref Unsafe.Add(ref c, (nint)i * ldc);
            for (int j = 0; j < n; j++)
            {
                ref float wj = ref Unsafe.Add(ref w, (nint)j * ldw);
                float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
                int p = 0;
                for (; p + 4 <= k; p += 4)
                {
                    s0 = ScalarMultiplyAdd(Unsafe.Add(ref ai, p), Unsafe.Add(ref wj, p), s0);
                    s1 = ScalarMultiplyAdd(Unsafe.Add(ref ai, p + 1), Unsafe.Add(ref wj, p + 1), s1);
                    s2 = ScalarMultiplyAdd(Unsafe.Add(ref ai, p + 2), Unsafe.Add(ref wj, p + 2), s2);
                    s3 = ScalarMultiplyAdd(Unsafe.Add(ref ai, p + 3), Unsafe.Add(ref wj, p + 3), s3);
                }
                for (; p < k; p++) s0 = ScalarMultiplyAdd(Unsafe.Add(ref ai, p), Unsafe.Add(ref wj, p), s0);
                float dot = (s0 + s1) + (s2 + s3);
                Unsafe.Add(ref ci, j) = accumulate ? Unsafe.Add(ref ci, j) + dot : dot;
            }
        }
    }

    /// <summary>
    /// A handful of rows against a plain B: stream B row by row, contiguously, into a C row that stays in L1,
    /// instead of walking B in column panels.
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
                for (; j < n; j++) Unsafe.Add(ref ci, j) = ScalarMultiplyAdd(x, Unsafe.Add(ref bp, j), Unsafe.Add(ref ci, j));
            }
        }
    }

    /// <summary>x * y + z as the vector paths compute it: fused where the CPU has FMA (MathF's is a slow software
    /// routine where it has not).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ScalarMultiplyAdd(float x, float y, float z) =>
        Simd.HasFusedMultiplyAdd ? MathF.FusedMultiplyAdd(x, y, z) : x * y + z;

    /// <summary>
    /// A handful of rows against a packed B (float or bf16 panels): each panel is read once, front to back, per
    /// row. Four k steps in flight (eight accumulators) hide the FMA latency that one pair of sums would expose.
    /// </summary>
    private static void PanelStreaming<TOps, TVec, TElement>(ref float a, int rs, int cs, PackedMatrix b, ref float c, int ldc, int m, bool accumulate)
        where TOps : IVectorOps<TVec> where TVec : struct where TElement : unmanaged
    {
        nuint w = (nuint)TOps.Count;
        int nr = 2 * TOps.Count, k = b.K;
        Span<float> edge = stackalloc float[WidestPanel]; // (1, NR) scratch for the last, partial panel
        for (int i = 0; i < m; i++)
        {
            ref float ai = ref Unsafe.Add(ref a, (nint)i * rs);
            ref float ci = ref Unsafe.Add(ref c, (nint)i * ldc);
            for (int panel = 0; panel < b.PanelCount; panel++)
            {
                ref TElement bp = ref PanelStart<TElement>(b, panel);
                TVec s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
                int p = 0;
                ref float ap = ref ai; // A[i, p], walked by pointer: no multiply per step
                for (; p + 4 <= k; p += 4)
                {
                    // Each row's load, widening and FMAs together: short live ranges, no spills (16 ymm registers).
                    TVec x = TOps.Broadcast(ap);
                    LoadPanelRow<TOps, TVec, TElement>(ref bp, 0, out TVec lower, out TVec upper);
                    s0 = TOps.MultiplyAdd(x, lower, s0); s1 = TOps.MultiplyAdd(x, upper, s1);
                    x = TOps.Broadcast(Unsafe.Add(ref ap, cs));
                    LoadPanelRow<TOps, TVec, TElement>(ref bp, 2 * w, out lower, out upper);
                    s2 = TOps.MultiplyAdd(x, lower, s2); s3 = TOps.MultiplyAdd(x, upper, s3);
                    x = TOps.Broadcast(Unsafe.Add(ref ap, 2 * cs));
                    LoadPanelRow<TOps, TVec, TElement>(ref bp, 4 * w, out lower, out upper);
                    s4 = TOps.MultiplyAdd(x, lower, s4); s5 = TOps.MultiplyAdd(x, upper, s5);
                    x = TOps.Broadcast(Unsafe.Add(ref ap, 3 * cs));
                    LoadPanelRow<TOps, TVec, TElement>(ref bp, 6 * w, out lower, out upper);
                    s6 = TOps.MultiplyAdd(x, lower, s6); s7 = TOps.MultiplyAdd(x, upper, s7);
                    bp = ref Unsafe.Add(ref bp, 8 * w);
                    ap = ref Unsafe.Add(ref ap, 4 * cs);
                }
                for (; p < k; p++)
                {
                    TVec x = TOps.Broadcast(Unsafe.Add(ref ai, (nint)p * cs));
                    LoadPanelRow<TOps, TVec, TElement>(ref bp, 0, out TVec b0, out TVec b1);
                    s0 = TOps.MultiplyAdd(x, b0, s0); s1 = TOps.MultiplyAdd(x, b1, s1);
                    bp = ref Unsafe.Add(ref bp, 2 * w);
                }
                TVec v0 = TOps.Add(TOps.Add(s0, s2), TOps.Add(s4, s6)), v1 = TOps.Add(TOps.Add(s1, s3), TOps.Add(s5, s7));
                int j0 = panel * nr, columns = Math.Min(nr, b.N - j0);
                if (columns == nr)
                {
                    StoreRow<TOps, TVec>(ref Unsafe.Add(ref ci, j0), w, v0, v1, accumulate);
                }
                else
                {
                    StoreRow<TOps, TVec>(ref MemoryMarshal.GetReference(edge), w, v0, v1, add: false);
                    MergeTile(edge, nr, ref Unsafe.Add(ref ci, j0), ldc, 1, columns, accumulate);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref TElement PanelStart<TElement>(PackedMatrix b, int panel) where TElement : unmanaged
    {
        if (typeof(TElement) == typeof(float)) return ref Unsafe.As<float, TElement>(ref b.Panel(panel));
        return ref Unsafe.As<ushort, TElement>(ref b.HalfPanel(panel));
    }

    /// <summary>One panel row (2 x width values) at row + offset, as two float vectors; bf16 widens exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadPanelRow<TOps, TVec, TElement>(ref TElement row, nuint offset, out TVec lower, out TVec upper)
        where TOps : IVectorOps<TVec> where TVec : struct where TElement : unmanaged
    {
        if (typeof(TElement) == typeof(float))
        {
            ref float f = ref Unsafe.As<TElement, float>(ref row);
            lower = TOps.Load(ref f, offset);
            upper = TOps.Load(ref f, offset + (nuint)TOps.Count);
        }
        else
        {
            TOps.LoadBFloat16Pair(ref Unsafe.Add(ref Unsafe.As<TElement, ushort>(ref row), offset), out lower, out upper);
        }
    }
}
