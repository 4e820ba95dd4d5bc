using System.Globalization;
using System.Text;
using UserLB.IO.Live;

namespace UserLB.IO.Tests.Live;

/// <summary>
/// Busy polling is held back after a window in which the polling thread waited for a CPU itself (its run-queue wait from
/// /proc/thread-self/schedstat): the CPUs were all taken, and polling would take one from the traffic's ends.
/// </summary>
public sealed class PollingGateTests
{
    [Theory]
    [InlineData("5237815 0 1\n", 0L)]
    [InlineData("100 2500 7\n", 2500L)]
    [InlineData("100 2500 7", 2500L)]
    [InlineData("", -1L)]
    [InlineData("abc", -1L)]
    [InlineData("12 x 3\n", -1L)]
    [InlineData(" 12 3\n", -1L)]
    [InlineData("12 -5 3\n", -1L)]
    public void Parse_SchedstatLine_WaitFieldOrMinusOne(string line, long expected) =>
        Assert.Equal(expected, RunQueueWait.Parse(Encoding.ASCII.GetBytes(line)));

    [Fact]
    public void WaitNs_CurrentThread_ReadsAndNeverGoesBack()
    {
        using var wait = RunQueueWait.ForCurrentThread();
        Assert.True(wait.Available, "no /proc/thread-self/schedstat");
        long first = wait.WaitNs();
        Assert.True(first >= 0, $"wait {first}");
        for (int i = 0; i < 20; i++) Thread.Sleep(1); // twenty wake-ups, each a little time on a run queue
        Assert.True(wait.WaitNs() >= first);
    }

    public static TheoryData<string, string, string> Cases => new()
    {
        // description; observations "WALL_MS:WAIT_MS" (window 10 ms, contended at 0.15); Open after each (0/1)
        { "no waiting: open", "0:0 10:0 20:1", "111" },
        { "a window with 15 % waiting closes it for the next", "0:0 10:1.5 20:1.5", "101" },
        { "just below: open", "0:0 10:1.4 20:2.8", "111" },
        { "calls within a window change nothing", "0:0 5:5 9:5 10:5 15:5", "11100" },
        { "unknown wait: open", "0:0 10:5 20:-1", "101" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Observe_Sequence_ClosedAfterContendedWindows(string description, string observations, string open)
    {
        var gate = new PollingGate(windowNs: 10_000_000, contendedFraction: 0.15);
        var steps = observations.Split(' ');
        Assert.Equal(steps.Length, open.Length);
        for (int i = 0; i < steps.Length; i++)
        {
            var parts = steps[i].Split(':');
            long wall = (long)(double.Parse(parts[0], CultureInfo.InvariantCulture) * 1_000_000);
            double waitMs = double.Parse(parts[1], CultureInfo.InvariantCulture);
            long wait = waitMs < 0 ? -1 : (long)(waitMs * 1_000_000);
            gate.Observe(wall, wait);
            Assert.True((open[i] == '1') == gate.Open, $"{description}: after {steps[i]} open {gate.Open}");
        }
    }

    [Fact]
    public void Observe_InfiniteFraction_NeverHeldBack()
    {
        var gate = new PollingGate(windowNs: 10_000_000, contendedFraction: double.PositiveInfinity);
        for (long t = 0; t <= 100; t += 10) gate.Observe(t * 1_000_000, t * 1_000_000); // waiting all the time
        Assert.True(gate.Open);
        Assert.Equal(0, gate.ContendedWindows);
    }

    [Fact]
    public void Observe_ContendedWindows_Counted()
    {
        var gate = new PollingGate(windowNs: 10_000_000, contendedFraction: 0.15);
        gate.Observe(0, 0);
        gate.Observe(10_000_000, 2_000_000);
        gate.Observe(20_000_000, 4_000_000);
        gate.Observe(30_000_000, 4_000_000);
        Assert.Equal(2, gate.ContendedWindows);
        Assert.True(gate.Open);
    }
}
