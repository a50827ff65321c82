// Allocation in steady state, measured so that it means what the standards mean by it. A warm step that
// allocates shows up in window after window of steps; the runtime's own one-off work does not: tiered
// compilation installing optimized code (which may start its background thread from whichever thread reached
// a call-count threshold) landed 944 bytes in one window of one CI run under full parallel test load, and
// never again in dozens of runs. So the tests run five windows and allow one of them, no more, to allocate:
// a step that allocates at least once per two windows of calls fails, and so does any repeated growth.
// Both the caller's thread and the workers' count.
namespace CharRnn.Engine.Tests;

internal static class SteadyState
{
    private const int Windows = 5;

    /// <summary>The windows allowed to allocate: one, for the runtime's one-off work.</summary>
    public const int OneOffWindows = 1;

    /// <summary>Bytes allocated in each of 5 windows of `steps` calls, on the caller's thread plus the workers'.</summary>
    public static long[] AllocatedBytes(Action step, int steps, Func<long>? workerBytes = null)
    {
        var bytes = new long[Windows];
        for (int window = 0; window < Windows; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread(), workersBefore = workerBytes?.Invoke() ?? 0;
            for (int i = 0; i < steps; i++) step();
            bytes[window] = GC.GetAllocatedBytesForCurrentThread() - before + ((workerBytes?.Invoke() ?? 0) - workersBefore);
        }
        return bytes;
    }

    /// <summary>Fails unless at most OneOffWindows of 5 windows of `steps` calls allocated anything.</summary>
    public static void AssertAllocatesNothing(Action step, int steps, Func<long>? workerBytes = null)
    {
        long[] bytes = AllocatedBytes(step, steps, workerBytes);
        Assert.True(bytes.Count(b => b != 0) <= OneOffWindows, $"bytes allocated per window of {steps} warm steps: {string.Join(", ", bytes)}");
    }
}
