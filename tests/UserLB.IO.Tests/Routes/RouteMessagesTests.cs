using UserLB.IO.Routes;

namespace UserLB.IO.Tests.Routes;

/// <summary>
/// rtnetlink route messages: netlink-dump.hex is a real RTM_GETROUTE dump (all tables) of a namespace with
/// lo(1) p0(2) d0(3) p1(4) d1(5) p2(6) d2(7) and the routes `ip route` showed as
/// default via 10.9.0.254 dev d1 metric 100; 10.9.0.0/16 dev d1; 172.16.0.0/12 via 192.168.1.254 dev d0 metric 5;
/// 192.168.1.0/24 dev d0; 198.51.100.0/24 dev d2 linkdown; 203.0.113.0/24 nexthop via 192.168.1.2 dev d0 nexthop via
/// 10.9.0.2 dev d1; 2001:db8:1::/64 dev d0 metric 256; 2001:db8:99::/48 via 2001:db8:1::fe dev d0 metric 7; fe80::/64 on each.
/// </summary>
public class RouteMessagesTests
{
    private static readonly string[] Names = ["", "lo", "p0", "d0", "p1", "d1", "p2", "d2"];

    /// <summary>The capture's IPv6 main-table routes on links that are up.</summary>
    internal static readonly string[] CapturedV6 =
    [
        "2001:db8:1::/64 dev d0 metric 256",
        "2001:db8:99::/48 via 2001:db8:1::fe dev d0 metric 7",
        "fe80::/64 dev p0 metric 256",
        "fe80::/64 dev d0 metric 256",
        "fe80::/64 dev p1 metric 256",
        "fe80::/64 dev d1 metric 256",
    ];

    private static string? NameOf(int index) => (uint)index < (uint)Names.Length ? Names[index] : null;

    internal static byte[] Dump() => Convert.FromHexString(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Routes", "netlink-dump.hex")).Replace("\n", "", StringComparison.Ordinal));

    [Fact]
    public void Parse_CapturedDump_MainTableUnicastRoutesUpLinks()
    {
        var routes = new List<RouteEntry>();
        var status = RouteMessages.Parse(Dump(), NameOf, routes, out int error);
        Assert.Equal(NetlinkStatus.Done, status);
        Assert.Equal(0, error);
        string[] expected =
        [
            "default via 10.9.0.254 dev d1 metric 100",
            "10.9.0.0/16 dev d1",
            "172.16.0.0/12 via 192.168.1.254 dev d0 metric 5",
            "192.168.1.0/24 dev d0",
            "203.0.113.0/24 via 192.168.1.2 dev d0",
            "203.0.113.0/24 via 10.9.0.2 dev d1",
            .. CapturedV6,
        ];
        Assert.Equal(expected, routes.Select(r => r.ToString()));
    }

    [Fact]
    public void Parse_DumpCutShort_ErrorOrMoreNeverThrows()
    {
        var dump = Dump();
        for (int cut = 0; cut < dump.Length; cut += 7)
        {
            var routes = new List<RouteEntry>();
            var status = RouteMessages.Parse(dump.AsSpan(0, cut), NameOf, routes, out _);
            Assert.NotEqual(NetlinkStatus.Done, status);
        }
    }

    [Fact]
    public void Parse_UnknownInterfaceIndex_RouteLeftOut()
    {
        var routes = new List<RouteEntry>();
        RouteMessages.Parse(Dump(), i => i == 3 ? "d0" : null, routes, out _);
        Assert.All(routes, r => Assert.Equal("d0", r.Interface));
        Assert.Contains(routes, r => r.ToString() == "203.0.113.0/24 via 192.168.1.2 dev d0");
    }

    [Theory]
    [InlineData(new byte[] { 0x24, 0, 0, 0, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x1C, 0, 0, 0, 0x1A, 0, 0x01, 0x03, 1, 0, 0, 0, 0, 0, 0, 0 }, NetlinkStatus.Error, -1)]
    [InlineData(new byte[] { 0x14, 0, 0, 0, 0x03, 0, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, NetlinkStatus.Done, 0)]
    [InlineData(new byte[] { 0x08, 0, 0, 0, 0x18, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 }, NetlinkStatus.Error, -1)]
    [InlineData(new byte[] { 0x10, 0, 0, 0, 0x18, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 }, NetlinkStatus.More, 0)]
    public void Parse_ControlMessages_Status(byte[] buffer, NetlinkStatus expected, int expectedError)
    {
        var routes = new List<RouteEntry>();
        Assert.Equal(expected, RouteMessages.Parse(buffer, NameOf, routes, out int error));
        Assert.Equal(expectedError, error);
        Assert.Empty(routes);
    }

    [Fact]
    public void WriteDumpRequest_AllFamilies_NlmsghdrAndZeroRtmsg()
    {
        var buffer = new byte[64];
        int n = RouteMessages.WriteDumpRequest(buffer, 7);
        Assert.Equal("1C0000001A0001030700000000000000" + "000000000000000000000000", Convert.ToHexString(buffer, 0, n));
    }

    [Theory]
    [InlineData((ushort)24, true)]
    [InlineData((ushort)25, true)]
    [InlineData((ushort)16, true)]
    [InlineData((ushort)17, true)]
    [InlineData((ushort)20, false)] // RTM_NEWADDR: the routes it brings come as their own messages
    public void IsChange_MessageType_RouteAndLinkOnly(ushort type, bool expected)
    {
        var buffer = new byte[16];
        buffer[0] = 16;
        BitConverter.TryWriteBytes(buffer.AsSpan(4), type);
        Assert.Equal(expected, RouteMessages.IsChange(buffer));
    }

    [Fact]
    public void Dump_ThisNamespace_SameIpv4RoutesAsProcNetRoute()
    {
        var table = RouteWatcher.Dump(out string? why);
        Assert.True(table is not null, why);
        var proc = new List<RouteEntry>();
        ProcRoutes.ParseV4(File.ReadAllText("/proc/net/route"), proc);
        var dumped = table.Routes.Where(r => r.IsV4).Select(r => r.ToString()).ToHashSet();
        // /proc/net/route shows a route on a link without carrier (the dump flags it linkdown: left out) and a multipath
        // route's first next hop only (the dump gives each).
        foreach (var r in proc)
            if (HasCarrier(r.Interface)) Assert.Contains(r.ToString(), dumped);
        var procNetworks = proc.Select(r => (r.Destination, r.PrefixLength)).ToHashSet();
        Assert.All(table.Routes.Where(r => r.IsV4), r => Assert.Contains((r.Destination, r.PrefixLength), procNetworks));
    }

    private static bool HasCarrier(string name) =>
        File.Exists($"/sys/class/net/{name}/carrier") && File.ReadAllText($"/sys/class/net/{name}/carrier").Trim() == "1";
}
