using System.Net;
using UserLB.Packets;

namespace UserLB.Cli.Tests.Api;

/// <summary>
/// nftlb's policies and address objects through the API into the engine: a blacklisted source is dropped once POSTed
/// and admitted once its element is DELETEd, without rebuilding the farms or touching other connections; a farm on a
/// separate address object runs as if the address were inline, and the address's policies apply to it.
/// </summary>
public class PolicyEndpointsTests
{
    private const string Blocked = "192.168.101.66";

    private static async Task<long> PolicyDropsAsync(ApiFixture api) =>
        (await api.Control.CountersAsync()).Drops[(int)DropReason.PolicyBlacklist];

    private static async Task<int> ConnectionsFromAsync(ApiFixture api, string client) =>
        (await api.Forwarder.InvokeAllAsync((engine, _) =>
        {
            int n = 0;
            for (int i = 0; i < engine.Table.HighWater; i++)
                if (engine.Table[i].InUse && engine.Table[i].Original.Src == IpAddr.Parse(client)) n++;
            return n;
        })).Sum();

    [Fact]
    public async Task PostThenDeleteElement_BlacklistedSourceDroppedThenAdmitted()
    {
        await using var api = await ApiFixture.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsync("/policies", $$"""{"policies":[{"name":"bl","type":"blacklist","elements":[{"data":"{{Blocked}}"},{"data":"10.0.0.0/8"}]}]}""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsync("/farms", """{"farms":[{"name":"app","policies":[{"name":"bl"}]}]}""")).StatusCode);

        await ApiTraffic.SendAsync(api, ApiTraffic.Tcp(40000, syn: true, client: Blocked), ApiTraffic.Tcp(40001, syn: true));
        Assert.Equal(1, await PolicyDropsAsync(api));
        Assert.Equal(0, await ConnectionsFromAsync(api, Blocked));
        Assert.Equal(1, await ConnectionsFromAsync(api, "192.168.101.1"));
        var policies = await api.Http.GetStringAsync("/policies");
        Assert.Contains($$"""
            "data": "{{Blocked}}",
                                                    "counter-packets": "1",
                                                    "counter-bytes": "40"
            """.Replace("\r", "", StringComparison.Ordinal), policies, StringComparison.Ordinal);

        var metrics = await api.Http.GetStringAsync("/metrics");
        Assert.Contains("userlb_policy_packets_total{policy=\"bl\",type=\"blacklist\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("userlb_farm_drops_total{farm=\"app\",reason=\"policy_blacklist\"} 1\n", metrics, StringComparison.Ordinal);

        using (var stats = System.Text.Json.JsonDocument.Parse(await api.Http.GetStringAsync("/stats")))
        {
            var bl = Assert.Single(stats.RootElement.GetProperty("policies").EnumerateArray());
            Assert.Equal(("bl", "blacklist", 2, 1, 40), (bl.GetProperty("name").GetString(), bl.GetProperty("type").GetString(),
                bl.GetProperty("elements").GetInt32(), bl.GetProperty("packets").GetInt64(), bl.GetProperty("bytes").GetInt64()));
        }
        Assert.Contains("policy   bl  blacklist  2 element(s)  matched 1 packets 40 bytes\n", await api.Http.GetStringAsync("/stats?format=text"), StringComparison.Ordinal);

        var farm = api.Control.Config.Farms[0];
        Assert.Equal(HttpStatusCode.OK, (await api.Http.DeleteAsync($"/policies/bl/elements/{Blocked}")).StatusCode);
        Assert.Same(farm, api.Control.Config.Farms[0]); // an element change leaves the farms as they were

        await ApiTraffic.SendAsync(api, ApiTraffic.Tcp(40002, syn: true, client: Blocked));
        Assert.Equal(1, await PolicyDropsAsync(api));
        Assert.Equal(1, await ConnectionsFromAsync(api, Blocked));
        Assert.Equal(1, await ConnectionsFromAsync(api, "192.168.101.1")); // the other client's connection was not touched
    }

    [Fact]
    public async Task PostPolicies_InTheEngineConfigurationNotReportedAsNotEnforced()
    {
        await using var api = await ApiFixture.StartAsync();
        await api.PostAsync("/policies", """{"policies":[{"name":"bl","type":"whitelist","elements":[{"data":"10.0.0.1"}]}]}""");
        await api.PostAsync("/farms", """{"farms":[{"name":"app","policies":[{"name":"bl"}]}]}""");

        var policy = Assert.Single(api.Control.Config.Policies);
        Assert.Equal(("bl", UserLB.Engine.Config.PolicyType.Whitelist, "10.0.0.1"), (policy.Name, policy.Type, Assert.Single(policy.Elements).Text));
        Assert.Equal(["bl"], api.Control.Config.Farms[0].Policies.ToArray());
        var placement = new UserLB.Cli.Api.Nftlb.NftlbProjection(["m0"]).Place(api.Control.Objects);
        Assert.DoesNotContain(placement.NotEnforced, what => what.Contains("policy", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ConfigFileWithPolicies_EnforcedAndShownByTheApi()
    {
        await using var api = await ApiFixture.StartAsync($$"""
            {"policies":[{"name":"bl","elements":[{"data":"{{Blocked}}"}]}],
             "farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","iface":"m0","policies":[{"name":"bl"}],
                       "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
            """);

        await ApiTraffic.SendAsync(api, ApiTraffic.Tcp(40000, syn: true, client: Blocked), ApiTraffic.Tcp(40001, syn: true));

        Assert.Equal(1, await PolicyDropsAsync(api));
        Assert.Equal(1, await ConnectionsFromAsync(api, "192.168.101.1"));
        Assert.Contains("\"name\": \"bl\"", await api.Http.GetStringAsync("/farms/app"), StringComparison.Ordinal);
        Assert.Contains("\"counter-packets\": \"1\"", await api.Http.GetStringAsync("/policies/bl"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FarmOnAddressObject_RunsAsInlineAndTheAddressPoliciesApply()
    {
        await using var api = await ApiFixture.StartAsync("""{"farms":[]}""");
        await api.PostAsync("/policies", $$"""{"policies":[{"name":"bl","elements":[{"data":"{{Blocked}}"}]}]}""");
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsync("/addresses", """
            {"addresses":[{"name":"a1","family":"ipv4","ip-addr":"192.168.101.250","ports":"80","protocol":"tcp","policies":[{"name":"bl"}]}]}
            """)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.PostAsync("/farms", """
            {"farms":[{"name":"viaaddr","mode":"snat","iface":"m0","addresses":[{"name":"a1"}],
                       "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
            """)).StatusCode);
        var farm = Assert.Single(api.Control.Config.Farms);
        Assert.Equal(("viaaddr", "192.168.101.250"), (farm.Name, farm.VirtualAddress.ToString()));
        Assert.Equal(["bl"], farm.Policies.ToArray());

        await ApiTraffic.SendAsync(api, ApiTraffic.Tcp(40000, syn: true), ApiTraffic.Tcp(40001, syn: true, client: Blocked));
        Assert.Equal(1, await ConnectionsFromAsync(api, "192.168.101.1"));
        Assert.Equal(0, await ConnectionsFromAsync(api, Blocked));
        Assert.Equal(1, await PolicyDropsAsync(api));
    }
}
