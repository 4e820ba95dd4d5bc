using System.Net;
using UserLB.Engine.Config;

namespace UserLB.Engine.Tests.Config;

/// <summary>nftlb's address objects in a configuration file: a farm's own (as nftlb's GET prints it) and named top-level ones.</summary>
public partial class ConfigParserTests
{
    private const string Bck = "\"backends\":[{\"name\":\"b0\",\"ip-addr\":\"192.168.1.10\"}]";

    [Fact]
    public void Parse_FarmWithItsAddressAsNftlbPrintsIt_SameFarmAsWithoutIt()
    {
        var plain = ConfigParser.Parse($$"""{"farms":[{"name":"f","family":"ipv4","virtual-addr":"192.168.101.63","virtual-ports":"80","protocol":"tcp",{{Bck}}}]}""");
        var dumped = ConfigParser.Parse($$"""
            {"farms":[{"name":"f","family":"ipv4","virtual-addr":"192.168.101.63","virtual-ports":"80","protocol":"tcp",
              "addresses":[{"name":"f-addr","family":"ipv4","ip-addr":"192.168.101.63","ports":"80","protocol":"tcp","used":"1"}],{{Bck}},"policies":[]}]}
            """);

        Assert.Equal(plain, dumped);
    }

    [Fact]
    public void Parse_FarmWithAddressOnly_VirtualServiceFromTheAddress()
    {
        var farm = ConfigParser.Parse($$"""
            {"farms":[{"name":"f","addresses":[{"name":"a","family":"ipv6","ip-addr":"2001:db8::fa","ports":"443,8443","protocol":"udp"}],{{Bck.Replace("192.168.1.10", "2001:db8::10", StringComparison.Ordinal)}}}]}
            """).Farms[0];

        Assert.Equal(IPAddress.Parse("2001:db8::fa"), farm.VirtualAddress);
        Assert.Equal(AddressFamilyKind.Ipv6, farm.Family);
        Assert.Equal(FarmProtocol.Udp, farm.Protocol);
        Assert.True(farm.MatchesPort(8443));
        Assert.False(farm.MatchesPort(80));
    }

    [Fact]
    public void Parse_FarmNamingTopLevelAddress_ItsServiceAndPoliciesBeforeTheFarms()
    {
        var config = ConfigParser.Parse($$"""
            {"farms":[{"name":"f","addresses":[{"name":"web"}],"policies":[{"name":"own"}],{{Bck}}}],
             "addresses":[{"name":"web","ip-addr":"10.0.0.1","ports":"80","protocol":"tcp","policies":[{"name":"shared"}]}],
             "policies":[{"name":"own","type":"blacklist","elements":[{"data":"1.2.3.4"}]},{"name":"shared","type":"blacklist","elements":[{"data":"5.6.7.8"}]}]}
            """);
        var farm = config.Farms[0];

        Assert.Equal(IPAddress.Parse("10.0.0.1"), farm.VirtualAddress);
        Assert.Equal(["shared", "own"], farm.Policies.ToArray());
    }

    [Fact]
    public void Serialize_FarmFromAddress_RoundTripsAsVirtualAddr()
    {
        var config = ConfigParser.Parse($$"""{"farms":[{"name":"f","addresses":[{"name":"a","ip-addr":"10.0.0.1","ports":"80"}],{{Bck}}}]}""");

        string text = ConfigParser.Serialize(config);

        Assert.Contains("\"virtual-addr\": \"10.0.0.1\"", text, StringComparison.Ordinal);
        Assert.Equal(config, ConfigParser.Parse(text));
    }

    [Fact]
    public void Parse_BackendStateAvailableAsNftlbPrintsAStandby_ReadAsUpWrittenUp()
    {
        var config = ConfigParser.Parse("""{"farms":[{"name":"f","virtual-addr":"10.0.0.1","backends":[{"name":"b0","ip-addr":"192.168.1.10","state":"available"}]}]}""");

        Assert.Equal(ObjectState.Up, config.Farms[0].Backends[0].State);
        Assert.Contains("\"state\": \"up\"", ConfigParser.Serialize(config), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"farms":[{"name":"f","addresses":[{"name":"a","ip-addr":"10.0.0.1"},{"name":"b","ip-addr":"10.0.0.2"}]}]}""", "two virtual services; UserLB runs one per farm")]
    [InlineData("""{"farms":[{"name":"f","virtual-addr":"10.0.0.9","addresses":[{"name":"a","ip-addr":"10.0.0.1"}]}]}""", "and the farm's \"virtual-addr\" (10.0.0.9) differ")]
    [InlineData("""{"farms":[{"name":"f","addresses":[{"name":"missing"}]}]}""", "no such address in the document's \"addresses\"")]
    [InlineData("""{"farms":[{"name":"f","addresses":[{"name":"a","ip-addr":"10.0.0.1","weight":"1"}]}]}""", "unknown key \"weight\" in an address")]
    [InlineData("""{"addresses":[{"name":"a","ip-addr":"10.0.0.1"},{"name":"a","ip-addr":"10.0.0.2"}],"farms":[]}""", "duplicate address name \"a\"")]
    public void Parse_BadAddresses_RejectedWithReason(string json, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
