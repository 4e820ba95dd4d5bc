using UserLB.Cli.Commands;
using UserLB.Engine.Config;
using UserLB.IO.Routes;
using static UserLB.IO.Tests.Routes.TestRoutes;

namespace UserLB.Cli.Tests.Routes;

/// <summary><c>userlb run</c>'s interfaces: <c>--iface</c> (with "routed") and those the config's farms are routed to.</summary>
public class RunRoutesTests
{
    // "lo" exists on every host (an all-zero Ethernet address); "ulbnone0" on none.
    private static readonly RouteTable Table = new([R("10.0.0.0/8", "ulbnone0"), R("127.0.0.0/8", "lo"), R("192.168.1.0/24", "lbs")]);

    [Theory]
    [InlineData("a,b,a", "a,b", "a")]
    [InlineData("routed", "lo", null)] // interfaces that do not exist here are left out
    [InlineData("x,routed,x", "x,lo", "x")]
    [InlineData(null, "", null)]
    public void Owned_IfaceOption_NamesAndDefault(string? option, string expected, string? expectedDefault)
    {
        var (names, first) = RunRoutes.Owned(option, Table, "afpacket");
        Assert.Equal(expected, string.Join(",", names));
        Assert.Equal(expectedDefault, first);
    }

    [Fact]
    public void Owned_RoutedWithTap_UsageError()
    {
        var ex = Assert.Throws<UsageException>(() => RunRoutes.Owned("routed", Table, "tap"));
        Assert.Contains("--iface", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InterfacesFor_FarmsWithoutIfaceOrOface_RoutedInterfacesOnly()
    {
        var config = ConfigParser.Parse("""
            {"farms":[
              {"name":"routed","virtual-addr":"192.168.101.250","virtual-ports":"80","backends":[{"name":"b","ip-addr":"192.168.1.10"}]},
              {"name":"named","virtual-addr":"192.168.101.251","virtual-ports":"80","iface":"c9","oface":"s9","backends":[{"name":"b","ip-addr":"10.1.1.1"}]},
              {"name":"split","virtual-addr":"192.168.101.252","virtual-ports":"80","backends":[{"name":"b0","ip-addr":"192.168.1.10"},{"name":"b1","ip-addr":"10.1.1.1"}]}]}
            """);
        var routes = new RouteTable([R("192.168.101.0/24", "lbc"), R("192.168.1.0/24", "lbs"), R("10.0.0.0/8", "lbs2")]);
        Assert.Equal(["lbc", "lbs"], RunRoutes.InterfacesFor(config, routes, null)); // "split" cannot be placed: opens nothing
    }
}
