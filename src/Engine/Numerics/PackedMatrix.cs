// A right-hand matrix B (k, n) stored the way Gemm's micro-kernel reads it: column panels of PanelWidth
// columns (two vectors at the width it was packed for), each panel k rows of PanelWidth contiguous floats,
// zero-padded past n. Weights are packed once per optimizer step and then multiplied by at every time step,
// so the per-step products stream contiguous memory and pay for no copy.
// Generation may keep a matrix in bfloat16 instead (same layout, half the bytes): packing then rounds each
// weight once, and the kernels widen it back exactly as they read it.
// Deliberately not here: packing of activations (Gemm packs those per call into per-thread buffers).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CharRnn.Engine.Numerics;

public sealed class PackedMatrix
{
    private float[] _panels;           // (ceil(n / PanelWidth), k, PanelWidth) panel-major; columns past n are 0
    private readonly ushort[] _halves; // the same layout in bf16 when IsBFloat16 (then _panels is empty between packs)

    public PackedMatrix(int k, int n, SimdWidth width, bool bfloat16 = false)
    {
        if (k < 0 || n < 0) throw new ArgumentOutOfRangeException(nameof(k), $"matrix sizes must be non-negative, got k={k} n={n}");
        K = k;
        N = n;
        Width = width;
        PanelWidth = Gemm.PanelWidthFor(width);
        PanelCount = (int)(((long)n + PanelWidth - 1) / PanelWidth);
        IsBFloat16 = bfloat16;
        // In 64 bits: the panels' size wrapping in 32 would make an array far smaller than the packing writes.
        long length = (long)PanelCount * k * PanelWidth;
        if (length > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(k), $"({k}, {n}) packs into {length} values, more than one array holds ({Array.MaxLength})");
        _panels = bfloat16 ? [] : new float[length];
        _halves = bfloat16 ? new ushort[length] : [];
    }

    /// <summary>Whether the panels hold bf16 (generation only; packing one allocates a temporary float copy).</summary>
    public bool IsBFloat16 { get; }

    public int K { get; }
    public int N { get; }

    /// <summary>The vector width whose micro-kernel this layout feeds.</summary>
    public SimdWidth Width { get; }

    /// <summary>Columns per panel: two vectors of Width (16 floats at Vector256).</summary>
    public int PanelWidth { get; }

    public int PanelCount { get; }

    internal ref float Panel(int panel) => ref _panels[panel * K * PanelWidth];

    internal ref ushort HalfPanel(int panel) => ref _halves[panel * K * PanelWidth];

    /// <summary>B[p, j] at its packed position (for the scalar path and tests).</summary>
    public float this[int p, int j]
    {
        get
        {
            int row = (j / PanelWidth) * K * PanelWidth + p * PanelWidth;
            return IsBFloat16 ? BFloat16.ToSingle(_halves[row + BFloat16Position(j % PanelWidth)]) : _panels[row + j % PanelWidth];
        }
    }

    /// <summary>Packs B (k, n) given row-major with rows ldb apart.</summary>
    public void Pack(ReadOnlySpan<float> b, int ldb)
    {
        if (K > 0 && N > 0 && (ldb < N || (long)(K - 1) * ldb + N > b.Length)) throw new ArgumentException($"B holds {b.Length} elements with ldb {ldb}, too few for ({K}, {N})", nameof(b));
        BeginPack();
        for (int panel = 0; panel < PanelCount; panel++)
        {
            int j0 = panel * PanelWidth, columns = Math.Min(PanelWidth, N - j0);
            Span<float> destination = _panels.AsSpan(panel * K * PanelWidth, K * PanelWidth);
            for (int p = 0; p < K; p++)
            {
                b.Slice(p * ldb + j0, columns).CopyTo(destination.Slice(p * PanelWidth, columns));
                destination.Slice(p * PanelWidth + columns, PanelWidth - columns).Clear();
            }
        }
        EndPack();
    }

    /// <summary>
    /// Packs B = W^T from W (n, k) row-major with rows ldw apart: a PyTorch weight (out, in) packs as the
    /// (in, out) matrix the forward product x W^T multiplies by, with no transposed copy in between.
    /// </summary>
    public void PackTransposed(ReadOnlySpan<float> w, int ldw)
    {
        if (K > 0 && N > 0 && (ldw < K || (long)(N - 1) * ldw + K > w.Length)) throw new ArgumentException($"W holds {w.Length} elements with ldw {ldw}, too few for ({N}, {K})", nameof(w));
        if (K == 0) return;
        BeginPack();
        ref float source = ref MemoryMarshal.GetReference(w);
        for (int panel = 0; panel < PanelCount; panel++)
        {
            int j0 = panel * PanelWidth, columns = Math.Min(PanelWidth, N - j0);
            ref float destination = ref Panel(panel);
            if (columns < PanelWidth) _panels.AsSpan(panel * K * PanelWidth, K * PanelWidth).Clear();
            // 64 k-rows at a time: the 4 KiB of panel they fill stay in L1 while each W row is read along k.
            for (int p0 = 0; p0 < K; p0 += 64)
            {
                int pEnd = Math.Min(K, p0 + 64);
                for (int jj = 0; jj < columns; jj++)
                {
                    ref float row = ref Unsafe.Add(ref source, (nint)(j0 + jj) * ldw);
                    for (int p = p0; p < pEnd; p++) Unsafe.Add(ref destination, (nint)p * PanelWidth + jj) = Unsafe.Add(ref row, p);
                }
            }
        }
        EndPack();
    }

    // A bf16 matrix packs through a temporary float copy, rounded once at the end.
    private void BeginPack()
    {
        if (IsBFloat16) _panels = new float[_halves.Length];
    }

    private void EndPack()
    {
        if (!IsBFloat16) return;
        for (int row = 0; row < _halves.Length; row += PanelWidth)
        {
            for (int j = 0; j < PanelWidth; j++) _halves[row + BFloat16Position(j)] = BFloat16.FromSingle(_panels[row + j]);
        }
        _panels = [];
    }

    /// <summary>
    /// Where a bf16 panel row stores its column j. The loads widen a pair of vectors from one load of 32-bit words:
    /// the even positions make the first vector (columns 0..w-1, w = PanelWidth/2) and the odd ones the second
    /// (columns w..2w-1), so column j &lt; w sits at 2j and column w + i at 2i + 1. The same at every width.
    /// </summary>
    private int BFloat16Position(int j)
    {
        int w = PanelWidth / 2;
        return j < w ? 2 * j : 2 * (j - w) + 1;
    }
}
