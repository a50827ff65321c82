// Allocation in steady state, measured so that it means what the standards mean by it. A warm step that
// allocates shows up in every window of steps; the runtime's own one-off work does not: tiered compilation
// installing optimized code (which may start its background thread from whichever thread reached a call-count
// threshold) landed 944 bytes in one window of one CI run under full parallel test load, and never again in
// dozens of runs. So the tests take the smallest of several windows, which is 0 only if the steps allocate
// nothing, and count the worker threads' bytes as well as the caller's.
namespace CharRnn.Engine.Tests;

internal static class SteadyState
{
    private const int Windows = 5;

    /// <summary>The fewest bytes any of 5 windows of `steps` calls allocated, on the caller's thread plus the workers'.</summary>
    public static long AllocatedBytes(Action step, int steps, Func<long>? workerBytes = null)
    {
        long fewest = long.MaxValue;
        for (int window = 0; window < Windows; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread(), workersBefore = workerBytes?.Invoke() ?? 0;
            for (int i = 0; i < steps; i++) step();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before + ((workerBytes?.Invoke() ?? 0) - workersBefore);
            fewest = Math.Min(fewest, allocated);
        }
        return fewest;
    }
}
