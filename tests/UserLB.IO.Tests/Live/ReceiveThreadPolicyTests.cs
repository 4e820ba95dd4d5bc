using System.Diagnostics;
using System.Globalization;
using UserLB.IO.Live;

namespace UserLB.IO.Tests.Live;

/// <summary>
/// <see cref="UserLB.IO.Live.Receivers.PolledReceiver"/>'s choice: a thread per port joins the one receive thread after enough windows in a row
/// in which that thread's CPU time filled the window, and leaves after its time to try the one thread again.
/// </summary>
public sealed class ReceiveThreadPolicyTests
{
    public static TheoryData<string, string, string, long> Cases => new()
    {
        // description; observations "WALL_MS:CPU_MS" (window 10 ms, saturated at 0.8, 2 windows, engaged 100 ms);
        // Engaged after each observation (0/1); engagements at the end
        { "idle: never", "0:0 10:0 20:0 30:0", "0000", 0 },
        { "half busy: never", "0:0 10:5 20:10 30:15 40:20", "00000", 0 },
        { "one saturated window is not enough", "0:0 10:9 20:9", "000", 0 },
        { "two saturated windows in a row engage", "0:0 10:9 20:18", "001", 1 },
        { "exactly the fraction counts as saturated", "0:0 10:8 20:16", "001", 1 },
        { "a window below between breaks the row", "0:0 10:9 20:10 30:19 40:28", "00001", 1 },
        { "calls within a window do not close it", "0:0 3:3 6:6 9:9 10:10 15:15 20:20", "0000001", 1 },
        { "a long window counts by its own length", "0:0 50:45 100:90", "001", 1 },
        { "engaged until its time is up, then the one thread again", "0:0 10:9 20:18 30:18 60:18 119:18 130:18", "0011110", 1 },
        { "saturated again after the try: engaged again", "0:0 10:9 20:18 121:19 131:28 141:37", "001001", 2 },
        { "not saturated after the try: stays with one thread", "0:0 10:9 20:18 121:19 131:20 141:21", "001000", 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Observe_Sequence_EngagesWhenSaturated(string description, string observations, string engaged, long engagements)
    {
        var p = new ReceiveThreadPolicy(windowNs: 10_000_000, saturatedFraction: 0.8, windowsToEngage: 2, engagedNs: 100_000_000);
        var steps = observations.Split(' ');
        Assert.Equal(steps.Length, engaged.Length);
        bool before = false;
        for (int i = 0; i < steps.Length; i++)
        {
            var parts = steps[i].Split(':');
            long wall = long.Parse(parts[0], CultureInfo.InvariantCulture) * 1_000_000, cpu = long.Parse(parts[1], CultureInfo.InvariantCulture) * 1_000_000;
            bool changed = p.Observe(wall, cpu);
            bool expected = engaged[i] == '1';
            Assert.True(expected == p.Engaged, $"{description}: after {steps[i]} engaged {p.Engaged}, expected {expected}");
            Assert.True(changed == (expected != before), $"{description}: after {steps[i]} Observe returned {changed}");
            before = expected;
        }
        Assert.True(engagements == p.Engagements, $"{description}: {p.Engagements} engagements, expected {engagements}");
    }

    [Fact]
    public void WindowDue_BeforeTheFirstObservationAndAtEachWindowsEnd_True()
    {
        var p = new ReceiveThreadPolicy(windowNs: 10_000_000);
        Assert.True(p.WindowDue(5_000_000)); // nothing observed yet: the first observation starts a window
        p.Observe(5_000_000, 0);
        Assert.False(p.WindowDue(5_000_000));
        Assert.False(p.WindowDue(14_999_999));
        Assert.True(p.WindowDue(15_000_000));
        p.Observe(15_000_000, 1_000_000);
        Assert.False(p.WindowDue(24_000_000));
        Assert.True(p.WindowDue(40_000_000));
    }

    [Fact]
    public void Constructor_BadArguments_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReceiveThreadPolicy(windowNs: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReceiveThreadPolicy(saturatedFraction: -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReceiveThreadPolicy(windowsToEngage: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReceiveThreadPolicy(engagedNs: -1));
    }

    [Fact]
    public void ThreadClock_BusyThread_CpuTimeFollowsWallTime()
    {
        long wall0 = Stopwatch.GetTimestamp(), cpu0 = ThreadClock.CpuNs();
        while (Stopwatch.GetElapsedTime(wall0).Ticks < 300_000) { } // spin 30 ms
        long wall = Stopwatch.GetElapsedTime(wall0).Ticks * 100, cpu = ThreadClock.CpuNs() - cpu0;
        Assert.True(cpu0 > 0, "no thread CPU clock");
        Assert.InRange(cpu, 1, wall + 1_000_000); // never more than the wall time (1 ms of clock granularity)
        long sleepCpu0 = ThreadClock.CpuNs();
        Thread.Sleep(30);
        Assert.InRange(ThreadClock.CpuNs() - sleepCpu0, 0, 10_000_000); // sleeping costs next to nothing
    }
}
