// The random stream dropout masks are cut from: four independent xoshiro256** generators run side by side,
// one per 64-bit lane of a Vector256, so a mask is drawn eight 32-bit words per iteration. The lane count is
// fixed at four whatever the machine's vector width, so a seed gives the same masks with AVX-512, AVX2 or
// none (the scalar path steps the four lanes one after the other). State layout: word k of lane j at
// [4k + j], so each of the four state words of all lanes is one vector load.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CharRnn.Engine.Regularization;

public sealed class MaskRng
{
    public const int Lanes = 4;
    public const int WordsPerDraw = 2 * Lanes; // 32-bit words produced by one step of all lanes

    private readonly ulong[] _state = new ulong[4 * Lanes]; // (4 words, 4 lanes)

    public MaskRng(ulong seed)
    {
        // Each lane is seeded from its own stretch of one SplitMix64 stream, as xoshiro's authors advise.
        ulong x = seed;
        for (int word = 0; word < 4; word++)
        {
            for (int lane = 0; lane < Lanes; lane++) _state[4 * word + lane] = Sampling.Rng.SplitMix(ref x);
        }
    }

    public ulong[] GetState() => (ulong[])_state.Clone();

    public void SetState(ReadOnlySpan<ulong> state)
    {
        if (state.Length != _state.Length) throw new ArgumentException($"mask generator state is {_state.Length} words, got {state.Length}", nameof(state));
        for (int lane = 0; lane < Lanes; lane++)
        {
            if ((state[lane] | state[4 + lane] | state[8 + lane] | state[12 + lane]) == 0)
                throw new ArgumentException($"lane {lane} of the mask generator state is all zero", nameof(state));
        }
        state.CopyTo(_state);
    }

    /// <summary>Steps all four lanes once; words (8) receives lane j's result as words 2j (low half) and 2j+1 (high).</summary>
    public void NextScalar(Span<uint> words)
    {
        Span<ulong> s = _state;
        for (int lane = 0; lane < Lanes; lane++)
        {
            ulong s0 = s[lane], s1 = s[4 + lane], s2 = s[8 + lane], s3 = s[12 + lane];
            ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
            ulong t = s1 << 17;
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
            s2 ^= t;
            s3 = ulong.RotateLeft(s3, 45);
            s[lane] = s0; s[4 + lane] = s1; s[8 + lane] = s2; s[12 + lane] = s3;
            words[2 * lane] = (uint)result;
            words[2 * lane + 1] = (uint)(result >> 32);
        }
    }

    /// <summary>The same step as NextScalar for all lanes at once; the eight words in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<uint> NextVector()
    {
        ref ulong state = ref _state[0];
        var s0 = Vector256.LoadUnsafe(ref state, 0);
        var s1 = Vector256.LoadUnsafe(ref state, 4);
        var s2 = Vector256.LoadUnsafe(ref state, 8);
        var s3 = Vector256.LoadUnsafe(ref state, 12);
        // x*5 and x*9 as shift-and-add: AVX2 has no 64-bit multiply, and both are exact modulo 2^64.
        var times5 = (s1 << 2) + s1;
        var rotated = (times5 << 7) | (times5 >>> 57);
        var result = (rotated << 3) + rotated;
        var t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 45) | (s3 >>> 19);
        s0.StoreUnsafe(ref state, 0);
        s1.StoreUnsafe(ref state, 4);
        s2.StoreUnsafe(ref state, 8);
        s3.StoreUnsafe(ref state, 12);
        return result.AsUInt32();
    }
}
