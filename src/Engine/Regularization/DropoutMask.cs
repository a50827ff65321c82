// Inverted dropout masks: each element is 0 with probability p and 1/(1-p) otherwise, so multiplying by the
// mask keeps every activation's expected value and evaluation needs no rescaling (it skips the mask).
// An element is kept when its 32-bit random word is >= round(p * 2^32): the keep probability is exact to
// 2^-32 and no float conversion of the random word is needed. The vector path and its scalar twin consume
// the generator identically (eight words per draw, the unused rest of the last draw discarded), so both give
// the same mask from the same state.
using System.Numerics;
using System.Runtime.Intrinsics;

namespace CharRnn.Engine.Regularization;

public static class DropoutMask
{
    /// <summary>Fills mask with a fresh inverted-dropout mask of drop probability p in [0, 1).</summary>
    public static void Fill<T>(Span<T> mask, float p, MaskRng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated)
            FillVector(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(mask), p, rng);
        else
            FillScalar(mask, p, rng);
    }

    public static void FillScalar<T>(Span<T> mask, float p, MaskRng rng) where T : unmanaged, IFloatingPointIeee754<T>
    {
        uint threshold = Threshold(p);
        T scale = T.One / (T.One - T.CreateTruncating(p));
        Span<uint> words = stackalloc uint[MaskRng.WordsPerDraw];
        for (int i = 0; i < mask.Length; i += MaskRng.WordsPerDraw)
        {
            rng.NextScalar(words);
            int count = Math.Min(MaskRng.WordsPerDraw, mask.Length - i);
            for (int j = 0; j < count; j++) mask[i + j] = words[j] >= threshold ? scale : T.Zero;
        }
    }

    public static void FillVector(Span<float> mask, float p, MaskRng rng)
    {
        var threshold = Vector256.Create(Threshold(p));
        var scale = Vector256.Create(1f / (1f - p));
        int i = 0;
        for (; i <= mask.Length - MaskRng.WordsPerDraw; i += MaskRng.WordsPerDraw)
        {
            var keep = Vector256.GreaterThanOrEqual(rng.NextVector(), threshold).AsSingle();
            (keep & scale).CopyTo(mask.Slice(i));
        }
        if (i < mask.Length)
        {
            Span<float> last = stackalloc float[MaskRng.WordsPerDraw];
            var keep = Vector256.GreaterThanOrEqual(rng.NextVector(), threshold).AsSingle();
            (keep & scale).CopyTo(last);
            last[..(mask.Length - i)].CopyTo(mask.Slice(i));
        }
    }

    /// <summary>The drop threshold on a uniform 32-bit word: round(p * 2^32), p in [0, 1).</summary>
    public static uint Threshold(float p)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "drop probability must be in [0, 1)");
        return (uint)Math.Min(Math.Round(p * 4294967296.0), uint.MaxValue);
    }
}
