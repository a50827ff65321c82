// Vectorised exp, sigmoid and tanh in float, shared by the cell kernels and softmax.
// exp: Cephes-style range reduction x = n ln2 + r with a degree-6 polynomial on |r| <= ln2/2; max relative
// error ~2 ulp on [-87, 88] (enforced by ActivationsTests). Softmax uses it.
// tanh: an odd rational function, x P(x^2) / Q(x^2) with P and Q of degree 4, fitted (least squares,
// reweighted towards minimax) to tanh on [0, 9] and clamped there (tanh(9) is within 3e-8 of 1; the
// approximation already returns 1 from about 8.2). With the coefficients as stored (float) it is within 5.4e-8
// of tanh in exact arithmetic; evaluated in float it is within 3.1e-7 with FMA and ~3.4e-7 without (about 5-6
// ulp of 1, near saturation; measured over [-20, 20], enforced by ActivationsTests), and a final clamp keeps it
// in [-1, 1]. sigmoid(x) = (1 + tanh(x/2)) / 2: the same absolute error halved, exactly 0.5 at 0, exactly 1
// from about 15.8 and exactly 0 below about -16.3. Its small values have absolute, not relative, accuracy
// (steps of 2^-25 near 0): right for gates, which only multiply; wrong for anything taking log(sigmoid).
// Why not exp for the cells: tanh and sigmoid through exp (1 - 2/(1 + e^2x), 1/(1 + e^-x)) are one ~65-cycle
// dependency chain of ~21 instructions each, and the out-of-order window holds only a few such chains, so the
// cells ran at the chains' latency, not at the FMA units' throughput. The rational form is ~13 instructions
// and ~35 cycles deep: CellBench's LSTM forward at W2's rows (25 x 128) takes 11.5 us with it, 16.1 with exp.
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

    // tanh(x) ~ x P(x^2) / Q(x^2) on [-9, 9]: Horner in x^2, P and Q side by side (independent chains).
    private const float TanhClamp = 9f;
    private const float P0 = 0.9999999071363249f, P1 = 0.13373226102739466f, P2 = 0.0034866114382078534f,
        P3 = 2.0472168802159428e-05f, P4 = 1.3184459551895955e-08f;
    private const float Q1 = 0.4670652319789693f, Q2 = 0.025842102222080388f, Q3 = 0.00032714270452497893f,
        Q4 = 7.702806725552735e-07f; // Q0 = 1

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Sigmoid<TOps, TVec>(TVec x) where TOps : IVectorOps<TVec> where TVec : struct
    {
        TVec half = TOps.Broadcast(0.5f);
        return TOps.MultiplyAdd(half, Tanh<TOps, TVec>(TOps.Multiply(x, half)), half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Tanh<TOps, TVec>(TVec x) where TOps : IVectorOps<TVec> where TVec : struct
    {
        // Native min/max with x second, so a NaN input comes through as NaN.
        x = TOps.MinNative(TOps.Broadcast(TanhClamp), TOps.MaxNative(TOps.Broadcast(-TanhClamp), x));
        TVec s = TOps.Multiply(x, x);
        TVec p = TOps.MultiplyAdd(TOps.Broadcast(P4), s, TOps.Broadcast(P3));
        TVec q = TOps.MultiplyAdd(TOps.Broadcast(Q4), s, TOps.Broadcast(Q3));
        p = TOps.MultiplyAdd(p, s, TOps.Broadcast(P2));
        q = TOps.MultiplyAdd(q, s, TOps.Broadcast(Q2));
        p = TOps.MultiplyAdd(p, s, TOps.Broadcast(P1));
        q = TOps.MultiplyAdd(q, s, TOps.Broadcast(Q1));
        p = TOps.MultiplyAdd(p, s, TOps.Broadcast(P0));
        q = TOps.MultiplyAdd(q, s, TOps.Broadcast(1f));
        TVec y = TOps.Divide(TOps.Multiply(x, p), q);
        // Rounding can carry |y| a few ulp past 1; a gate must stay in [0, 1].
        return TOps.MinNative(TOps.Broadcast(1f), TOps.MaxNative(TOps.Broadcast(-1f), y));
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
