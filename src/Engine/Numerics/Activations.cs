// Element-wise exp, sigmoid and tanh over spans, each with its scalar twin. The cells fuse these functions
// into their own passes (VectorMath); these span forms exist for the vanilla cell and to pin the
// approximation error in tests. Remainder policy: the tail that does not fill a vector runs the vector
// code on nothing; it runs the exact scalar twin instead, so in-place calls never process an element twice.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CharRnn.Engine.Numerics;

public enum Activation { Exp, Sigmoid, Tanh }

public static class Activations
{
    public static void Apply(Activation function, ReadOnlySpan<float> x, Span<float> y) => Apply(function, x, y, Simd.Best);

    public static void Apply(Activation function, ReadOnlySpan<float> x, Span<float> y, SimdWidth width)
    {
        if (y.Length < x.Length) throw new ArgumentException($"destination holds {y.Length} elements, source {x.Length}", nameof(y));
        int done = width switch
        {
            SimdWidth.Vector512 => Vectorised<Ops512, Vector512<float>>(function, x, y),
            SimdWidth.Vector256 => Vectorised<Ops256, Vector256<float>>(function, x, y),
            SimdWidth.Vector128 => Vectorised<Ops128, Vector128<float>>(function, x, y),
            _ => 0,
        };
        ApplyReference(function, x[done..], y[done..x.Length]);
    }

    /// <summary>The definition: exact single-precision library functions.</summary>
    public static void ApplyReference(Activation function, ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = function switch
            {
                Activation.Exp => MathF.Exp(x[i]),
                Activation.Sigmoid => VectorMath.SigmoidScalar(x[i]),
                _ => VectorMath.TanhScalar(x[i]),
            };
        }
    }

    private static int Vectorised<TOps, TVec>(Activation function, ReadOnlySpan<float> x, Span<float> y)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int w = TOps.Count, i = 0;
        for (; i + w <= x.Length; i += w)
        {
            TVec v = TOps.Load(ref rx, (nuint)i);
            v = function switch
            {
                Activation.Exp => VectorMath.Exp<TOps, TVec>(v),
                Activation.Sigmoid => VectorMath.Sigmoid<TOps, TVec>(v),
                _ => VectorMath.Tanh<TOps, TVec>(v),
            };
            TOps.Store(v, ref ry, (nuint)i);
        }
        return i;
    }
}
