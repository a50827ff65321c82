// Clipping by global L2 norm exactly as torch.nn.utils.clip_grad_norm_: if max/(norm + 1e-6) < 1, every
// gradient is scaled by that factor. The norm is summed in double so it does not depend on vector width.
using System.Numerics.Tensors;

namespace CharRnn.Engine.Training;

public static class GradientClipping
{
    /// <summary>Returns the norm before clipping (NaN or infinity when a gradient is not finite).</summary>
    public static double ClipByGlobalNorm(Span<float> gradients, float maxNorm)
    {
        double sumOfSquares = 0;
        const int Block = 4096; // float sums of short blocks, accumulated in double: accurate and still SIMD
        for (int i = 0; i < gradients.Length; i += Block)
        {
            var block = gradients.Slice(i, Math.Min(Block, gradients.Length - i));
            sumOfSquares += TensorPrimitives.SumOfSquares<float>(block);
        }
        double norm = Math.Sqrt(sumOfSquares);
        double coefficient = maxNorm / (norm + 1e-6);
        if (coefficient < 1 && double.IsFinite(norm)) TensorPrimitives.Multiply(gradients, (float)coefficient, gradients);
        return norm;
    }
}
