// One weight matrix as the generation step reads it, in the chosen WeightFormat: float panels, bf16 panels (or,
// for the tiled kernel of three or more streams, bf16-rounded values in float panels), or 8-bit panels. Built
// once from a PyTorch-layout weight W (n, k); multiplies rows x (m, k) into C (m, n) as x W^T.
// Deliberately not here: which rows of which tensor a thread owns (SplitStepper).
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Sampling;

internal sealed class GenerationWeights
{
    private readonly PackedMatrix? _packed; // Float32 or BFloat16: (k, n) panels
    private readonly Int8Matrix? _int8;     // Int8: (k, n) 8-bit panels

    /// <summary>w: W (n, k) row-major, a copy this takes over (bf16 rounds it in place). halfPanels: hold bf16 panels
    /// (for one or two streams, which stream them).</summary>
    public GenerationWeights(float[] w, int k, int n, WeightFormat format, bool halfPanels)
    {
        if (format == WeightFormat.Int8)
        {
            _int8 = new Int8Matrix(k, n);
            _int8.PackTransposed(w, k);
            return;
        }
        if (format == WeightFormat.BFloat16) BFloat16.Round(w); // a no-op for bf16 panels, which round anyway
        _packed = new PackedMatrix(k, n, Simd.Best, halfPanels);
        _packed.PackTransposed(w, k);
    }

    /// <summary>C (m, n) = [C +] x (m, k) W^T; x rows lda apart, C rows ldc apart.</summary>
    public void Multiply(ReadOnlySpan<float> x, int lda, Span<float> c, int ldc, int m, bool accumulate)
    {
        if (_int8 != null) Int8Product.Multiply(x, lda, _int8, c, ldc, m, accumulate);
        else Gemm.Multiply(x, lda, 1, _packed!, c, ldc, m, accumulate);
    }
}
