// A right-hand matrix B (k, n) quantized to 8-bit integers for generation: each column j keeps a float scale
// (its largest |B[p, j]| / 127) and B[p, j] ~ q[p, j] * scale_j with q in [-127, 127]. A quarter of the bytes
// of float weights, half of bf16: batch-1 generation is bound by how fast the weights stream from cache.
// The product rounds its left-hand rows to 16-bit integers too (Int8Product), so it is an exact integer sum:
// the same bits at every vector width, thread split and batch size.
// Layout: column panels of 16, each ceil(k/2) pair rows of 32 bytes; pair row r of a panel holds, for its 16
// columns in order, the two weights of k-steps 2r and 2r+1 side by side (an odd k's last pair ends in 0).
// That is what one sign-extension to 16 bits followed by a multiply-add of adjacent pairs consumes: 8 columns
// per 16 bytes at Vector256, all 16 per 32 bytes at Vector512, 4 per 8 bytes at Vector128.
// Deliberately not here: the product and the activations' rounding (Int8Product).
namespace CharRnn.Engine.Numerics;

public sealed class Int8Matrix
{
    public const int PanelWidth = 16;
    public const int WeightLimit = 127; // symmetric: -128 is never used, so negation is exact

    private readonly sbyte[] _panels;      // (PanelCount, Pairs, PanelWidth, 2) quantized weights; 0 past n and past k
    private readonly float[] _outputScale; // (PanelCount * PanelWidth) scale_j / ActivationScale; 0 past n

    public Int8Matrix(int k, int n)
    {
        if (k < 0 || k > MaxK) throw new ArgumentOutOfRangeException(nameof(k), k, $"rows must be in 0..{MaxK} (beyond, an input in [-1, 1] would keep fewer than 8 bits in the 32-bit sums)");
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "columns must be non-negative");
        K = k;
        N = n;
        Pairs = (k + 1) / 2;
        PanelCount = (n + PanelWidth - 1) / PanelWidth;
        ActivationLimit = (int)Math.Min(short.MaxValue, int.MaxValue / ((long)WeightLimit * Math.Max(1, 2 * Pairs)));
        ActivationScale = 1 << (int)Math.Log2(ActivationLimit);
        long bytes = (long)PanelCount * Pairs * PanelWidth * 2;
        if (bytes > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(n), n, $"({k}, {n}) needs {bytes} bytes of panels, more than one array holds");
        _panels = new sbyte[bytes];
        _outputScale = new float[PanelCount * PanelWidth];
    }

    /// <summary>Rows beyond which an activation of 1 would keep fewer than 8 bits (the scale would fall below 256):
    /// far beyond any hidden size here.</summary>
    public const int MaxK = 1 << 16;

    public int K { get; }
    public int N { get; }
    public int PanelCount { get; }

    /// <summary>k-step pairs per panel: ceil(k / 2).</summary>
    public int Pairs { get; }

    /// <summary>
    /// The largest |integer| an activation is rounded to: every sum of 2 * Pairs products of it and a weight
    /// (|q| ≤ 127) fits in 32 bits, so the kernels never overflow (32767 up to k = 516, half that up to 1032, ...).
    /// </summary>
    public int ActivationLimit { get; }

    /// <summary>
    /// Activations are rounded to multiples of 1 / ActivationScale, a power of two (so x * scale is exact) at most
    /// ActivationLimit: 16384 up to k = 1032, so an input in [-1, 1] (h of every cell here) keeps 15 bits, and
    /// inputs up to ActivationLimit / ActivationScale (≥ 1) are represented before they saturate.
    /// </summary>
    public float ActivationScale { get; }

    internal sbyte[] Panels => _panels;
    internal float[] OutputScale => _outputScale;

    /// <summary>B[p, j] as the products use it: the quantized weight times its column's scale.</summary>
    public float this[int p, int j]
    {
        get
        {
            if ((uint)p >= (uint)K) throw new ArgumentOutOfRangeException(nameof(p), p, $"row must be in 0..{K - 1}");
            if ((uint)j >= (uint)N) throw new ArgumentOutOfRangeException(nameof(j), j, $"column must be in 0..{N - 1}");
            return _panels[Position(p, j)] * ColumnScale(j);
        }
    }

    /// <summary>Column j's weight scale: its largest |B[p, j]| / 127 (0 for an all-zero column).</summary>
    public float ColumnScale(int j) => _outputScale[j] * ActivationScale;

    /// <summary>
    /// Quantizes B = W^T from W (n, k) row-major with rows ldw apart (a PyTorch weight (out, in)): column j of B
    /// is W's row j, so each output unit gets its own scale, and a large weight in one unit costs no precision in
    /// another. Every weight must be finite.
    /// </summary>
    public void PackTransposed(ReadOnlySpan<float> w, int ldw)
    {
        if (K > 0 && N > 0 && (ldw < K || (long)(N - 1) * ldw + K > w.Length)) throw new ArgumentException($"W holds {w.Length} elements with ldw {ldw}, too few for ({N}, {K})", nameof(w));
        Array.Clear(_panels);
        for (int j = 0; j < N; j++)
        {
            ReadOnlySpan<float> row = w.Slice(j * ldw, K);
            float largest = 0f;
            foreach (float value in row)
            {
                if (!float.IsFinite(value)) throw new ArgumentException($"W[{j}] holds {value}; only finite weights can be quantized", nameof(w));
                largest = Math.Max(largest, Math.Abs(value));
            }
            float scale = largest / WeightLimit;
            _outputScale[j] = scale / ActivationScale; // exact: ActivationScale is a power of two
            if (scale == 0f) continue;
            for (int p = 0; p < K; p++) _panels[Position(p, j)] = (sbyte)Math.Clamp(MathF.Round(row[p] / scale), -WeightLimit, WeightLimit);
        }
    }

    /// <summary>Where the weight B[p, j] sits in the panels.</summary>
    private int Position(int p, int j) => ((j / PanelWidth * Pairs + p / 2) * PanelWidth + j % PanelWidth) * 2 + p % 2;
}
