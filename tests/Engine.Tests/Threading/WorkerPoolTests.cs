// WorkerPool's timings: time in Run against time inside the jobs, whose difference is the barrier's waiting.
// The checks hold however the machine schedules the threads: each part's job times itself, inside the pool's
// window around it, and a busy test machine can only stretch the waits, which the bounds allow for.
using System.Diagnostics;
using CharRnn.Engine.Threading;
using Xunit;

namespace CharRnn.Engine.Tests.Threading;

public class WorkerPoolTests
{
    private static readonly TimeSpan Work = TimeSpan.FromMilliseconds(50);

    /// <summary>Keeps the thread busy for the given wall time.</summary>
    private static void Spin(TimeSpan time)
    {
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < time) Thread.SpinWait(16);
    }

    [Fact]
    public void WaitShare_IsTheIdleShareOfThePartsTimeInRun()
    {
        static TimeSpan ms(double value) => TimeSpan.FromMilliseconds(value);
        Assert.Equal(0.25, new PoolTimes(ms(100), ms(150), 2).WaitShare, 12); // 200 ms of part time, 150 working
        Assert.Equal(0.0, new PoolTimes(ms(100), ms(200), 2).WaitShare);
        Assert.Equal(0.75, new PoolTimes(ms(100), ms(100), 4).WaitShare, 12);
        Assert.Equal(0.0, new PoolTimes(ms(100), ms(100), 1).WaitShare);     // one part has no one to wait for
        Assert.Equal(0.0, default(PoolTimes).WaitShare);                     // no pool, or nothing run yet
        var difference = new PoolTimes(ms(300), ms(500), 2) - new PoolTimes(ms(100), ms(150), 2);
        Assert.Equal(new PoolTimes(ms(200), ms(350), 2), difference);
    }

    [Theory]
    [InlineData(0)] // the caller's part works; the worker waits
    [InlineData(1)] // the worker's part works; the caller waits
    public void Run_TimesEveryPartsJob_InsideTheRun(int working)
    {
        using var pool = new WorkerPool(2, timed: true);
        pool.Run(_ => { }); // the worker's loop is running
        var own = new TimeSpan[2]; // each part's job as it timed itself
        var before = pool.Times;
        var outside = Stopwatch.StartNew();
        pool.Run(part =>
        {
            long start = Stopwatch.GetTimestamp();
            if (part == working) Spin(Work);
            own[part] = Stopwatch.GetElapsedTime(start);
        });
        outside.Stop();
        var times = pool.Times - before;
        Assert.Equal(2, times.Parts);
        Assert.InRange(times.InRun, own.Max(), outside.Elapsed);
        Assert.InRange(times.Busy, own[0] + own[1], times.InRun * 2);
        // One part worked throughout, the other did nothing: half the parts' time or more was waiting (more when a
        // busy machine delays a hand-off); far from the 0 of a pool that forgot the idle part's wait. At most
        // what the jobs' own clocks leave over in the caller's window: the 1 of a pool that forgot the work.
        double mostWaiting = 1 - (own[0] + own[1]) / (outside.Elapsed * 2);
        Assert.InRange(times.WaitShare, 0.5 - Tolerances.PoolWaitShare, mostWaiting);
    }

    [Fact]
    public void Times_AccumulateOverRuns()
    {
        using var pool = new WorkerPool(2, timed: true);
        pool.Run(_ => Spin(Work));
        var first = pool.Times;
        pool.Run(part => { if (part == 0) Spin(Work); });
        Assert.True(first.Busy >= Work * 2, $"two parts of {Work.TotalMilliseconds} ms counted {first.Busy.TotalMilliseconds} ms busy");
        Assert.True((pool.Times - first).Busy >= Work);
        Assert.True(pool.Times.InRun >= first.InRun + Work);
    }

    [Fact]
    public void FailingPart_IsStillTimed_AndRethrown()
    {
        using var pool = new WorkerPool(2, timed: true);
        var error = Assert.Throws<InvalidOperationException>(() => pool.Run(part =>
        {
            Spin(TimeSpan.FromMilliseconds(5));
            if (part == 1) throw new InvalidOperationException("part 1 failed");
        }));
        Assert.Equal("part 1 failed", error.Message);
        var failed = pool.Times;
        Assert.True(failed.Busy >= TimeSpan.FromMilliseconds(10));
        Assert.True(failed.InRun >= TimeSpan.FromMilliseconds(5));
        pool.Run(_ => Spin(TimeSpan.FromMilliseconds(5))); // the pool still works, and still counts
        Assert.True((pool.Times - failed).Busy >= TimeSpan.FromMilliseconds(10));
    }

    [Fact]
    public void FailureBehindABrokenBarrier_RethrowsTheCause_NotTheWaitersConsequence()
    {
        // Part 0 waits at the barrier; part 1 fails and breaks it, so part 0 fails too, with a
        // BrokenBarrierException. Part order alone would report part 0's; the cause is part 1's.
        using var pool = new WorkerPool(2);
        var barrier = new SpinBarrier(2);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Run(part =>
        {
            if (part == 0) { barrier.SignalAndWait(); return; }
            try { throw new ArgumentOutOfRangeException("units", "part 1 failed"); }
            finally { barrier.Break(); }
        }));
        Assert.Contains("part 1 failed", error.Message);
        // Only consequences: the first of them is reported.
        Assert.Throws<BrokenBarrierException>(() => pool.Run(_ => { barrier.SignalAndWait(); }));
    }

    [Fact]
    public void UntimedPool_ReadsZero()
    {
        using var pool = new WorkerPool(2);
        pool.Run(_ => Spin(TimeSpan.FromMilliseconds(5)));
        Assert.Equal(TimeSpan.Zero, pool.Times.InRun);
        Assert.Equal(TimeSpan.Zero, pool.Times.Busy);
    }
}
