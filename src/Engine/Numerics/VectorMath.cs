// Vectorised exp, sigmoid and tanh in float, shared by the cell kernels and softmax.
// exp: Cephes-style range reduction x = n ln2 + r with a degree-6 polynomial on |r| <= ln2/2; max relative
// error ~2 ulp on [-87, 88] (enforced by VectorMathTests). sigmoid and tanh are built on it:
//   sigmoid(x) = 1 / (1 + exp(-x));  tanh(x) = 1 - 2 / (1 + exp(2x))
// The tanh form loses relative accuracy near 0 (cancellation) but keeps absolute error below ~2e-7, which is
// what a cell needs; both saturate exactly instead of producing NaN for large |x|.
// Each is one long dependency chain (~70 cycles), so cells apply them in separate passes over a row, where
// the out-of-order core overlaps many independent elements, rather than inside one long fused iteration.
// Deliberately not here: double precision (the double paths use Math directly; they are references).
using System.Runtime.CompilerServices;

namespace CharRnn.Engine.Numerics;

internal static class VectorMath
{
    // exp overflows float past 88.72 and underflows to denormals below -87.33: clamp to where 2^n is a normal.
    internal const float ExpMaxInput = 88.3762626647949f;
    internal const float ExpMinInput = -87.3365447504f;
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;         // ln2 split so n*Ln2Hi is exact for |n| <= 128
    private const float Ln2Lo = -2.12194440e-4f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Exp<TOps, TVec>(TVec x) where TOps : IVectorOps<TVec> where TVec : struct
    {
        // Native min/max (one instruction each) with x second, so a NaN input comes through as NaN.
        x = TOps.MinNative(TOps.Broadcast(ExpMaxInput), TOps.MaxNative(TOps.Broadcast(ExpMinInput), x));
        TVec n = TOps.Floor(TOps.MultiplyAdd(x, TOps.Broadcast(Log2E), TOps.Broadcast(0.5f)));
        TVec r = TOps.Subtract(x, TOps.Multiply(n, TOps.Broadcast(Ln2Hi)));
        r = TOps.Subtract(r, TOps.Multiply(n, TOps.Broadcast(Ln2Lo)));
        TVec p = TOps.Broadcast(1.9875691500e-4f);
        p = TOps.MultiplyAdd(p, r, TOps.Broadcast(1.3981999507e-3f));
        p = TOps.MultiplyAdd(p, r, TOps.Broadcast(8.3334519073e-3f));
        p = TOps.MultiplyAdd(p, r, TOps.Broadcast(4.1665795894e-2f));
        p = TOps.MultiplyAdd(p, r, TOps.Broadcast(1.6666665459e-1f));
        p = TOps.MultiplyAdd(p, r, TOps.Broadcast(5.0000001201e-1f));
        TVec y = TOps.MultiplyAdd(p, TOps.Multiply(r, r), TOps.Add(r, TOps.Broadcast(1f)));
        return TOps.Multiply(y, TOps.Pow2(n));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Sigmoid<TOps, TVec>(TVec x) where TOps : IVectorOps<TVec> where TVec : struct
    {
        TVec one = TOps.Broadcast(1f);
        return TOps.Divide(one, TOps.Add(one, Exp<TOps, TVec>(TOps.Subtract(default, x))));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Tanh<TOps, TVec>(TVec x) where TOps : IVectorOps<TVec> where TVec : struct
    {
        TVec one = TOps.Broadcast(1f);
        TVec e2x = Exp<TOps, TVec>(TOps.Add(x, x));
        return TOps.Subtract(one, TOps.Divide(TOps.Broadcast(2f), TOps.Add(one, e2x)));
    }

    /// <summary>x[0..count) = sigmoid(x) in place; count is a multiple of the width (callers leave tails to scalar code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SigmoidInPlace<TOps, TVec>(ref float x, int count) where TOps : IVectorOps<TVec> where TVec : struct
    {
        for (int j = 0; j < count; j += TOps.Count) TOps.Store(Sigmoid<TOps, TVec>(TOps.Load(ref x, (nuint)j)), ref x, (nuint)j);
    }

    /// <summary>x[0..count) = tanh(x) in place; count is a multiple of the width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TanhInPlace<TOps, TVec>(ref float x, int count) where TOps : IVectorOps<TVec> where TVec : struct
    {
        for (int j = 0; j < count; j += TOps.Count) TOps.Store(Tanh<TOps, TVec>(TOps.Load(ref x, (nuint)j)), ref x, (nuint)j);
    }

    // Scalar twins: the definitions the vector paths are tested against, and what tails use.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SigmoidScalar(float x) => 1f / (1f + MathF.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float TanhScalar(float x) => MathF.Tanh(x);
}
