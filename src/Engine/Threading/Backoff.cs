// How a thread waits for another that will be ready within microseconds: spin with the CPU's pause hint for
// a few tens of microseconds, then give the core away with Thread.Yield on every further check, so a waiter
// never starves a process (or a worker) that shares its core. No Sleep(1): that would add a millisecond.
namespace CharRnn.Engine.Threading;

internal static class Backoff
{
    private const int SpinIterations = 64;  // 64 x SpinWait(16): roughly 10-40 us, whatever the pause latency
    /// <summary>Checks after which a waiter that may wait long should block instead (about a millisecond of yields).</summary>
    public const int IterationsBeforeBlocking = SpinIterations + 1000;

    /// <summary>One wait between two checks of a condition; iteration counts the checks so far.</summary>
    public static void Pause(int iteration)
    {
        if (iteration < SpinIterations) Thread.SpinWait(16);
        else Thread.Yield();
    }
}
