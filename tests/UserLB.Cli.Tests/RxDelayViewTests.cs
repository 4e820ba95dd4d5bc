using UserLB.Cli.Views;
using UserLB.Engine;

namespace UserLB.Cli.Tests;

/// <summary>The sampled kernel → userlb receive delay in the views (afpacket with rings reports it; other ports do not).</summary>
public class RxDelayViewTests
{
    private static StatsSnapshot Stats(RxDelayStats? delay)
    {
        var engine = new PacketEngine(new EngineOptions(), new NullSink());
        return StatsSnapshot.Capture(EngineFigures.Of(engine), DateTimeOffset.UnixEpoch, 1,
            new QueueStats(0, 0, 0, 0, 1, "inline", delay), new EventStats(0, 0, 0), new HashSet<string>());
    }

    [Fact]
    public void Metrics_WithRxDelay_HistogramSumAndCountAndTextQuantiles()
    {
        var lines = PrometheusText.Format(Stats(new RxDelayStats(4360, 64, 512, 4096, 0.3178))).Split('\n');
        Assert.Contains("# TYPE userlb_rx_delay_seconds histogram", lines);
        Assert.Contains("userlb_rx_delay_seconds_sum 0.3178", lines);
        Assert.Contains("userlb_rx_delay_seconds_count 4360", lines);
        Assert.Contains(ViewText.Stats(Stats(new RxDelayStats(4360, 64, 512, 4096, 0.3178))).Split('\n'),
            l => l == "rx delay kernel → userlb, 4360 sampled frames: p50 ≤ 64 µs  p99 ≤ 512 µs  max ≤ 4096 µs");
        Assert.Contains(ViewText.Status(Stats(new RxDelayStats(4360, 64, 512, 4096, 0.3178)), null).Split('\n'),
            l => l == "rx delay p50 ≤ 64 µs  p99 ≤ 512 µs (kernel → userlb, sampled)");
    }

    [Fact]
    public void Metrics_WithoutRxDelay_NoSeries()
    {
        Assert.DoesNotContain("userlb_rx_delay_seconds", PrometheusText.Format(Stats(null)), StringComparison.Ordinal);
        Assert.DoesNotContain("rx delay", ViewText.Stats(Stats(null)), StringComparison.Ordinal);
        Assert.DoesNotContain("rx delay", ViewText.Status(Stats(null), null), StringComparison.Ordinal);
    }

    private sealed class NullSink : IFrameSink
    {
        public void Send(ReadOnlySpan<byte> frame, int port)
        {
        }
    }
}
