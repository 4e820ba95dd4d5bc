using UserLB.Cli.Api.Nftlb;
using UserLB.IO.Routes;
using UserLB.Packets;
using static UserLB.IO.Tests.Routes.TestRoutes;

namespace UserLB.Cli.Tests.Routes;

/// <summary>Farms without iface or oface placed by the routing table (<see cref="RoutePlacement"/>), as tables.</summary>
public class RoutePlacementTests
{
    /// <summary>The lab's LB namespace: clients on lbc, backends on lbs, a default route out of wan.</summary>
    private static readonly RouteTable Lab = new(
    [
        R("0.0.0.0/0", "wan", "10.0.0.1"),
        R("10.0.0.0/24", "wan"),
        R("192.168.101.0/24", "lbc"),
        R("192.168.1.0/24", "lbs"),
        R("192.168.2.0/24", "lbs2"),
        R("172.16.0.0/16", "lbs", "192.168.1.254"),
    ]);

    private static readonly string[] Owned = ["lbc", "lbs", "lbs2"];

    public static TheoryData<string?, string?, string, string, string?, string> Cases() => new()
    {
        // iface, oface, vip, backends, --iface, expected "iface/oface" or the reason's start
        { null, null, "192.168.101.250", "192.168.1.10 192.168.1.11", null, "lbc/lbs" }, // client side: the route to the VIP
        { null, null, "192.168.1.250", "192.168.1.10", null, "lbs/lbs" }, // VIP on the backends' network: one-armed
        { null, null, "10.0.0.250", "192.168.1.10", null, "lbs/lbs" }, // the VIP's route leaves through wan (not owned): one-armed
        { null, null, "192.168.101.250", "192.168.1.10", "lbs2", "lbs2/lbs" }, // --iface first for the client side
        { "lbc", null, "192.168.101.250", "192.168.2.10", null, "lbc/lbs2" }, // iface given, oface by route
        { null, "lbs2", "192.168.101.250", "192.168.1.10", null, "lbc/lbs2" }, // oface given: kept
        { null, null, "192.168.101.250", "192.168.1.10 192.168.2.10", null, "backends are routed out of different interfaces: lbs (b0); lbs2 (b1)" },
        { null, null, "192.168.101.250", "10.0.0.5", null, "backends are routed out of wan, not an interface this userlb run owns" },
        { null, null, "192.168.101.250", "172.16.0.5 192.168.1.10", null, "lbc/lbs" }, // behind a gateway out of lbs, and on lbs's link
        { null, null, "2001:db8::250", "2001:db8::10", null, "no route to backend b0 (2001:db8::10)" },
        { null, null, "192.168.101.250", "", null, "lbc/lbc" }, // no backends: the VIP's side
        { null, null, "10.0.0.250", "", null, "no iface given, no --iface, no backends, and its virtual address is not routed out of an interface this userlb run owns" },
        // With an iface (given or --iface), routes that do not give one owned interface leave oface = iface, as before.
        { "lbc", null, "192.168.101.250", "192.168.1.10 192.168.2.10", null, "lbc/lbc" },
        { null, null, "192.168.101.250", "2001:db8::10", "lbc", "lbc/lbc" },
        { "eth9", null, "192.168.101.250", "192.168.1.10", null, "iface \"eth9\" is not an interface this userlb run owns (lbc, lbs, lbs2)" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Place_FarmAndRoutes_InterfacesOrReason(string? iface, string? oface, string vip, string backends, string? defaultIface, string expected)
    {
        var list = backends.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select((a, i) => ($"b{i}", IpAddr.Parse(a))).ToList();
        var placed = RoutePlacement.Place(iface, oface, IpAddr.Parse(vip), list, Lab, Owned, defaultIface);
        string got = placed.Reason ?? $"{placed.Iface}/{placed.Oface}";
        Assert.StartsWith(expected, got, StringComparison.Ordinal);
        Assert.Equal(placed.Reason is null, placed.Iface is not null && placed.Oface is not null);
    }

    [Theory]
    [InlineData(null, null, "no iface (the client-side interface) given, and no --iface")]
    [InlineData(null, "lbc", "lbc/lbc")]
    [InlineData("lbs", null, "lbs/lbs")]
    public void Place_NoRouteTable_KeysAndDefaultOnly(string? iface, string? defaultIface, string expected)
    {
        var placed = RoutePlacement.Place(iface, null, IpAddr.Parse("192.168.101.250"), [("b0", IpAddr.Parse("192.168.2.10"))], null, Owned, defaultIface);
        Assert.Equal(expected, placed.Reason ?? $"{placed.Iface}/{placed.Oface}");
    }

    [Fact]
    public void Place_AnyPort_NamesInterfacesToOpen()
    {
        var placed = RoutePlacement.Place(null, null, IpAddr.Parse("10.0.0.250"), [("b0", IpAddr.Parse("192.168.2.10"))], Lab, ports: null, null);
        Assert.Equal(("wan", "lbs2"), (placed.Iface, placed.Oface));
    }
}
