// Softmax of one row of logits at a temperature, the shared core of the loss and of sampling:
//   p_j = exp((z_j - max z) / tau) / sum_k exp((z_k - max z) / tau)
// Subtracting the max first keeps every exponent <= 0, so nothing overflows whatever the logits.
// Returns log(sum_k exp((z_k - max z)/tau)) + max z / tau, the log-partition, from which the loss of any
// target follows without a log of a rounded probability.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CharRnn.Engine.Numerics;

public static class Softmax
{
    public static float Row(ReadOnlySpan<float> logits, Span<float> probabilities, float inverseTemperature) =>
        Row(logits, probabilities, inverseTemperature, Simd.Best);

    public static float Row(ReadOnlySpan<float> logits, Span<float> probabilities, float inverseTemperature, SimdWidth width)
    {
        if (logits.Length == 0) throw new ArgumentException("softmax of an empty row", nameof(logits));
        if (probabilities.Length < logits.Length) throw new ArgumentException($"destination holds {probabilities.Length}, logits {logits.Length}", nameof(probabilities));
        return width switch
        {
            SimdWidth.Vector512 => Vectorised<Ops512, Vector512<float>>(logits, probabilities, inverseTemperature),
            SimdWidth.Vector256 => Vectorised<Ops256, Vector256<float>>(logits, probabilities, inverseTemperature),
            SimdWidth.Vector128 => Vectorised<Ops128, Vector128<float>>(logits, probabilities, inverseTemperature),
            _ => SoftmaxReference.Row(logits, probabilities, inverseTemperature),
        };
    }

    private static float Vectorised<TOps, TVec>(ReadOnlySpan<float> logits, Span<float> probabilities, float inverseTemperature)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        ref float rz = ref MemoryMarshal.GetReference(logits);
        ref float rp = ref MemoryMarshal.GetReference(probabilities);
        int n = logits.Length, w = TOps.Count, vectorEnd = n - n % w;

        // Max: vector lanes, then the scalar tail (a reduction never double-counts, though max would not mind).
        float max = float.NegativeInfinity;
        if (vectorEnd > 0)
        {
            TVec vmax = TOps.Load(ref rz, 0);
            for (int j = w; j < vectorEnd; j += w) vmax = TOps.Max(vmax, TOps.Load(ref rz, (nuint)j));
            max = TOps.MaxAcross(vmax);
        }
        for (int j = vectorEnd; j < n; j++) max = MathF.Max(max, logits[j]);

        TVec vshift = TOps.Broadcast(max), vscale = TOps.Broadcast(inverseTemperature), vsum = default;
        for (int j = 0; j < vectorEnd; j += w)
        {
            TVec e = VectorMath.Exp<TOps, TVec>(TOps.Multiply(TOps.Subtract(TOps.Load(ref rz, (nuint)j), vshift), vscale));
            TOps.Store(e, ref rp, (nuint)j);
            vsum = TOps.Add(vsum, e);
        }
        float sum = TOps.Sum(vsum);
        for (int j = vectorEnd; j < n; j++)
        {
            probabilities[j] = MathF.Exp((logits[j] - max) * inverseTemperature);
            sum += probabilities[j];
        }
        float inverseSum = 1f / sum;
        TVec vinv = TOps.Broadcast(inverseSum);
        for (int j = 0; j < vectorEnd; j += w) TOps.Store(TOps.Multiply(TOps.Load(ref rp, (nuint)j), vinv), ref rp, (nuint)j);
        for (int j = vectorEnd; j < n; j++) probabilities[j] *= inverseSum;
        return MathF.Log(sum) + max * inverseTemperature;
    }
}
