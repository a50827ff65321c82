// A reusable barrier for a fixed team of threads that meet many times per millisecond (the phases of one
// sampled character): the last to arrive opens the next phase; the others spin briefly, then yield their
// core (Backoff), because a pure spin collapses when another process shares the core.
// Allocation-free. A part that fails calls Break, which releases every waiter with a BrokenBarrierException instead
// of leaving it waiting for a partner that will never arrive. Deliberately not here: timeouts.
namespace CharRnn.Engine.Threading;

public sealed class SpinBarrier
{
    private readonly int _parts;
    private int _remaining;       // threads still to arrive in the current phase
    private volatile int _phase;  // incremented by the last arrival: what the others wait on
    private volatile bool _broken;

    public SpinBarrier(int parts)
    {
        if (parts < 1) throw new ArgumentOutOfRangeException(nameof(parts), parts, "a barrier needs at least one part");
        _parts = parts;
        _remaining = parts;
    }

    /// <summary>Whether a part has called Break: the barrier (and whatever it coordinated) is done for.</summary>
    public bool IsBroken => _broken;

    /// <summary>Releases every current and future waiter with an exception: a partner failed.</summary>
    public void Break() => _broken = true;

    /// <summary>Returns once all parts have called it for the current phase.</summary>
    public void SignalAndWait()
    {
        if (_parts == 1) return;
        if (_broken) throw new BrokenBarrierException();
        int phase = _phase;
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _remaining = _parts;   // reset before opening: nobody can arrive for the next phase until it opens
            _phase = phase + 1;    // volatile write publishes the reset and every write of this phase
            return;
        }
        for (int iteration = 0; _phase == phase; iteration++)
        {
            if (_broken) throw new BrokenBarrierException();
            Backoff.Pause(iteration);
        }
    }
}
