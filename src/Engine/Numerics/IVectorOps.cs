// One vector width as a set of static operations, so each SIMD kernel is written once as a generic method
// and the JIT specialises it for Vector512, Vector256 and Vector128 (struct type arguments are never shared).
// Deliberately not here: anything scalar. Every kernel keeps a plain scalar twin of its own, the definition.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace CharRnn.Engine.Numerics;

internal interface IVectorOps<TVec> where TVec : struct
{
    static abstract int Count { get; }
    static abstract bool IsAccelerated { get; }
    static abstract TVec Load(ref float source, nuint offset);
    static abstract void Store(TVec value, ref float destination, nuint offset);
    static abstract TVec Broadcast(float value);
    static abstract TVec Add(TVec a, TVec b);
    static abstract TVec Subtract(TVec a, TVec b);
    static abstract TVec Multiply(TVec a, TVec b);
    static abstract TVec Divide(TVec a, TVec b);
    /// <summary>
    /// a * b + c: one FMA where the hardware has it; elsewhere a multiply and an add (two roundings), because the
    /// runtime's software FMA fallback is scalar and ~100x slower (a NativeAOT build for the x64 baseline has no FMA).
    /// </summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec c);
    static abstract TVec Min(TVec a, TVec b);
    static abstract TVec Max(TVec a, TVec b);
    /// <summary>One min instruction (IEEE Min costs a compare-and-blend sequence): returns b if either is NaN.</summary>
    static abstract TVec MinNative(TVec a, TVec b);
    /// <summary>One max instruction: returns b if either is NaN.</summary>
    static abstract TVec MaxNative(TVec a, TVec b);
    static abstract TVec Sqrt(TVec a);
    static abstract TVec Floor(TVec a);
    /// <summary>Per lane: mask lane set where a &lt; b; then picks ifTrue, else ifFalse.</summary>
    static abstract TVec SelectLess(TVec a, TVec b, TVec ifTrue, TVec ifFalse);
    /// <summary>2^n for integral-valued n in [-126, 127], built directly in the exponent bits.</summary>
    static abstract TVec Pow2(TVec integralN);
    /// <summary>
    /// Loads 2 x Count bf16 values and widens them exactly to two float vectors (one B panel row), reading them
    /// in the order PackedMatrix.BFloat16Position stores them.
    /// </summary>
    static abstract void LoadBFloat16Pair(ref ushort source, out TVec lower, out TVec upper);
    static abstract float Sum(TVec a);
    static abstract float MaxAcross(TVec a);
}

internal readonly struct Ops512 : IVectorOps<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    public static bool IsAccelerated => Vector512.IsHardwareAccelerated;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(ref float s, nuint o) => Vector512.LoadUnsafe(ref s, o);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, ref float d, nuint o) => v.StoreUnsafe(ref d, o);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float v) => Vector512.Create(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MinNative(Vector512<float> a, Vector512<float> b) => Vector512.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MaxNative(Vector512<float> a, Vector512<float> b) => Vector512.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> a) => Vector512.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Floor(Vector512<float> a) => Vector512.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> SelectLess(Vector512<float> a, Vector512<float> b, Vector512<float> t, Vector512<float> f) => Vector512.ConditionalSelect(Vector512.LessThan(a, b), t, f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Pow2(Vector512<float> n) => Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBFloat16Pair(ref ushort source, out Vector512<float> lower, out Vector512<float> upper)
    {
        // Each 32-bit word holds two bf16 (little-endian: the even position in its low half). A bf16 is the top
        // half of its float, so the even one is the word shifted left by 16 and the odd one the word with its low
        // half cleared: one shift and one AND, no shuffle (PackedMatrix.BFloat16Position stores rows to match).
        Vector512<uint> words = Vector512.LoadUnsafe(ref Unsafe.As<ushort, uint>(ref source));
        lower = Vector512.ShiftLeft(words, 16).AsSingle();
        upper = (words & Vector512.Create(0xFFFF_0000u)).AsSingle();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> a) => Vector512.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector512<float> a) => Ops256.MaxAcross(Vector256.Max(a.GetLower(), a.GetUpper()));
}

internal readonly struct Ops256 : IVectorOps<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    public static bool IsAccelerated => Vector256.IsHardwareAccelerated;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(ref float s, nuint o) => Vector256.LoadUnsafe(ref s, o);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, ref float d, nuint o) => v.StoreUnsafe(ref d, o);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float v) => Vector256.Create(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;
    // The CPU checks are spelled out (not Simd.HasFusedMultiplyAdd): an intrinsic constant folds while the JIT
    // imports this method, a property call does not, and the conditional left behind becomes a temporary that
    // stops the JIT from writing the FMA into its accumulator (vfmadd213ps plus a copy instead of vfmadd231ps:
    // 35 instead of 29 instructions per k step of the 6 x 16 GEMM tile). Vector256 is accelerated on x86 only.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Fma.IsSupported ? Vector256.FusedMultiplyAdd(a, b, c) : a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MinNative(Vector256<float> a, Vector256<float> b) => Vector256.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MaxNative(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Floor(Vector256<float> a) => Vector256.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> SelectLess(Vector256<float> a, Vector256<float> b, Vector256<float> t, Vector256<float> f) => Vector256.ConditionalSelect(Vector256.LessThan(a, b), t, f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Pow2(Vector256<float> n) => Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n) + Vector256.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBFloat16Pair(ref ushort source, out Vector256<float> lower, out Vector256<float> upper)
    {
        // As at Vector512: even positions by a shift, odd ones by an AND.
        Vector256<uint> words = Vector256.LoadUnsafe(ref Unsafe.As<ushort, uint>(ref source));
        lower = Vector256.ShiftLeft(words, 16).AsSingle();
        upper = (words & Vector256.Create(0xFFFF_0000u)).AsSingle();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> a) => Vector256.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector256<float> a) => Ops128.MaxAcross(Vector128.Max(a.GetLower(), a.GetUpper()));
}

internal readonly struct Ops128 : IVectorOps<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    public static bool IsAccelerated => Vector128.IsHardwareAccelerated;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(ref float s, nuint o) => Vector128.LoadUnsafe(ref s, o);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> v, ref float d, nuint o) => v.StoreUnsafe(ref d, o);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float v) => Vector128.Create(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;
    // The CPU checks spelled out, as at Vector256.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Fma.IsSupported || AdvSimd.IsSupported ? Vector128.FusedMultiplyAdd(a, b, c) : a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Min(Vector128<float> a, Vector128<float> b) => Vector128.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MinNative(Vector128<float> a, Vector128<float> b) => Vector128.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MaxNative(Vector128<float> a, Vector128<float> b) => Vector128.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sqrt(Vector128<float> a) => Vector128.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Floor(Vector128<float> a) => Vector128.Floor(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> SelectLess(Vector128<float> a, Vector128<float> b, Vector128<float> t, Vector128<float> f) => Vector128.ConditionalSelect(Vector128.LessThan(a, b), t, f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Pow2(Vector128<float> n) => Vector128.ShiftLeft(Vector128.ConvertToInt32Native(n) + Vector128.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBFloat16Pair(ref ushort source, out Vector128<float> lower, out Vector128<float> upper)
    {
        // As at Vector512: even positions by a shift, odd ones by an AND.
        Vector128<uint> words = Vector128.LoadUnsafe(ref Unsafe.As<ushort, uint>(ref source));
        lower = Vector128.ShiftLeft(words, 16).AsSingle();
        upper = (words & Vector128.Create(0xFFFF_0000u)).AsSingle();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector128<float> a) => Vector128.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(Vector128<float> a)
    {
        // Two shuffles fold four lanes into one; NaN ordering matches Math.Max closely enough for logits.
        Vector128<float> m = Vector128.Max(a, Vector128.Shuffle(a, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }
}
