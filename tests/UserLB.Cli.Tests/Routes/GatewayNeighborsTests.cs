using UserLB.Cli.Api.Nftlb;
using UserLB.Cli.Commands;
using UserLB.Engine.Config;
using UserLB.IO.Routes;
using UserLB.Packets;
using static UserLB.IO.Tests.Routes.TestRoutes;

namespace UserLB.Cli.Tests.Routes;

/// <summary>Backends behind a gateway: which ones, and the gateway's MAC from the kernel's neighbours as theirs.</summary>
public class GatewayNeighborsTests
{
    private static readonly RouteTable Table = new(
    [
        R("192.168.101.0/24", "lbc"),
        R("192.168.1.0/24", "lbs"),
        R("10.77.0.0/24", "lbs", "192.168.1.254"),
        R("10.88.0.0/24", "lbc", "192.168.101.254"),
    ]);

    private static LoadBalancerConfig Config(string farms) => ConfigParser.Parse("{\"farms\":[" + farms + "]}");

    [Fact]
    public void Wanted_RoutedOfaceOnly_BackendsBehindAGatewayOutOfIt()
    {
        var config = Config("""
            {"name":"routed","virtual-addr":"192.168.101.250","virtual-ports":"80","iface":"lbc","oface":"lbs",
             "backends":[{"name":"far","ip-addr":"10.77.0.10"},{"name":"near","ip-addr":"192.168.1.10"},{"name":"elsewhere","ip-addr":"10.88.0.10"}]},
            {"name":"named","virtual-addr":"192.168.101.251","virtual-ports":"80","iface":"lbc","oface":"lbs",
             "backends":[{"name":"far","ip-addr":"10.77.0.11"}]}
            """);
        var objects = NftlbState.From(Config("""
            {"name":"routed","virtual-addr":"192.168.101.250","virtual-ports":"80","backends":[]},
            {"name":"named","virtual-addr":"192.168.101.251","virtual-ports":"80","iface":"lbc","oface":"lbs","backends":[]}
            """));
        var wanted = GatewayNeighbors.Wanted(config, objects, Table);
        // "near" is on the link, "elsewhere" leaves through another interface than the farm's, "named" gave its oface.
        Assert.Equal([(IpAddr.Parse("10.77.0.10"), IpAddr.Parse("192.168.1.254"), "lbs")], wanted);
    }

    [Fact]
    public void Seeds_GatewayKnownOnThatInterface_BackendGetsItsMacUnknownOnesListed()
    {
        var gw = IpAddr.Parse("192.168.1.254");
        var other = IpAddr.Parse("192.168.1.253");
        var mac = MacAddress.Parse("02:00:00:00:01:fe");
        (IpAddr, IpAddr, string)[] wanted =
        [
            (IpAddr.Parse("10.77.0.10"), gw, "lbs"),
            (IpAddr.Parse("10.77.0.11"), gw, "lbs"),
            (IpAddr.Parse("10.99.0.10"), other, "lbs"),
            (IpAddr.Parse("10.99.0.11"), other, "lbs"),
            (IpAddr.Parse("10.66.0.10"), gw, "eth9"), // not a port of this run
        ];
        KernelNeighbor[] neighbours = [new(gw, MacAddress.Parse("02:00:00:00:09:99"), 9), new(gw, mac, 3)]; // the same address on another link
        var unresolved = new List<(IpAddr, string)>();
        var seeds = GatewayNeighbors.Seeds(wanted, neighbours, i => i == 3 ? "lbs" : i == 9 ? "lbz" : null, ["lbc", "lbs"], unresolved);
        Assert.Equal([new GatewaySeed(IpAddr.Parse("10.77.0.10"), gw, mac, 1), new GatewaySeed(IpAddr.Parse("10.77.0.11"), gw, mac, 1)], seeds);
        Assert.Equal([(other, "lbs")], unresolved); // once, to be solicited
    }

    [Fact]
    public void Stale_GatewayChangedOrGoneOrOnLink_ForgottenKeptOtherwise()
    {
        var gw = IpAddr.Parse("192.168.1.254");
        var seeded = new Dictionary<IpAddr, (IpAddr, string)>
        {
            [IpAddr.Parse("10.77.0.10")] = (gw, "lbs"), // still so
            [IpAddr.Parse("10.77.0.11")] = (gw, "lbs"), // now through another gateway
            [IpAddr.Parse("10.77.0.12")] = (gw, "lbs"), // now on the link, or its farm went: not wanted
            [IpAddr.Parse("10.77.0.13")] = (gw, "lbs"), // now out of another interface
        };
        List<(IpAddr, IpAddr, string)> wanted =
        [
            (IpAddr.Parse("10.77.0.10"), gw, "lbs"),
            (IpAddr.Parse("10.77.0.11"), IpAddr.Parse("192.168.1.253"), "lbs"),
            (IpAddr.Parse("10.77.0.13"), gw, "lbs2"),
        ];
        Assert.Equal([IpAddr.Parse("10.77.0.11"), IpAddr.Parse("10.77.0.12"), IpAddr.Parse("10.77.0.13")], GatewayNeighbors.Stale(seeded, wanted).OrderBy(a => a.Lo));
    }
}
