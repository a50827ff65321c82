// GradientUnits' schedule: every (group, part, share) unit handed out exactly once, each part's shares in its own
// fixed order, no unit before its share is ready or before the part's previous share was added, and a failure
// releases a waiting thread. Single-threaded where possible; the waits run on a task with generous bounds, and a
// slow machine can only make "has not returned yet" more certain. The waiter is a plain thread: the wait inside
// Next spins and yields, it never awaits.
using CharRnn.Engine.Training;
using Xunit;

namespace CharRnn.Engine.Tests.Training;

public class GradientUnitsTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10); // a waiter released must return well within this
    private static readonly TimeSpan Held = TimeSpan.FromMilliseconds(100); // long enough to see a waiter still waiting

    /// <summary>units.Next(thread) on a thread of its own, so the test can watch it wait.</summary>
    private sealed class Waiter
    {
        private readonly Thread _thread;
        public bool Got;
        public GradientUnits.Unit Unit;

        public Waiter(GradientUnits units, int thread)
        {
            _thread = new Thread(() => Got = units.Next(thread, out Unit)) { IsBackground = true };
            _thread.Start();
        }

        public bool Returned(TimeSpan within) => _thread.Join(within);
    }

    /// <summary>Next for a call that must not wait: a schedule that blocks there fails the test instead of hanging it.</summary>
    private static bool Next(GradientUnits units, int thread, out GradientUnits.Unit unit)
    {
        var waiter = new Waiter(units, thread);
        Assert.True(waiter.Returned(Patience), "Next waited although a unit was ready or none was left");
        unit = waiter.Unit;
        return waiter.Got;
    }

    /// <summary>A schedule at the start of a step, with the given shares' backward passes already done.</summary>
    private static GradientUnits Started(int shares, int groups, params int[] ready)
    {
        var units = new GradientUnits(shares, groups);
        units.Reset();
        foreach (int share in ready) units.ShareReady(share);
        return units;
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    [InlineData(3, 2)]
    public void EveryUnitOnce_EachPartAddsItsSharesFromItsOwnShareOn(int shares, int groups)
    {
        var units = Started(shares, groups, [.. Enumerable.Range(0, shares)]);
        var order = new Dictionary<(int Group, int Part), List<int>>();
        var seen = new HashSet<int>();
        for (int thread = 0; Next(units, thread % shares, out var unit); thread++)
        {
            Assert.True(seen.Add(unit.Index), $"unit {unit.Index} handed out twice");
            var key = (unit.Group, unit.Part);
            if (!order.TryGetValue(key, out var list)) order[key] = list = [];
            Assert.Equal(list.Count == 0, unit.First);
            list.Add(unit.Share);
            units.Complete(unit);
        }
        Assert.Equal(shares * shares * groups, seen.Count);
        foreach (var ((_, part), list) in order)
            Assert.Equal(Enumerable.Range(0, shares).Select(k => (part + k) % shares), list); // part p: shares p, p+1, ... mod S
    }

    [Fact]
    public void AThreadWhoseShareIsReadyFirst_StartsOnItsOwnPart_ThenWaitsForTheOtherShare()
    {
        var units = Started(shares: 2, groups: 2, ready: 1);
        Assert.True(Next(units, 1, out var first));
        Assert.True(Next(units, 1, out var second));
        Assert.All(new[] { first, second }, u => Assert.Equal((1, 1, true), (u.Share, u.Part, u.First)));
        units.Complete(first);
        units.Complete(second);

        // Every unit left needs share 0: part 0 starts with it, and part 1 adds it after share 1.
        var waiter = new Waiter(units, 1);
        Assert.False(waiter.Returned(Held), "a unit was handed out before its share was ready");
        units.ShareReady(0);
        Assert.True(waiter.Returned(Patience));
        Assert.True(waiter.Got);
        Assert.Equal(0, waiter.Unit.Share);
    }

    [Fact]
    public void APartsSecondShare_WaitsForItsFirst()
    {
        var units = Started(shares: 2, groups: 1, ready: [0, 1]);
        Assert.True(Next(units, 0, out var part0));  // (part 0, share 0)
        Assert.True(Next(units, 1, out var part1));  // (part 1, share 1)
        Assert.Equal((0, 0, 1, 1), (part0.Part, part0.Share, part1.Part, part1.Share));

        // Both first units are claimed and unfinished: the second units must wait for them.
        var waiter = new Waiter(units, 0);
        Assert.False(waiter.Returned(Held), "a part's second share was handed out before its first was added");
        units.Complete(part1);
        Assert.True(waiter.Returned(Patience));
        Assert.True(waiter.Got);
        Assert.Equal((1, 0, false), (waiter.Unit.Part, waiter.Unit.Share, waiter.Unit.First));
    }

    [Fact]
    public void Fail_ReleasesAThreadWaitingForAShareThatWillNeverBeReady()
    {
        var units = Started(shares: 2, groups: 1, ready: 1);
        Assert.True(Next(units, 1, out var own));
        units.Complete(own);
        var waiter = new Waiter(units, 1);
        Assert.False(waiter.Returned(Held));
        units.Fail();
        Assert.True(waiter.Returned(Patience));
        Assert.False(waiter.Got);
    }

    [Fact]
    public void Reset_StartsTheNextStepFromNothing()
    {
        var units = Started(shares: 1, groups: 2, ready: 0);
        while (Next(units, 0, out var unit)) units.Complete(unit);
        units.Reset();
        units.ShareReady(0);
        int count = 0;
        while (Next(units, 0, out var unit)) { units.Complete(unit); count++; }
        Assert.Equal(2, count);
    }
}
