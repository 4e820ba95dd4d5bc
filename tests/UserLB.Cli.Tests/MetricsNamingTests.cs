using UserLB.Cli.Views;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Cli.Tests;

/// <summary>/metrics by Prometheus' conventions: process_* names, a histogram for the rx delay, drop series per farm
/// from the start, each port's losses outside the engine.</summary>
public class MetricsNamingTests
{
    private static StatsSnapshot Stats(QueueStats queue)
    {
        var engine = new PacketEngine(new EngineOptions(), new NullSink());
        engine.Apply(EngineSnapshot.Build(ConfigParser.Parse(ReplayFiles.ReferenceFarm), new IdRegistry(), null, 1));
        return StatsSnapshot.Capture(EngineFigures.Of(engine), DateTimeOffset.UnixEpoch, 1, queue, new EventStats(0, 0, 0), new HashSet<string>());
    }

    private static string[] Metrics(QueueStats queue) => PrometheusText.Format(Stats(queue)).Split('\n');

    [Fact]
    public void Metrics_Process_StandardNamesAndNoUpGauge()
    {
        var lines = Metrics(new QueueStats(0, 0, 0, 0, 1, "inline"));
        Assert.Contains("# TYPE process_start_time_seconds gauge", lines);
        Assert.Contains("# TYPE process_cpu_seconds_total counter", lines);
        Assert.Contains("# TYPE process_resident_memory_bytes gauge", lines);
        Assert.Contains(lines, l => l.StartsWith("process_resident_memory_bytes ", StringComparison.Ordinal) && long.Parse(l[30..], System.Globalization.CultureInfo.InvariantCulture) > 0);
        var start = lines.Single(l => l.StartsWith("process_start_time_seconds ", StringComparison.Ordinal));
        double startSeconds = double.Parse(start["process_start_time_seconds ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(startSeconds, DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.DoesNotContain(lines, l => l.StartsWith("userlb_up ", StringComparison.Ordinal) || l.StartsWith("userlb_resident_memory_bytes", StringComparison.Ordinal));
    }

    [Fact]
    public void Metrics_FarmWithoutDrops_EveryReasonSeriesAtZero()
    {
        var lines = Metrics(new QueueStats(0, 0, 0, 0, 1, "inline"));
        var farm = lines.Where(l => l.StartsWith("userlb_farm_drops_total{", StringComparison.Ordinal)).ToArray();
        Assert.Equal((int)DropReason.Count - 1, farm.Length);
        Assert.All(farm, l => Assert.EndsWith("} 0", l, StringComparison.Ordinal));
        Assert.Contains($"userlb_farm_drops_total{{farm=\"app\",reason=\"{DropReason.TcpInvalid.Name()}\"}} 0", farm);
    }

    [Fact]
    public void Metrics_RxDelay_CumulativeHistogramBuckets()
    {
        var buckets = new long[21];
        buckets[0] = 2; // ≤ 1 µs
        buckets[6] = 5; // ≤ 64 µs
        buckets[20] = 1; // above 2^19 µs
        var lines = Metrics(new QueueStats(0, 0, 0, 0, 1, "inline", new RxDelayStats(8, 64, 64, double.PositiveInfinity, 0.75) { Buckets = buckets }));
        Assert.Contains("# TYPE userlb_rx_delay_seconds histogram", lines);
        Assert.Contains("userlb_rx_delay_seconds_bucket{le=\"1E-06\"} 2", lines);
        Assert.Contains("userlb_rx_delay_seconds_bucket{le=\"3.2E-05\"} 2", lines);
        Assert.Contains("userlb_rx_delay_seconds_bucket{le=\"6.4E-05\"} 7", lines);
        Assert.Contains("userlb_rx_delay_seconds_bucket{le=\"0.524288\"} 7", lines);
        Assert.Contains("userlb_rx_delay_seconds_bucket{le=\"+Inf\"} 8", lines);
        Assert.Contains("userlb_rx_delay_seconds_sum 0.75", lines);
        Assert.Contains("userlb_rx_delay_seconds_count 8", lines);
        Assert.DoesNotContain(lines, l => l.Contains("quantile", StringComparison.Ordinal));
    }

    [Fact]
    public void Views_PortLosses_InMetricsAndStats()
    {
        var queue = new QueueStats(0, 0, 0, 0, 1, "inline") { Ports = [new PortDropStats("veth-c", 41, 2, 1, 900), new PortDropStats("veth-s", 0, 0, 0)] };
        var lines = Metrics(queue);
        Assert.Contains("userlb_port_kernel_drops_total{port=\"veth-c\"} 41", lines);
        Assert.Contains("userlb_port_tx_drops_total{port=\"veth-c\"} 2", lines);
        Assert.Contains("userlb_port_rx_truncated_total{port=\"veth-c\"} 1", lines);
        Assert.Contains("userlb_port_kernel_drops_total{port=\"veth-s\"} 0", lines);
        Assert.Contains("userlb_port_handshake_drops_total{port=\"veth-c\"} 900", lines);
        Assert.Contains("port     veth-c  kernel drops 41  handshake ring drops 900  tx drops 2  rx truncated 1", ViewText.Stats(Stats(queue)).Split('\n'));
    }

    private sealed class NullSink : IFrameSink
    {
        public void Send(ReadOnlySpan<byte> frame, int port) { }
        public void Send(ReadOnlySpan<byte> frame, int port, in VnetHeader offload) { }
    }
}
