// Element-wise exp, sigmoid and tanh over spans, each with its scalar twin. The cells fuse these functions
// into their own passes (VectorMath); these span forms serve the LSTM backward's recomputation of tanh(c)
// and pin the approximation error in tests. Remainder policy: the tail that does not fill a vector runs the vector
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
        where TOps : IVectorOps<TVec> where TVec : struct => function switch
    {
        Activation.Exp => Loop<TOps, TVec, ExpFunction>(x, y),
        Activation.Sigmoid => Loop<TOps, TVec, SigmoidFunction>(x, y),
        _ => Loop<TOps, TVec, TanhFunction>(x, y),
    };

    // One loop per function, out of line: a single loop choosing among all three inlined all three (then each
    // built on exp), exhausted the JIT's inlining budget and ended up calling exp once per vector (4x slower at
    // a 128-unit row).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Loop<TOps, TVec, TFunction>(ReadOnlySpan<float> x, Span<float> y)
        where TOps : IVectorOps<TVec> where TVec : struct where TFunction : IFunction
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int w = TOps.Count, i = 0;
        for (; i + w <= x.Length; i += w) TOps.Store(TFunction.Apply<TOps, TVec>(TOps.Load(ref rx, (nuint)i)), ref ry, (nuint)i);
        return i;
    }

    // A function as a type, so each loop compiles with exactly its function inlined.
    private interface IFunction
    {
        static abstract TVec Apply<TOps, TVec>(TVec x) where TOps : IVectorOps<TVec> where TVec : struct;
    }

    private readonly struct ExpFunction : IFunction
    {
        public static TVec Apply<TOps, TVec>(TVec x) where TOps : IVectorOps<TVec> where TVec : struct => VectorMath.Exp<TOps, TVec>(x);
    }

    private readonly struct SigmoidFunction : IFunction
    {
        public static TVec Apply<TOps, TVec>(TVec x) where TOps : IVectorOps<TVec> where TVec : struct => VectorMath.Sigmoid<TOps, TVec>(x);
    }

    private readonly struct TanhFunction : IFunction
    {
        public static TVec Apply<TOps, TVec>(TVec x) where TOps : IVectorOps<TVec> where TVec : struct => VectorMath.Tanh<TOps, TVec>(x);
    }
}
