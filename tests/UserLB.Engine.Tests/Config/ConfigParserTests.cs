using System.Net;
using System.Text.Json;
using UserLB.Engine.Config;

namespace UserLB.Engine.Tests.Config;

public partial class ConfigParserTests
{
    /// <summary>The reference farm of REFERENCE.md §1.</summary>
    private const string ReferenceFarm = """
        {
          "farms": [
            {
              "name": "app",
              "family": "ipv4",
              "virtual-addr": "192.168.101.250",
              "virtual-ports": "443",
              "mode": "snat",
              "protocol": "tcp",
              "scheduler": "weight",
              "state": "up",
              "backends": [
                { "name": "bck0", "ip-addr": "192.168.1.10", "weight": "1", "priority": "1", "state": "up" },
                { "name": "bck1", "ip-addr": "192.168.1.11", "weight": "1", "priority": "1", "state": "up" }
              ]
            }
          ]
        }
        """;

    /// <summary>A farm that sets every key to a non-default value.</summary>
    private const string RichFarm = """
        {
          "farms": [
            {
              "name": "rich",
              "family": "inet",
              "virtual-addr": "2001:db8::1",
              "virtual-ports": "8000-8010,80,443",
              "source-addr": "192.168.0.1",
              "mode": "dnat",
              "protocol": "udp",
              "scheduler": "symhash",
              "sched-param": "srcip dstport",
              "persistence": "srcip srcport",
              "persist-ttl": "30",
              "state": "off",
              "priority": "2",
              "iface": "eth0",
              "oface": "eth1",
              "ether-addr": "02:00:00:00:00:01",
              "log": "input forward",
              "mark": "0x20c",
              "new-rtlimit": "100/second",
              "new-rtlimit-burst": "10",
              "rst-rtlimit": "5",
              "rst-rtlimit-burst": "2",
              "est-connlimit": "1000",
              "tcp-strict": "on",
              "limits-ttl": "60",
              "helper": "sip",
              "log-prefix": "[FNAME]",
              "queue": "-1",
              "flow-offload": "off",
              "backends": [
                { "name": "v4", "ip-addr": "192.168.1.10", "port": "8443", "source-addr": "192.168.1.1", "weight": "3",
                  "priority": "2", "mark": "0x200", "est-connlimit": "50", "state": "down", "ether-addr": "02:00:00:00:00:02",
                  "est-connlimit-log-prefix": "[BNAME]" },
                { "name": "v6", "ip-addr": "2001:db8::10", "weight": "0" }
              ],
              "sessions": [ { "client": "10.0.0.1 . 1234", "backend": "v4" } ]
            }
          ]
        }
        """;

    /// <summary>A valid farm "app" with backend "bck0", where <paramref name="key"/> is set (or replaced) to the raw JSON <paramref name="json"/>.</summary>
    private static string FarmWith(string key, string json)
    {
        var vip = key == "virtual-addr" ? string.Empty : "\"virtual-addr\": \"192.168.101.250\",";
        return $$"""
            {"farms": [{"name": "app", {{vip}} "{{key}}": {{json}},
              "backends": [{"name": "bck0", "ip-addr": "192.168.1.10"}]}]}
            """;
    }

    /// <summary>A valid farm "app" with backend "bck1", where the backend's <paramref name="key"/> is set (or replaced) to <paramref name="json"/>.</summary>
    private static string BackendWith(string key, string json)
    {
        var ip = key == "ip-addr" ? string.Empty : "\"ip-addr\": \"192.168.1.11\",";
        return $$"""
            {"farms": [{"name": "app", "virtual-addr": "192.168.101.250",
              "backends": [{"name": "bck1", {{ip}} "{{key}}": {{json}}, "state": "up"}]}]}
            """;
    }

    // ---- defaults and the reference farm ------------------------------------------------------------

    [Fact]
    public void Parse_MinimalFarm_AppliesNftlbDefaults()
    {
        var config = ConfigParser.Parse("""{"farms":[{"name":"f","virtual-addr":"10.0.0.1","backends":[{"name":"b","ip-addr":"10.0.1.1"}]}]}""");

        var farm = Assert.Single(config.Farms);
        Assert.Equal("f", farm.Name);
        Assert.Equal(AddressFamilyKind.Ipv4, farm.Family);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), farm.VirtualAddress);
        Assert.Empty(farm.VirtualPorts);
        Assert.True(farm.MatchesPort(1) && farm.MatchesPort(65535));
        Assert.Null(farm.SourceAddress);
        Assert.Equal(FarmMode.Snat, farm.Mode);
        Assert.Equal(FarmProtocol.Tcp, farm.Protocol);
        Assert.Equal(SchedulerKind.RoundRobin, farm.Scheduler);
        Assert.Equal(HashFields.None, farm.SchedParam);
        Assert.Equal(HashFields.None, farm.Persistence);
        Assert.Equal(60, farm.PersistTtlSeconds);
        Assert.Equal(ObjectState.Up, farm.State);
        Assert.Equal(1, farm.Priority);
        Assert.Null(farm.Iface);
        Assert.Null(farm.Oface);
        Assert.Null(farm.EtherAddr);
        Assert.Equal(0u, farm.Mark);
        Assert.Equal(0, farm.NewRateLimit);
        Assert.Equal(0, farm.NewRateLimitBurst);
        Assert.Equal(0, farm.RstRateLimit);
        Assert.Equal(0, farm.EstConnLimit);
        Assert.False(farm.TcpStrict);
        Assert.Equal(120, farm.LimitsTtlSeconds);
        Assert.Equal("none", farm.Helper);
        Assert.Equal(LogTargets.None, farm.Log);
        Assert.Empty(farm.Sessions);
        Assert.Empty(farm.Extras);

        var b = Assert.Single(farm.Backends);
        Assert.Equal("b", b.Name);
        Assert.Equal(IPAddress.Parse("10.0.1.1"), b.Address);
        Assert.Equal(0, b.Port);
        Assert.Equal(1, b.Weight);
        Assert.Equal(1, b.Priority);
        Assert.Equal(ObjectState.Up, b.State);
        Assert.Null(b.SourceAddress);
        Assert.Equal(0u, b.Mark);
        Assert.Equal(0, b.EstConnLimit);
        Assert.Null(b.EtherAddr);
    }

    [Theory]
    [InlineData("hash")]
    [InlineData("symhash")]
    public void Parse_HashSchedulerWithoutSchedParam_DefaultsToSrcIp(string scheduler)
    {
        var config = ConfigParser.Parse($$"""{"farms":[{"name":"f","virtual-addr":"10.0.0.1","scheduler":"{{scheduler}}"}]}""");

        Assert.Equal(HashFields.SrcIp, config.Farms[0].SchedParam);
    }

    [Fact]
    public void Parse_ReferenceFarm_HasVipPortAndTwoEqualBackends()
    {
        var config = ConfigParser.Parse(ReferenceFarm);

        var farm = Assert.Single(config.Farms);
        Assert.Equal("app", farm.Name);
        Assert.Equal(IPAddress.Parse("192.168.101.250"), farm.VirtualAddress);
        Assert.Equal([new PortRange(443, 443)], farm.VirtualPorts.ToArray());
        Assert.True(farm.MatchesPort(443));
        Assert.False(farm.MatchesPort(80));
        Assert.Equal(FarmProtocol.Tcp, farm.Protocol);
        Assert.Equal(SchedulerKind.Weight, farm.Scheduler);
        Assert.Collection(
            farm.Backends,
            b => Assert.Equal(("bck0", IPAddress.Parse("192.168.1.10"), 1), (b.Name, b.Address, b.Weight)),
            b => Assert.Equal(("bck1", IPAddress.Parse("192.168.1.11"), 1), (b.Name, b.Address, b.Weight)));
    }

    [Fact]
    public void Parse_EveryKeySet_ReadsEveryValue()
    {
        var farm = ConfigParser.Parse(RichFarm).Farms[0];

        Assert.Equal(AddressFamilyKind.Inet, farm.Family);
        Assert.Equal(IPAddress.Parse("2001:db8::1"), farm.VirtualAddress);
        Assert.Equal([new PortRange(80, 80), new PortRange(443, 443), new PortRange(8000, 8010)], farm.VirtualPorts.ToArray());
        Assert.Equal(IPAddress.Parse("192.168.0.1"), farm.SourceAddress);
        Assert.Equal(FarmMode.Dnat, farm.Mode);
        Assert.Equal(FarmProtocol.Udp, farm.Protocol);
        Assert.Equal(SchedulerKind.SymHash, farm.Scheduler);
        Assert.Equal(HashFields.SrcIp | HashFields.DstPort, farm.SchedParam);
        Assert.Equal(HashFields.SrcIp | HashFields.SrcPort, farm.Persistence);
        Assert.Equal(30, farm.PersistTtlSeconds);
        Assert.Equal(ObjectState.Off, farm.State);
        Assert.Equal(2, farm.Priority);
        Assert.Equal("eth0", farm.Iface);
        Assert.Equal("eth1", farm.Oface);
        Assert.Equal("02:00:00:00:00:01", farm.EtherAddr);
        Assert.Equal(LogTargets.Input | LogTargets.Forward, farm.Log);
        Assert.Equal(0x20cu, farm.Mark);
        Assert.Equal(100, farm.NewRateLimit);
        Assert.Equal(10, farm.NewRateLimitBurst);
        Assert.Equal(5, farm.RstRateLimit);
        Assert.Equal(2, farm.RstRateLimitBurst);
        Assert.Equal(1000, farm.EstConnLimit);
        Assert.True(farm.TcpStrict);
        Assert.Equal(60, farm.LimitsTtlSeconds);
        Assert.Equal("sip", farm.Helper);
        Assert.Equal("[FNAME]", farm.Extras["log-prefix"]);
        Assert.Equal("-1", farm.Extras["queue"]);
        Assert.Equal("off", farm.Extras["flow-offload"]);
        Assert.Equal([new StaticSession("10.0.0.1 . 1234", "v4")], farm.Sessions.ToArray());

        var v4 = farm.Backends[0];
        Assert.Equal(8443, v4.Port);
        Assert.Equal(IPAddress.Parse("192.168.1.1"), v4.SourceAddress);
        Assert.Equal(3, v4.Weight);
        Assert.Equal(2, v4.Priority);
        Assert.Equal(0x200u, v4.Mark);
        Assert.Equal(50, v4.EstConnLimit);
        Assert.Equal(ObjectState.Down, v4.State);
        Assert.Equal("02:00:00:00:00:02", v4.EtherAddr);
        Assert.Equal("[BNAME]", v4.Extras["est-connlimit-log-prefix"]);
        Assert.Equal(0, farm.Backends[1].Weight);
    }

    // ---- accepted value forms -----------------------------------------------------------------------

    [Fact]
    public void Parse_NumberValues_AcceptedLikeStrings()
    {
        var config = ConfigParser.Parse("""
            {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":443,"persist-ttl":30,"priority":2,
              "mark":524,"new-rtlimit":50,"est-connlimit":7,"limits-ttl":90,
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10","port":8443,"weight":3,"priority":1,"mark":16,"est-connlimit":0}]}]}
            """);

        var farm = config.Farms[0];
        Assert.Equal([PortRange.Single(443)], farm.VirtualPorts.ToArray());
        Assert.Equal((30, 2, 50, 7, 90), (farm.PersistTtlSeconds, farm.Priority, farm.NewRateLimit, farm.EstConnLimit, farm.LimitsTtlSeconds));
        Assert.Equal(524u, farm.Mark); // a JSON number is decimal; a string mark is hexadecimal, as in nftlb
        var b = farm.Backends[0];
        Assert.Equal((8443, 3, 1, 16u, 0), (b.Port, b.Weight, b.Priority, b.Mark, b.EstConnLimit));
    }

    [Fact]
    public void Parse_ListValuesAsArraysAndSwitchesAsBooleans_Accepted()
    {
        var farm = ConfigParser.Parse("""
            {"farms":[{"name":"f","virtual-addr":"10.0.0.1","virtual-ports":[80,"443","8000-8010"],
              "scheduler":"hash","sched-param":["srcip","dstport"],"persistence":["srcip"],"log":["input","output"],"tcp-strict":true}]}
            """).Farms[0];

        Assert.Equal([PortRange.Single(80), PortRange.Single(443), new PortRange(8000, 8010)], farm.VirtualPorts.ToArray());
        Assert.Equal(HashFields.SrcIp | HashFields.DstPort, farm.SchedParam);
        Assert.Equal(HashFields.SrcIp, farm.Persistence);
        Assert.Equal(LogTargets.Input | LogTargets.Output, farm.Log);
        Assert.True(farm.TcpStrict);
    }

    [Theory]
    [InlineData("\"0x200\"", 0x200u)]
    [InlineData("\"200\"", 0x200u)]
    [InlineData("\"0x0000001\"", 1u)]
    [InlineData("\"0xffffffff\"", 0xffffffffu)]
    [InlineData("512", 512u)]
    public void Parse_Mark_StringsAreHexNumbersAreDecimal(string json, uint expected)
    {
        var farm = ConfigParser.Parse($$"""{"farms":[{"name":"f","virtual-addr":"10.0.0.1","mark":{{json}}}]}""").Farms[0];

        Assert.Equal(expected, farm.Mark);
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("80", "80")]
    [InlineData("80,443,8000-8010", "80,443,8000-8010")]
    [InlineData("443, 80", "80,443")]
    [InlineData("8000-8010,8005-8020,8021", "8000-8021")]
    [InlineData("80,80", "80")]
    [InlineData("0-65535", "0-65535")]
    [InlineData("1 2 3", "1-3")]
    public void Parse_VirtualPorts_SortedAndMerged(string ports, string expected)
    {
        var farm = ConfigParser.Parse($$"""{"farms":[{"name":"f","virtual-addr":"10.0.0.1","virtual-ports":"{{ports}}"}]}""").Farms[0];

        Assert.Equal(expected, string.Join(',', farm.VirtualPorts));
    }

    [Theory]
    [InlineData("80,443,8000-8010", 80, true)]
    [InlineData("80,443,8000-8010", 443, true)]
    [InlineData("80,443,8000-8010", 8000, true)]
    [InlineData("80,443,8000-8010", 8005, true)]
    [InlineData("80,443,8000-8010", 8010, true)]
    [InlineData("80,443,8000-8010", 8011, false)]
    [InlineData("80,443,8000-8010", 81, false)]
    [InlineData("80,443,8000-8010", 0, false)]
    [InlineData("", 12345, true)]
    public void MatchesPort_PortList_MatchesListedPortsOnly(string ports, int port, bool expected)
    {
        var farm = ConfigParser.Parse($$"""{"farms":[{"name":"f","virtual-addr":"10.0.0.1","virtual-ports":"{{ports}}"}]}""").Farms[0];

        Assert.Equal(expected, farm.MatchesPort((ushort)port));
    }

    [Fact]
    public void MatchesPort_HandBuiltUnsortedRanges_StillMatches()
    {
        var farm = new FarmConfig
        {
            Name = "f",
            VirtualAddress = IPAddress.Loopback,
            VirtualPorts = [new PortRange(9000, 9001), PortRange.Single(22)],
        };

        Assert.True(farm.MatchesPort(22));
        Assert.True(farm.MatchesPort(9001));
        Assert.False(farm.MatchesPort(23));
    }

    [Fact]
    public void Parse_InetFamily_AllowsBothAddressFamilies()
    {
        var farm = ConfigParser.Parse("""
            {"farms":[{"name":"f","family":"inet","virtual-addr":"10.0.0.1",
              "backends":[{"name":"a","ip-addr":"10.0.1.1"},{"name":"b","ip-addr":"2001:db8::2"}]}]}
            """).Farms[0];

        Assert.Equal(2, farm.Backends.Length);
    }

    [Fact]
    public void Parse_EmptySourceAddrAndPort_MeanNone()
    {
        var farm = ConfigParser.Parse("""
            {"farms":[{"name":"f","virtual-addr":"10.0.0.1","source-addr":"",
              "backends":[{"name":"a","ip-addr":"10.0.1.1","port":"","source-addr":""}]}]}
            """).Farms[0];

        Assert.Null(farm.SourceAddress);
        Assert.Equal(0, farm.Backends[0].Port);
        Assert.Null(farm.Backends[0].SourceAddress);
    }

    [Fact]
    public void Parse_SameKeyTwiceWithSameValue_Accepted()
    {
        var farm = ConfigParser.Parse("""{"farms":[{"name":"f","virtual-addr":"10.0.0.1","iface":"lo","iface":"lo"}]}""").Farms[0];

        Assert.Equal("lo", farm.Iface);
    }

    [Fact]
    public void Parse_EmptyPoliciesAndAddresses_AcceptedAsNftlbDumpsThem()
    {
        var config = ConfigParser.Parse("""{"policies":[],"farms":[{"name":"f","virtual-addr":"10.0.0.1","policies":[],"addresses":[]}]}""");

        Assert.Single(config.Farms);
    }

    [Fact]
    public void Parse_Policies_AsTheApiShowsThem()
    {
        var config = ConfigParser.Parse("""
            {"policies":[{"name":"black001","family":"ipv4","type":"blacklist","route":"in","timeout":"5","priority":"2","log-prefix":"[TYPE]","used":"1",
                          "elements":[{"data":"192.168.40.100/24","counter-packets":"2","counter-bytes":"120"},{"data":"192.168.40.7"},{"data":"10.0.0.1-10.0.0.9"}]},
                         {"name":"white001","type":"whitelist","family":"ipv6","elements":[{"data":"2001:db8::/32"}]}],
             "farms":[{"name":"app","virtual-addr":"10.0.0.1","policies":[{"name":"white001"},{"name":"black001"}]}]}
            """);

        var black = config.Policies[0];
        Assert.Equal(("black001", PolicyType.Blacklist, 5, 2, "[TYPE]"), (black.Name, black.Type, black.TimeoutSeconds, black.Priority, black.LogPrefix));
        Assert.Equal(["10.0.0.1-10.0.0.9", "192.168.40.100/24"], black.Elements.Select(e => e.Text)); // in address order; .7 absorbed by the /24
        Assert.Equal((PolicyType.Whitelist, AddressFamilyKind.Ipv6), (config.Policies[1].Type, config.Policies[1].Family));
        Assert.Equal(["white001", "black001"], config.Farms[0].Policies.ToArray());
    }

    [Fact]
    public void Serialize_Policies_RoundTripsAndComesBeforeTheFarms()
    {
        var config = ConfigParser.Parse("""
            {"farms":[{"name":"app","virtual-addr":"10.0.0.1","verdict":"log drop","policies":[{"name":"bl"}]}],
             "policies":[{"name":"bl","elements":[{"data":"10.1.0.0/16"},{"data":"2001:db8::1"}]}]}
            """);

        var text = ConfigParser.Serialize(config);

        Assert.Equal(config, ConfigParser.Parse(text));
        Assert.True(text.IndexOf("\"policies\"", StringComparison.Ordinal) < text.IndexOf("\"farms\"", StringComparison.Ordinal));
        Assert.Contains("\"data\": \"10.1.0.0/16\"", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","policies":[{"name":"nope"}]}]}""", "farm \"app\", key \"policies\": no policy named \"nope\"")]
    [InlineData("""{"policies":[{"name":"bl","elements":[{"data":"10.0.0.300"}]}]}""", "policy \"bl\", key \"elements\": \"10.0.0.300\" is not an address")]
    [InlineData("""{"policies":[{"name":"bl","type":"greylist"}]}""", "policy \"bl\", key \"type\": \"greylist\"")]
    [InlineData("""{"policies":[{"name":"bl","colour":"red"}]}""", "policy \"bl\": unknown key \"colour\"")]
    [InlineData("""{"policies":[{"name":"bl"},{"name":"bl"}]}""", "policy \"bl\": duplicate policy name")]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","policies":[{"name":"bl","type":"blacklist"}]}],"policies":[{"name":"bl"}]}""", "farm \"app\", key \"policies\": unknown key \"type\"")]
    public void Parse_BadPolicy_MessageNamesIt(string json, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));

        Assert.StartsWith(expected, ex.Message);
    }

    [Fact]
    public void Parse_EmptyDocument_IsEmptyConfig()
    {
        Assert.Equal(LoadBalancerConfig.Empty, ConfigParser.Parse("{}"));
        Assert.Equal(LoadBalancerConfig.Empty, ConfigParser.Parse("""{"farms":[]}"""));
    }
}
