using UserLB.IO.Routes;
using UserLB.Packets;
using static UserLB.IO.Tests.Routes.TestRoutes;

namespace UserLB.IO.Tests.Routes;

public class RouteTableTests
{
    private static readonly RouteTable Table = new(
    [
        R("0.0.0.0/0", "wan", "10.0.0.1", 100),
        R("0.0.0.0/0", "backup", "10.1.0.1", 200),
        R("10.0.0.0/8", "core"),
        R("10.2.0.0/16", "lan2", metric: 20),
        R("10.2.0.0/16", "lan2b", metric: 10),
        R("10.2.3.4/32", "host"),
        R("::/0", "wan6", "fe80::1", 1024),
        R("2001:db8::/32", "v6net"),
        R("2001:db8:1::/48", "v6lan", "2001:db8::fe"),
    ]);

    [Theory]
    [InlineData("10.2.3.4", "10.2.3.4/32 dev host")] // the longest prefix
    [InlineData("10.2.3.5", "10.2.0.0/16 dev lan2b metric 10")] // equal prefixes: the lower metric
    [InlineData("10.9.9.9", "10.0.0.0/8 dev core")]
    [InlineData("192.0.2.1", "default via 10.0.0.1 dev wan metric 100")]
    [InlineData("2001:db8:1::5", "2001:db8:1::/48 via 2001:db8::fe dev v6lan")]
    [InlineData("2001:db8:2::5", "2001:db8::/32 dev v6net")]
    [InlineData("2001:db9::1", "default via fe80::1 dev wan6 metric 1024")]
    [InlineData("::ffff:10.2.3.4", "10.2.3.4/32 dev host")] // IPv4-mapped is IPv4
    public void Lookup_Address_KernelsChoice(string address, string expected)
    {
        Assert.Equal(expected, Table.Lookup(IpAddr.Parse(address))?.ToString());
    }

    [Fact]
    public void Lookup_NoCoveringRoute_Null()
    {
        var v4Only = new RouteTable([R("10.0.0.0/8", "core")]);
        Assert.Null(v4Only.Lookup(IpAddr.Parse("11.0.0.1")));
        Assert.Null(v4Only.Lookup(IpAddr.Parse("2001:db8::1"))); // an IPv4 default does not cover IPv6, nor the reverse
        Assert.Null(new RouteTable([R("::/0", "wan6")]).Lookup(IpAddr.Parse("10.0.0.1")));
        Assert.Null(RouteTable.Empty.Lookup(IpAddr.Parse("10.0.0.1")));
    }

    [Fact]
    public void Covers_PrefixBoundaries_Exact()
    {
        var r = R("192.168.4.0/22", "x");
        Assert.True(r.Covers(IpAddr.Parse("192.168.4.0")));
        Assert.True(r.Covers(IpAddr.Parse("192.168.7.255")));
        Assert.False(r.Covers(IpAddr.Parse("192.168.8.0")));
        Assert.False(r.Covers(IpAddr.Parse("192.168.3.255")));
    }

    [Fact]
    public void SameAs_EqualRoutes_TrueOtherwiseFalse()
    {
        var a = new RouteTable([R("10.0.0.0/8", "core"), R("0.0.0.0/0", "wan", "10.0.0.1")]);
        Assert.True(a.SameAs(new RouteTable([R("10.0.0.0/8", "core"), R("0.0.0.0/0", "wan", "10.0.0.1")])));
        Assert.False(a.SameAs(new RouteTable([R("10.0.0.0/8", "core"), R("0.0.0.0/0", "wan", "10.0.0.2")])));
        Assert.False(a.SameAs(new RouteTable([R("10.0.0.0/8", "core")])));
        Assert.Equal(["core", "wan"], a.Interfaces());
        var withLinkLocal = new RouteTable([R("fe80::/64", "idle"), R("fe80::/64", "core"), R("10.0.0.0/8", "core"), R("2001:db8::/32", "v6")]);
        Assert.Equal(["core", "v6"], withLinkLocal.Interfaces()); // an interface with only IPv6's link-local route is left out
    }

    [Fact]
    public void Lookup_ManyRoutes_SameAsScanningEveryRoute()
    {
        var random = new Random(7);
        var routes = new List<RouteEntry>();
        for (int i = 0; i < 2000; i++)
        {
            int len = random.Next(0, 33);
            uint net = len == 0 ? 0 : (uint)random.Next() & (uint.MaxValue << (32 - len));
            routes.Add(new RouteEntry(IpAddr.FromV4(net), len, "if" + random.Next(8), null, (uint)random.Next(4)));
        }
        var table = new RouteTable(routes);
        for (int i = 0; i < 2000; i++)
        {
            var a = IpAddr.FromV4((uint)random.Next());
            RouteEntry? expected = null;
            foreach (var r in routes) // the definition: longest covering prefix, then the lowest metric, then the first
                if (r.Covers(a) && (expected is null || r.PrefixLength > expected.PrefixLength || (r.PrefixLength == expected.PrefixLength && r.Metric < expected.Metric))) expected = r;
            Assert.Same(expected, table.Lookup(a));
        }
    }
}
