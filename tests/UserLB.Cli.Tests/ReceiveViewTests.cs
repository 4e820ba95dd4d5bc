using UserLB.Cli.Commands;
using UserLB.Cli.Views;
using UserLB.Engine;

namespace UserLB.Cli.Tests;

/// <summary>The polled receiver (afpacket, one worker; --busy-poll): the option and the views.</summary>
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

    private static long Parse(string engine, int workers, params string[] argv) =>
        RunCommand.ParseBusyPoll(new Args(argv, ["busy-poll"], []), engine, workers);

    [Theory]
    [InlineData("afpacket", 1, new[] { "--busy-poll", "50" }, 50_000L)]
    [InlineData("afpacket", 1, new string[0], 0L)]
    [InlineData("afpacket", 1, new[] { "--busy-poll", "0" }, 0L)]
    [InlineData("afpacket", 2, new string[0], 0L)]
    [InlineData("pcap", 1, new string[0], 0L)]
    [InlineData("tap", 1, new string[0], 0L)]
    public void ParseBusyPoll_ValidCombinations_Nanoseconds(string engine, int workers, string[] argv, long busyPollNs) =>
        Assert.Equal(busyPollNs, Parse(engine, workers, argv));

    [Theory]
    [InlineData("pcap", 1, new[] { "--busy-poll", "50" }, "option --busy-poll: polls afpacket's rings from the one receive thread")]
    [InlineData("afpacket", 2, new[] { "--busy-poll", "50" }, "option --busy-poll: polls afpacket's rings from the one receive thread")]
    [InlineData("afpacket", 1, new[] { "--busy-poll", "100001" }, "option --busy-poll: 100001 is not between 0 and 100000 microseconds")]
    [InlineData("afpacket", 1, new[] { "--busy-poll", "-1" }, "option --busy-poll: -1 is not between 0 and 100000 microseconds")]
    public void ParseBusyPoll_BadCombinations_UsageError(string engine, int workers, string[] argv, string message)
    {
        var ex = Assert.Throws<UsageException>(() => Parse(engine, workers, argv));
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--rings", "off", "option --rings was removed: afpacket always uses its rings (see the README's changelog)")]
    [InlineData("--dispatch", "queue", "option --dispatch was removed: one worker runs inline, several through queues (see the README's changelog)")]
    [InlineData("--rx-threads", "one", "option --rx-threads was removed: afpacket adds a receive thread per interface while one is saturated (see the README's changelog)")]
    public void Run_RemovedOption_UsageErrorNamingTheChangelog(string option, string value, string message)
    {
        var ex = Assert.Throws<UsageException>(() => RunCommand.Run(["--config", "/nonexistent/farms.json", option, value]));
        Assert.Equal(message, ex.Message);
    }

    private sealed class NullSink : IFrameSink
    {
        public void Send(ReadOnlySpan<byte> frame, int port)
        {
        }
    }
}
