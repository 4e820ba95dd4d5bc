using UserLB.Cli.Commands;
using UserLB.Cli.Views;
using UserLB.Engine;
using UserLB.IO.Live;

namespace UserLB.Cli.Tests;

/// <summary>One receive thread for every interface (--rx-threads one, --busy-poll): the options and the views.</summary>
public class ReceiveViewTests
{
    private static StatsSnapshot Stats(ReceiveStats? receive)
    {
        var engine = new PacketEngine(new EngineOptions(), new NullSink());
        return StatsSnapshot.Capture(EngineFigures.Of(engine), DateTimeOffset.UnixEpoch, 1,
            new QueueStats(0, 0, 0, 0, 1, "inline", null, receive), new EventStats(0, 0, 0), new HashSet<string>());
    }

    [Fact]
    public void Views_OneThreadBusyPolling_ShowPollTimeAndSleeps()
    {
        var s = Stats(new ReceiveStats(100, 1234, 60, PolledSeconds: 2.5, HeldBack: 17));
        var metrics = PrometheusText.Format(s).Split('\n');
        Assert.Contains("userlb_busy_poll_seconds 0.0001", metrics);
        Assert.Contains("userlb_busy_poll_polled_seconds_total 2.5", metrics);
        Assert.Contains("# TYPE userlb_busy_poll_polled_seconds_total counter", metrics);
        Assert.Contains("userlb_busy_poll_held_back_total 17", metrics);
        Assert.Contains("userlb_rx_sleeps_total 1234", metrics);
        Assert.Contains("userlb_busy_poll_window_seconds 6E-05", metrics);
        Assert.Contains(ViewText.Status(s, null).Split('\n'), l => l == "workers  1, inline dispatch on one receive thread for every interface (busy-poll ≤ 100 µs, now 60 µs)");
        Assert.Contains(ViewText.Stats(s).Split('\n'), l => l == "receive  one thread for every interface  busy-poll ≤ 100 µs (now 60 µs)  slept 1234 times in poll()  polled 2.500 s, held back 17 times (CPUs busy)");
    }

    [Theory]
    [InlineData(true, "engaged now", 1)]
    [InlineData(false, "not now", 0)]
    public void Views_AutoReceiveThreads_ShowWhetherEngagedAndHowOften(bool engaged, string now, int gauge)
    {
        var s = Stats(new ReceiveStats(0, 99, 0, "auto", engaged, 7));
        var metrics = PrometheusText.Format(s).Split('\n');
        Assert.Contains($"userlb_rx_threads_engaged {gauge}", metrics);
        Assert.Contains("userlb_rx_threads_engagements_total 7", metrics);
        Assert.Contains(ViewText.Status(s, null).Split('\n'), l => l == $"workers  1, inline dispatch on one receive thread for every interface, a thread per interface while it is saturated ({now}; engaged 7 times)");
        Assert.Contains(ViewText.Stats(s).Split('\n'), l => l == $"receive  one thread for every interface, a thread per interface while it is saturated ({now}; engaged 7 times)  busy-poll ≤ 0 µs (now 0 µs)  slept 99 times in poll()");
    }

    [Fact]
    public void Views_OneThread_NoAutoFigures()
    {
        var s = Stats(new ReceiveStats(0, 5));
        Assert.DoesNotContain("userlb_rx_threads_engage", PrometheusText.Format(s), StringComparison.Ordinal);
        Assert.DoesNotContain("saturated", ViewText.Stats(s), StringComparison.Ordinal);
    }

    [Fact]
    public void Views_ThreadPerPort_NoReceiveLines()
    {
        var s = Stats(null);
        Assert.DoesNotContain("userlb_rx_sleeps_total", PrometheusText.Format(s), StringComparison.Ordinal);
        Assert.DoesNotContain("receive  ", ViewText.Stats(s), StringComparison.Ordinal);
        Assert.Contains(ViewText.Status(s, null).Split('\n'), l => l == "workers  1, inline dispatch (the receive threads run the engine: no queue)");
    }

    private static (LiveReceive, long) Parse(string engine, bool rings, LiveDispatch dispatch, params string[] argv) =>
        RunCommand.ParseReceive(new Args(argv, ["rx-threads", "busy-poll"], []), engine, rings, dispatch);

    [Theory]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--rx-threads", "one" }, LiveReceive.OneThread, 0L)]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--busy-poll", "50" }, LiveReceive.OneThread, 50_000L)]
    [InlineData("afpacket", true, LiveDispatch.Inline, new string[0], LiveReceive.Auto, 0L)]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--busy-poll", "0" }, LiveReceive.Auto, 0L)]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--rx-threads", "auto", "--busy-poll", "0" }, LiveReceive.Auto, 0L)]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--rx-threads", "per-port" }, LiveReceive.PerPort, 0L)]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--rx-threads", "auto" }, LiveReceive.Auto, 0L)]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--rx-threads", "auto", "--busy-poll", "50" }, LiveReceive.Auto, 50_000L)]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--rx-threads", "per-port", "--busy-poll", "0" }, LiveReceive.PerPort, 0L)]
    [InlineData("afpacket", false, LiveDispatch.Inline, new string[0], LiveReceive.PerPort, 0L)]
    [InlineData("afpacket", true, LiveDispatch.Queue, new string[0], LiveReceive.PerPort, 0L)]
    [InlineData("pcap", false, LiveDispatch.Inline, new string[0], LiveReceive.PerPort, 0L)]
    public void ParseReceive_ValidCombinations_ThreadsAndBusyPoll(string engine, bool rings, LiveDispatch dispatch, string[] argv, LiveReceive receive, long busyPollNs) =>
        Assert.Equal((receive, busyPollNs), Parse(engine, rings, dispatch, argv));

    [Theory]
    [InlineData("pcap", false, LiveDispatch.Inline, new[] { "--rx-threads", "one" }, "option --rx-threads: one receive thread for every interface needs --engine afpacket with rings and inline dispatch")]
    [InlineData("afpacket", false, LiveDispatch.Inline, new[] { "--rx-threads", "one" }, "option --rx-threads: one receive thread for every interface needs --engine afpacket with rings and inline dispatch")]
    [InlineData("afpacket", true, LiveDispatch.Queue, new[] { "--rx-threads", "one" }, "option --rx-threads: one receive thread for every interface needs --engine afpacket with rings and inline dispatch")]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--rx-threads", "two" }, "option --rx-threads: \"two\" is not one, per-port or auto")]
    [InlineData("pcap", false, LiveDispatch.Inline, new[] { "--rx-threads", "auto" }, "option --rx-threads: auto starts with one receive thread for every interface; it needs --engine afpacket with rings and inline dispatch")]
    [InlineData("afpacket", false, LiveDispatch.Inline, new[] { "--rx-threads", "auto" }, "option --rx-threads: auto starts with one receive thread")]
    [InlineData("afpacket", true, LiveDispatch.Queue, new[] { "--rx-threads", "auto" }, "option --rx-threads: auto starts with one receive thread")]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--rx-threads", "per-port", "--busy-poll", "50" }, "option --busy-poll: needs one receive thread")]
    [InlineData("afpacket", true, LiveDispatch.Queue, new[] { "--busy-poll", "50" }, "option --busy-poll: needs one receive thread")]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--busy-poll", "100001" }, "option --busy-poll: 100001 is not between 0 and 100000 microseconds")]
    [InlineData("afpacket", true, LiveDispatch.Inline, new[] { "--busy-poll", "-1" }, "option --busy-poll: -1 is not between 0 and 100000 microseconds")]
    public void ParseReceive_BadCombinations_UsageError(string engine, bool rings, LiveDispatch dispatch, string[] argv, string message)
    {
        var ex = Assert.Throws<UsageException>(() => Parse(engine, rings, dispatch, argv));
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    private sealed class NullSink : IFrameSink
    {
        public void Send(ReadOnlySpan<byte> frame, int port)
        {
        }
    }
}
