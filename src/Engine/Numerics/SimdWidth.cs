// Which vector width a kernel runs at. Dispatch picks the widest the hardware accelerates; tests pin each
// width directly so every path is proven against its scalar twin on whatever machine runs them.
using System.Runtime.Intrinsics;

namespace CharRnn.Engine.Numerics;

public enum SimdWidth
{
    Scalar = 0,
    Vector128 = 128,
    Vector256 = 256,
    Vector512 = 512,
}

public static class Simd
{
    /// <summary>The widest width this process accelerates (honours DOTNET_EnableAVX512F=0 and friends).</summary>
    public static SimdWidth Best { get; } =
        Vector512.IsHardwareAccelerated ? SimdWidth.Vector512 :
        Vector256.IsHardwareAccelerated ? SimdWidth.Vector256 :
        Vector128.IsHardwareAccelerated ? SimdWidth.Vector128 : SimdWidth.Scalar;

    /// <summary>Every width the hardware accelerates, plus Scalar; what tests iterate over.</summary>
    public static IReadOnlyList<SimdWidth> Accelerated { get; } = new[] { SimdWidth.Scalar, SimdWidth.Vector128, SimdWidth.Vector256, SimdWidth.Vector512 }
        .Where(w => w == SimdWidth.Scalar || (int)w <= (int)Best).ToArray();

    /// <summary>Whether the CPU fuses multiply-add in hardware (x86 FMA3, or Arm's Advanced SIMD); where it does not,
    /// the kernels multiply and add, because the runtime's software fusion is scalar and ~100x slower.</summary>
    public static bool HasFusedMultiplyAdd
    {
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;
    }

    /// <summary>Floats in one vector of a width (1 for Scalar): the step of its kernels' vector loops.</summary>
    public static int FloatsPerVector(SimdWidth width) => width switch
    {
        SimdWidth.Vector512 => Vector512<float>.Count,
        SimdWidth.Vector256 => Vector256<float>.Count,
        SimdWidth.Vector128 => Vector128<float>.Count,
        _ => 1,
    };

    public static string Describe() =>
        $"{Best} (Vector512 {(Vector512.IsHardwareAccelerated ? "on" : "off")}, Vector256 {(Vector256.IsHardwareAccelerated ? "on" : "off")}, FMA {(HasFusedMultiplyAdd ? "on" : "off")})";
}
