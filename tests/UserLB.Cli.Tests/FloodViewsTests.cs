using UserLB.Cli.Views;
using UserLB.Engine;
using UserLB.Packets;

namespace UserLB.Cli.Tests;

/// <summary>The flood counters in the views: NAT port evictions, the SYN proxy's work, new-flow budget drops.</summary>
public class FloodViewsTests
{
    private static StatsSnapshot Stats(EngineCounters c)
    {
        var engine = new PacketEngine(new EngineOptions(), new NullSink());
        engine.Counters.Add(c);
        return StatsSnapshot.Capture(EngineFigures.Of(engine), DateTimeOffset.UnixEpoch, 1,
            new QueueStats(0, 0, 0, 0, 1, "inline"), new EventStats(0, 0, 0), new HashSet<string>());
    }

    [Fact]
    public void Views_FloodCounters_InStatsAndMetrics()
    {
        var c = new EngineCounters { NatPortEvictions = 12, NewFlowBudgetRetries = 3, SynProxySyns = 1000, SynProxyCookiesValid = 20, SynProxyRetransmits = 1, SynProxyHandshakes = 19 };
        c.Drops[(int)DropReason.NewFlowBudget] = 77;
        c.Drops[(int)DropReason.SynProxyBadCookie] = 5;
        var s = Stats(c);
        var metrics = PrometheusText.Format(s).Split('\n');
        Assert.Contains("userlb_nat_port_evictions_total 12", metrics);
        Assert.Contains("userlb_synproxy_syns_total 1000", metrics);
        Assert.Contains("userlb_synproxy_cookies_valid_total 20", metrics);
        Assert.Contains("userlb_synproxy_retransmits_total 1", metrics);
        Assert.Contains("userlb_synproxy_handshakes_total 19", metrics);
        Assert.Contains("userlb_drops_total{reason=\"new_flow_budget\"} 77", metrics);
        Assert.Contains("userlb_new_flow_budget_retries_total 3", metrics);
        Assert.Contains("userlb_drops_total{reason=\"syn_proxy_bad_cookie\"} 5", metrics);
        var text = ViewText.Stats(s).Split('\n');
        Assert.Contains(text, l => l.Contains("nat port evictions 12", StringComparison.Ordinal));
        Assert.Contains("synproxy SYNs answered with a cookie 1000  valid cookies 20  SYNs sent again 1  handshakes completed 19", text);
        Assert.Contains("budget   new flows over the budget admitted as retries 3", text);
        Assert.Contains(text, l => l.StartsWith("drops    ", StringComparison.Ordinal) && l.Contains("new_flow_budget=77", StringComparison.Ordinal));
    }

    [Fact]
    public void Views_NoSynProxy_NoSynProxyLine() =>
        Assert.DoesNotContain("synproxy", ViewText.Stats(Stats(new EngineCounters())), StringComparison.Ordinal);

    private sealed class NullSink : IFrameSink
    {
        public void Send(ReadOnlySpan<byte> frame, int port) { }
        public void Send(ReadOnlySpan<byte> frame, int port, in VnetHeader offload) { }
    }
}
