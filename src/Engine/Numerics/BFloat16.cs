// bfloat16: the top 16 bits of a float (sign, the full 8-bit exponent, 7 mantissa bits). Generation can keep
// its weights in it: the products then read half the bytes, and widening back is exact (a 16-bit shift), so
// a bf16 model is exactly the float model with every weight rounded to 8 significant bits.
// Rounding is to nearest, ties to even; the weights are finite, so NaN needs no special case.
namespace CharRnn.Engine.Numerics;

public static class BFloat16
{
    /// <summary>The bf16 nearest to value (ties to even), as its 16 bits.</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)(bits >> 16);
    }

    /// <summary>The float a bf16 stands for, exactly.</summary>
    public static float ToSingle(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    /// <summary>value rounded to the nearest bf16, as a float.</summary>
    public static float Round(float value) => ToSingle(FromSingle(value));

    /// <summary>Rounds every element in place.</summary>
    public static void Round(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++) values[i] = Round(values[i]);
    }
}
