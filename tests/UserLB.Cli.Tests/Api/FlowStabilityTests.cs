using System.Net;
using UserLB.IO.Health;

namespace UserLB.Cli.Tests.Api;

/// <summary>Changes through the API while traffic flows: what established flows keep, what new flows get; health checks.</summary>
public sealed class FlowStabilityTests
{
    private static async Task PostOkAsync(ApiFixture api, string body)
    {
        using var res = await api.PostAsync("/farms", body);
        Assert.True(res.StatusCode == HttpStatusCode.OK, await res.Content.ReadAsStringAsync());
    }

    private static byte[][] Syns(int first, int count) =>
        [.. Enumerable.Range(first, count).Select(p => ApiTraffic.Tcp((ushort)p, syn: true))];

    [Fact]
    public async Task EstablishedFlow_UnrelatedChangesAndDown_KeepsItsBackend()
    {
        await using var api = await ApiFixture.StartAsync();
        await ApiTraffic.SendAsync(api, Syns(41000, 20));
        var before = await ApiTraffic.ConnectionsAsync(api);
        Assert.Equal(20, before.Count);
        Assert.Equal(2, before.Values.Distinct().Count());

        // Unrelated changes: a new backend, another weight, a new farm.
        await PostOkAsync(api, """
            {"farms":[{"name":"app","backends":[{"name":"bck2","ip-addr":"192.168.1.12","weight":"5"},{"name":"bck0","weight":"3"}]},
                      {"name":"dns","virtual-addr":"192.168.101.252","protocol":"udp","iface":"m0","backends":[{"name":"d","ip-addr":"192.168.1.30"}]}]}
            """);
        // And the flows' own backends stop taking new flows: down and off keep established connections (drain).
        await PostOkAsync(api, """{"farms":[{"name":"app","backends":[{"name":"bck0","state":"off"},{"name":"bck1","state":"down"}]}]}""");

        await ApiTraffic.SendAsync(api, [.. before.Keys.Select(p => ApiTraffic.Tcp((ushort)p, syn: false))]);
        var after = await ApiTraffic.ConnectionsAsync(api);
        foreach (var (port, backend) in before) Assert.Equal(backend, after[port]);

        // New flows go only to the one backend still up.
        await ApiTraffic.SendAsync(api, Syns(42000, 20));
        var fresh = await ApiTraffic.ConnectionsAsync(api);
        Assert.All(Enumerable.Range(42000, 20), p => Assert.Equal("bck2", fresh[p]));
    }

    [Fact]
    public async Task FlushAction_OnBackend_DestroysItsConnectionsOnly()
    {
        await using var api = await ApiFixture.StartAsync();
        await ApiTraffic.SendAsync(api, Syns(43000, 20));
        var before = await ApiTraffic.ConnectionsAsync(api);
        await PostOkAsync(api, """{"farms":[{"name":"app","backends":[{"name":"bck1","action":"flush"}]}]}""");
        var after = await ApiTraffic.ConnectionsAsync(api);
        Assert.Equal(before.Where(kv => kv.Value == "bck0").ToDictionary(), after);
    }

    [Fact]
    public async Task HealthCheck_ProbeFails_BackendMarkedDownGetsNoNewFlowsThenUpAgain()
    {
        var probe = new FakeProbe();
        await using var api = await ApiFixture.StartAsync("""
            {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","scheduler":"weight","iface":"m0",
              "health-check":{"type":"tcp","interval":"0.1","fall":"1","rise":"1"},
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
            """, probe);
        var health = api.Health!;
        await health.ConfigureAsync(api.Control.Config);
        probe.Failing.Add("192.168.1.11");
        Assert.Equal(2, await health.CheckDueAsync());
        Assert.Equal(["app/bck1"], health.Unhealthy);

        using (var view = await api.Http.GetAsync("/farms/app"))
        {
            string text = await view.Content.ReadAsStringAsync();
            Assert.Contains("\"health\": \"down\"", text, StringComparison.Ordinal);
            Assert.Contains("\"health\": \"up\"", text, StringComparison.Ordinal);
        }
        await ApiTraffic.SendAsync(api, Syns(44000, 30));
        Assert.All((await ApiTraffic.ConnectionsAsync(api)).Values, b => Assert.Equal("bck0", b));
        Assert.Equal(Enumerable.Repeat("up", 2), api.Control.Config.FindFarm("app")!.Backends.Select(b => b.State.ToString().ToLowerInvariant()));

        // It recovers: rise = 1 good probe, and new flows reach it again.
        probe.Failing.Clear();
        await Task.Delay(150); // the interval: the checks are due again
        Assert.Equal(2, await health.CheckDueAsync());
        Assert.Empty(health.Unhealthy);
        await ApiTraffic.SendAsync(api, Syns(45000, 30));
        var flows = await ApiTraffic.ConnectionsAsync(api);
        Assert.Contains(Enumerable.Range(45000, 30), p => flows[p] == "bck1");
    }

    [Fact]
    public async Task HealthCheck_FailsWithFlush_DestroysTheBackendsConnections()
    {
        var probe = new FakeProbe();
        await using var api = await ApiFixture.StartAsync("""
            {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","scheduler":"weight","iface":"m0",
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},
                          {"name":"bck1","ip-addr":"192.168.1.11","health-check":{"type":"tcp","fall":"1","flush":"on"}}]}]}
            """, probe);
        await ApiTraffic.SendAsync(api, Syns(46000, 20));
        var before = await ApiTraffic.ConnectionsAsync(api);
        Assert.Contains("bck1", before.Values);
        await api.Health!.ConfigureAsync(api.Control.Config);
        probe.Failing.Add("192.168.1.11");
        Assert.Equal(1, await api.Health.CheckDueAsync());
        var after = await ApiTraffic.ConnectionsAsync(api);
        Assert.Equal(before.Where(kv => kv.Value == "bck0").ToDictionary(), after);
    }

    private sealed class FakeProbe : IHealthProbe
    {
        public HashSet<string> Failing { get; } = [];

        public Task<ProbeResult> ProbeAsync(HealthTarget target, CancellationToken cancellationToken) =>
            Task.FromResult(Failing.Contains(target.Address.ToString()) ? ProbeResult.Fail("refused (fake)") : ProbeResult.Success);
    }
}
