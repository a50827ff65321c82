// How a team of threads divides a count of rows (streams, gate rows): contiguous ranges in part order whose
// sizes differ by at most one. Every even split asks here (the trainer's streams and gradient rows, the
// sampler's vocabulary), so the part that zeroes a range of the gradient is the part that later sums into it.
namespace CharRnn.Engine.Threading;

public static class WorkSplit
{
    /// <summary>Rows [First, End) of `count` for part `part` of `parts`.</summary>
    public static (int First, int End) Range(int count, int part, int parts)
    {
        if (parts < 1 || (uint)part >= (uint)parts) throw new ArgumentOutOfRangeException(nameof(part), part, $"part must be in 0..{parts - 1}");
        return ((int)((long)count * part / parts), (int)((long)count * (part + 1) / parts));
    }
}
