// What a timed WorkerPool's threads did with their time: how long its Run calls took, start to finish, and how
// long its parts spent inside the job. The difference is the hand-offs (microseconds) plus the time finished
// parts spent waiting for the slowest: on a machine whose cores run at different speeds from moment to moment
// (a VM with busy neighbours), equal parts of the work finish at different times, and the phase waits for the last.
namespace CharRnn.Engine.Threading;

public readonly record struct PoolTimes(TimeSpan InRun, TimeSpan Busy, int Parts)
{
    /// <summary>The times between an earlier reading and this one (both of one pool).</summary>
    public static PoolTimes operator -(PoolTimes later, PoolTimes earlier) =>
        new(later.InRun - earlier.InRun, later.Busy - earlier.Busy, later.Parts);

    /// <summary>The same times with some of the busy time taken out: time a job itself spent waiting.</summary>
    public PoolTimes LessBusy(TimeSpan waited) => this with { Busy = Busy - waited };

    /// <summary>
    /// The share of the parts' time in Run spent outside the job, handing off or waiting: 0 when every part
    /// finished together (or no pool ran), 0.5 when one of two parts worked throughout and the other had nothing to do.
    /// </summary>
    public double WaitShare => InRun <= TimeSpan.Zero || Parts < 2 ? 0 : Math.Clamp(1 - Busy / (InRun * Parts), 0, 1);
}
