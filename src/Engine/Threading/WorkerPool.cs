// A fixed team of threads that run one indexed job together and meet at the end: the caller's thread takes
// part 0 and parts 1..N-1 go to long-lived workers, so each job costs two handoffs per worker (a training step
// runs two: the shares with their gradients, then the repacking) and no allocation (no tasks, closures or
// thread-pool queues). Waits spin briefly, then yield for about a millisecond, then block (Signal, below), so a
// core shared with another process is handed back.
// Built timed, it also keeps time: how long Run took and how long the parts worked in it (PoolTimes), so a
// caller can tell how much of its threads' time went to hand-offs and to waiting for the slowest part. Timing
// is opt-in: a few clock reads per job (tens of ns each) are nothing beside a training phase, but would be about
// 1% of a W4 character (~7 us, one job each).
// Deliberately not here: work stealing or uneven parts; a job that wants them schedules its own work (the
// trainer's GradientUnits).
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace CharRnn.Engine.Threading;

public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Signal[] _start;
    private readonly Signal[] _finished;
    private readonly ExceptionDispatchInfo?[] _failures;
    private readonly long[] _allocated; // (Parts-1) bytes each worker thread has allocated, as of its last job
    private readonly bool _timed;       // whether Run and Execute read the clock (Times stays zero otherwise)
    private readonly long[] _busyTicks; // (Parts) Stopwatch ticks each part has spent inside jobs; written by its own thread
    private long _runTicks;             // Stopwatch ticks the caller has spent in Run, from handing out the job to the last finish
    private Action<int>? _job;
    private volatile bool _disposed;

    /// <summary>A team of parts threads (the caller's included); timed: keep Times (see the header).</summary>
    public WorkerPool(int parts, bool timed = false)
    {
        if (parts < 1) throw new ArgumentOutOfRangeException(nameof(parts), parts, "a pool needs at least one part");
        Parts = parts;
        _threads = new Thread[parts - 1];
        _start = new Signal[parts - 1];
        _finished = new Signal[parts - 1];
        _failures = new ExceptionDispatchInfo?[parts];
        _allocated = new long[parts - 1];
        _timed = timed;
        _busyTicks = new long[parts];
        for (int w = 0; w < parts - 1; w++)
        {
            _start[w] = new Signal();
            _finished[w] = new Signal();
            int part = w + 1;
            _threads[w] = new Thread(() => WorkerLoop(part)) { IsBackground = true, Name = $"charrnn worker {part}" };
            _threads[w].Start();
        }
    }

    /// <summary>How many parts Run executes concurrently (the caller's thread included).</summary>
    public int Parts { get; }

    /// <summary>Bytes allocated so far on the worker threads (not the caller's): lets tests prove a job allocates nothing.</summary>
    public long WorkerAllocatedBytes
    {
        get
        {
            long total = 0;
            for (int w = 0; w < _allocated.Length; w++) total += Volatile.Read(ref _allocated[w]);
            return total;
        }
    }

    /// <summary>
    /// Time spent in Run and, summed over the parts, inside the jobs, since the pool started (all zero unless the
    /// pool is timed): read it on the thread that calls Run, between calls, before and after a stretch of work,
    /// and subtract. The workers' counts are complete then: each wrote its own before signalling its finish.
    /// </summary>
    public PoolTimes Times
    {
        get
        {
            long busy = 0;
            foreach (long ticks in _busyTicks) busy += ticks;
            return new PoolTimes(Stopwatch.GetElapsedTime(0, _runTicks), Stopwatch.GetElapsedTime(0, busy), Parts);
        }
    }

    /// <summary>
    /// Runs job(0..Parts-1) concurrently and returns when all have finished; rethrows the first failure in part
    /// order that is not a BrokenBarrierException (that one only if every failure is).
    /// </summary>
    public void Run(Action<int> job)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long started = _timed ? Stopwatch.GetTimestamp() : 0;
        _job = job;
        for (int w = 0; w < _start.Length; w++) _start[w].Set();
        Execute(0);
        for (int w = 0; w < _finished.Length; w++) _finished[w].WaitAndReset();
        if (_timed) _runTicks += Stopwatch.GetTimestamp() - started;
        _job = null;
        // The first failure in part order, but a cause before its consequences: a part released from a broken
        // barrier failed only because another part had failed first.
        ExceptionDispatchInfo? first = null;
        foreach (var failure in _failures)
        {
            if (failure == null) continue;
            if (first == null || (first.SourceException is BrokenBarrierException && failure.SourceException is not BrokenBarrierException)) first = failure;
        }
        if (first == null) return;
        Array.Clear(_failures);
        first.Throw();
    }

    private void WorkerLoop(int part)
    {
        var start = _start[part - 1];
        while (true)
        {
            start.WaitAndReset();
            if (_disposed) return;
            Execute(part);
            _allocated[part - 1] = GC.GetAllocatedBytesForCurrentThread();
            _finished[part - 1].Set();
        }
    }

    private void Execute(int part)
    {
        long started = _timed ? Stopwatch.GetTimestamp() : 0;
        try { _job!(part); }
        catch (Exception e) { _failures[part] = ExceptionDispatchInfo.Capture(e); }
        if (_timed) _busyTicks[part] += Stopwatch.GetTimestamp() - started;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var start in _start) start.Set();
        foreach (var thread in _threads) thread.Join();
    }

    /// <summary>
    /// A one-waiter, one-setter auto-reset event that allocates nothing, ever: the waiter spins, then yields,
    /// then blocks on a monitor (ManualResetEventSlim would allocate its lock object the
    /// first time a wait blocks, which can happen in the middle of training).
    /// </summary>
    private sealed class Signal
    {
        private readonly object _gate = new();
        private volatile bool _set;

        public void Set()
        {
            lock (_gate)
            {
                _set = true;
                Monitor.Pulse(_gate);
            }
        }

        public void WaitAndReset()
        {
            // Sampling hands work over every few microseconds, so stay awake for a while (spin, then yield the
            // core) before paying a kernel wake-up; a training step's wait is short or long, never in between.
            for (int iteration = 0; !_set && iteration < Backoff.IterationsBeforeBlocking; iteration++) Backoff.Pause(iteration);
            if (!_set)
            {
                lock (_gate)
                {
                    while (!_set) Monitor.Wait(_gate);
                }
            }
            _set = false;
        }
    }
}
