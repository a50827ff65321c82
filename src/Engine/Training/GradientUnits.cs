// The parameter-gradient half of a multi-threaded training step as units that whichever thread is free runs,
// as soon as their inputs are ready. A unit is (tensor group, part of the rows, one share's contribution): a
// layer's or the head's gradient rows WorkSplit.Range(rows, part, parts), plus one share's streams. Each part's
// shares are added in a fixed order, so a run stays bit-identical for a given seed and thread count however the
// units fall to threads. The order starts at a different share for each part (part p: shares p, p+1, ... mod
// S), so whichever share finishes its time loops first, its thread has gradients it may add at once, instead of
// waiting at a barrier for the slowest share (the cores of a shared VM run at unequal speeds from moment to moment).
// Deliberately not here: what a unit computes (the trainer), and threads (the worker pool runs the loop).
using System.Diagnostics;
using CharRnn.Engine.Threading;

namespace CharRnn.Engine.Training;

internal sealed class GradientUnits
{
    /// <summary>One unit: add share Share's contribution to group Group's rows of part Part; First: the part's
    /// first share, which clears those rows before adding.</summary>
    public readonly record struct Unit(int Index, int Share, int Group, int Part, bool First);

    private const int Pending = 0, Claimed = 1, Done = 2;
    private readonly int _shares, _groups;
    private readonly int[] _state;      // (S stages, S parts, groups) Pending, Claimed or Done; stage k of part p adds share (p + k) mod S
    private readonly int[] _shareReady; // (S) 1 once the share's backward through time is complete
    private readonly long[] _waitTicks; // (S threads) Stopwatch ticks spent waiting for a unit to become ready
    private volatile bool _failed;      // a share or unit threw: the others stop waiting

    public GradientUnits(int shares, int groups)
    {
        _shares = shares;
        _groups = groups;
        _state = new int[shares * shares * groups];
        _shareReady = new int[shares];
        _waitTicks = new long[shares];
    }

    /// <summary>Parts of every tensor group's rows: one per share.</summary>
    public int Parts => _shares;

    /// <summary>Total time the threads spent waiting for units to become ready (inside the pool's jobs).</summary>
    public TimeSpan WaitTime
    {
        get
        {
            long ticks = 0;
            for (int t = 0; t < _waitTicks.Length; t++) ticks += Volatile.Read(ref _waitTicks[t]);
            return Stopwatch.GetElapsedTime(0, ticks);
        }
    }

    /// <summary>Before each step, on one thread.</summary>
    public void Reset()
    {
        Array.Clear(_state);
        Array.Clear(_shareReady);
        _failed = false;
    }

    public void ShareReady(int share) => Volatile.Write(ref _shareReady[share], 1);

    public void Fail() => _failed = true;

    public void Complete(Unit unit)
    {
        Volatile.Write(ref _state[unit.Index], Done);
    }

    /// <summary>
    /// Claims a unit that is ready (its share's backward done, the part's previous share added), waiting while
    /// none is; false once every unit is done or claimed by others, or something failed. Earlier stages first
    /// (they unblock the later ones); within a stage the thread's own part first, the larger groups first.
    /// </summary>
    public bool Next(int thread, out Unit unit)
    {
        long waitStart = 0;
        for (int iteration = 0; ; iteration++)
        {
            if (_failed) break;
            bool pending = false;
            for (int stage = 0; stage < _shares; stage++)
            {
                for (int i = 0; i < _shares; i++)
                {
                    int part = (thread + i) % _shares, share = (part + stage) % _shares;
                    for (int g = 0; g < _groups; g++)
                    {
                        int group = g < _groups - 1 ? _groups - 2 - g : g; // the layers from the top, then the head
                        int index = (stage * _shares + part) * _groups + group;
                        if (Volatile.Read(ref _state[index]) != Pending) continue;
                        pending = true;
                        if (Volatile.Read(ref _shareReady[share]) == 0) continue;
                        if (stage > 0 && Volatile.Read(ref _state[index - _shares * _groups]) != Done) continue;
                        if (Interlocked.CompareExchange(ref _state[index], Claimed, Pending) != Pending) continue;
                        if (waitStart != 0) _waitTicks[thread] += Stopwatch.GetTimestamp() - waitStart;
                        unit = new Unit(index, share, group, part, stage == 0);
                        return true;
                    }
                }
            }
            if (!pending) break; // the rest is claimed by others: nothing this thread can still do
            if (waitStart == 0) waitStart = Stopwatch.GetTimestamp();
            Backoff.Pause(iteration);
        }
        if (waitStart != 0) _waitTicks[thread] += Stopwatch.GetTimestamp() - waitStart;
        unit = default;
        return false;
    }
}
