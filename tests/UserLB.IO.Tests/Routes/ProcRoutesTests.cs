using UserLB.IO.Routes;

namespace UserLB.IO.Tests.Routes;

/// <summary>/proc/net/route and /proc/net/ipv6_route as read in the namespace of <see cref="RouteMessagesTests"/>'s capture.</summary>
public class ProcRoutesTests
{
    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Routes", name));

    [Fact]
    public void ParseV4_CapturedFile_EveryUpRouteWithGatewayAndMetric()
    {
        var routes = new List<RouteEntry>();
        ProcRoutes.ParseV4(Fixture("proc-net-route.txt"), routes);
        string[] expected =
        [
            "default via 10.9.0.254 dev d1 metric 100",
            "10.9.0.0/16 dev d1",
            "172.16.0.0/12 via 192.168.1.254 dev d0 metric 5",
            "192.168.1.0/24 dev d0",
            "198.51.100.0/24 dev d2", // linkdown: the file does not say so
            "203.0.113.0/24 via 192.168.1.2 dev d0", // a multipath route's first next hop
        ];
        Assert.Equal(expected, routes.Select(r => r.ToString()));
    }

    [Fact]
    public void ParseV6_CapturedFile_UnicastRoutesNotLocalMulticastOrLo()
    {
        var routes = new List<RouteEntry>();
        ProcRoutes.ParseV6(Fixture("proc-net-ipv6_route.txt"), routes);
        string[] expected =
        [
            .. RouteMessagesTests.CapturedV6,
            "fe80::/64 dev d2 metric 256", // linkdown: the file does not say so
        ];
        Assert.Equal(expected, routes.Select(r => r.ToString()));
    }

    [Theory]
    [InlineData("eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0")] // mask not contiguous
    [InlineData("eth0\t0001A8C0\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0")] // not up
    [InlineData("eth0\t0001A8C0\t00000000\t0201\t0\t0\t0\t00FFFFFF\t0\t0\t0")] // reject
    [InlineData("eth0\tZZ01A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0")] // not hex
    [InlineData("eth0\t0001A8C0\t00000000")] // short
    [InlineData("lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0")]
    public void ParseV4_BadOrUnusableLine_Skipped(string line)
    {
        var routes = new List<RouteEntry>();
        ProcRoutes.ParseV4("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" + line + "\n", routes);
        Assert.Empty(routes);
    }

    [Theory]
    [InlineData("20010db8000100000000000000000000 81 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001 d0")] // prefix > 128
    [InlineData("20010db80001000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001 d0")] // short address
    [InlineData("20010db8000100000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 01000001 d0")] // cached
    public void ParseV6_BadOrUnusableLine_Skipped(string line)
    {
        var routes = new List<RouteEntry>();
        ProcRoutes.ParseV6(line + "\n", routes);
        Assert.Empty(routes);
    }
}
