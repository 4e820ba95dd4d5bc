using System.Net;
using System.Text.Json;
using UserLB.Engine.Config;

namespace UserLB.Engine.Tests.Config;

public class ConfigParserTests
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

    // ---- invalid values -----------------------------------------------------------------------------

    [Theory]
    [InlineData("family", "\"ipv5\"", "is not one of: ipv4, ipv6, inet")]
    [InlineData("virtual-addr", "\"300.1.1.1\"", "is not an IP address")]
    [InlineData("virtual-addr", "\"10.0.0\"", "is not an IP address")]
    [InlineData("virtual-addr", "\"010.0.0.1\"", "is not an IP address")]
    [InlineData("virtual-addr", "\"fe80::1%eth0\"", "is not an IP address")]
    [InlineData("virtual-addr", "\"\"", "is not an IP address")]
    [InlineData("virtual-ports", "\"80-70\"", "the first port is greater than the last")]
    [InlineData("virtual-ports", "\"70000\"", "is not a port number")]
    [InlineData("virtual-ports", "\"http\"", "is not a port number")]
    [InlineData("virtual-ports", "\"80-\"", "is not a port range")]
    [InlineData("source-addr", "\"gateway\"", "is not an IP address")]
    [InlineData("mode", "\"nat\"", "is not one of: snat, dnat, dsr, stlsdnat, local")]
    [InlineData("protocol", "\"icmp\"", "is not one of: tcp, udp, sctp, all")]
    [InlineData("scheduler", "\"random\"", "is not one of: rr, weight, hash, symhash")]
    [InlineData("sched-param", "\"srcip foo\"", "unknown field \"foo\"")]
    [InlineData("persistence", "\"cookie\"", "unknown field \"cookie\"")]
    [InlineData("persist-ttl", "\"-1\"", "is not a non-negative integer")]
    [InlineData("state", "\"config_error\"", "is not one of: up, down, off")]
    [InlineData("priority", "\"0\"", "is not an integer >= 1")]
    [InlineData("ether-addr", "\"02:00:00:00:00\"", "is not a MAC address")]
    [InlineData("mark", "\"0xZZ\"", "is not a mark")]
    [InlineData("mark", "\"0x100000000\"", "is not a mark")]
    [InlineData("new-rtlimit", "\"10/minute\"", "only per-second rate limits are")]
    [InlineData("new-rtlimit", "\"ten\"", "is not a rate limit")]
    [InlineData("new-rtlimit-burst", "\"-5\"", "is not a non-negative integer")]
    [InlineData("rst-rtlimit", "\"5/fortnight\"", "is not a rate limit")]
    [InlineData("est-connlimit", "\"lots\"", "is not a non-negative integer")]
    [InlineData("tcp-strict", "\"yes\"", "is not one of: on, off")]
    [InlineData("limits-ttl", "1.5", "is not a non-negative integer")]
    [InlineData("helper", "\"http\"", "is not one of: none, ftp, pptp, sip, snmp, tftp")]
    [InlineData("log", "\"everything\"", "unknown log target \"everything\"")]
    [InlineData("iface", "\"eth 0\"", "is not an interface name")]
    [InlineData("queue", "\"-2\"", "is not an integer >= -1")]
    [InlineData("flow-offload", "\"maybe\"", "is not one of: on, off")]
    [InlineData("weight", "\"abc\"", "unknown key \"weight\"")]
    [InlineData("priority", "{}", "expected a string or a number, got an object")]
    [InlineData("mode", "null", "expected a string or a number, got null")]
    public void Parse_InvalidFarmValue_MessageNamesFarmAndKey(string key, string json, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(FarmWith(key, json)));

        Assert.Contains("farm \"app\"", ex.Message);
        Assert.Contains($"\"{key}\"", ex.Message);
        Assert.Contains(expected, ex.Message);
        Assert.DoesNotContain("backend", ex.Message);
        Assert.Equal("app", ex.Farm);
    }

    [Theory]
    [InlineData("ip-addr", "\"1.2.3.4.5\"", "is not an IP address")]
    [InlineData("port", "\"65536\"", "is not a port number (0-65535)")]
    [InlineData("port", "\"-1\"", "is not a port number (0-65535)")]
    [InlineData("source-addr", "\"nope\"", "is not an IP address")]
    [InlineData("weight", "\"abc\"", "\"abc\" is not a non-negative integer")]
    [InlineData("weight", "\"-1\"", "is not a non-negative integer")]
    [InlineData("weight", "\"5x\"", "is not a non-negative integer")]
    [InlineData("priority", "\"0\"", "is not an integer >= 1")]
    [InlineData("mark", "\"g\"", "is not a mark")]
    [InlineData("est-connlimit", "\"-1\"", "is not a non-negative integer")]
    [InlineData("ether-addr", "\"1:2:3\"", "is not a MAC address")]
    [InlineData("action", "\"explode\"", "is not one of: none, start, stop, reload, delete, flush")]
    [InlineData("virtual-addr", "\"10.0.0.1\"", "unknown key \"virtual-addr\"")]
    [InlineData("state", "\"down\"", "the key is given twice with different values")]
    [InlineData("weight", "[1]", "expected a string or a number, got an array")]
    public void Parse_InvalidBackendValue_MessageNamesFarmBackendAndKey(string key, string json, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(BackendWith(key, json)));

        Assert.Contains("farm \"app\", backend \"bck1\"", ex.Message);
        Assert.Contains($"\"{key}\"", ex.Message);
        Assert.Contains(expected, ex.Message);
        Assert.Equal(("app", "bck1"), (ex.Farm, ex.Backend));
    }

    [Fact]
    public void Parse_BackendWeight_ExactMessage()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(BackendWith("weight", "\"abc\"")));

        Assert.Equal("farm \"app\", backend \"bck1\", key \"weight\": \"abc\" is not a non-negative integer", ex.Message);
        Assert.Equal("weight", ex.Key);
    }

    [Fact]
    public void Parse_WeightZero_Accepted()
    {
        var farm = ConfigParser.Parse(BackendWith("weight", "\"0\"")).Farms[0];

        Assert.Equal(0, farm.Backends[0].Weight);
    }

    [Theory]
    [InlineData("""{"farms":[{"name":"app","family":"ipv4","virtual-addr":"2001:db8::1"}]}""", "farm \"app\", key \"virtual-addr\"", "2001:db8::1 is an IPv6 address, but the farm's family is \"ipv4\"")]
    [InlineData("""{"farms":[{"name":"app","family":"ipv6","virtual-addr":"10.0.0.1"}]}""", "farm \"app\", key \"virtual-addr\"", "is an IPv4 address, but the farm's family is \"ipv6\"")]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","source-addr":"2001:db8::5"}]}""", "farm \"app\", key \"source-addr\"", "is an IPv6 address")]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","backends":[{"name":"b6","ip-addr":"2001:db8::2"}]}]}""", "farm \"app\", backend \"b6\", key \"ip-addr\"", "is an IPv6 address, but the farm's family is \"ipv4\"")]
    [InlineData("""{"farms":[{"name":"app","family":"inet","virtual-addr":"10.0.0.1","backends":[{"name":"b","ip-addr":"10.0.1.1","source-addr":"2001:db8::1"}]}]}""", "farm \"app\", backend \"b\", key \"source-addr\"", "but the backend's ip-addr 10.0.1.1 is IPv4")]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","protocol":"tcp","helper":"tftp"}]}""", "farm \"app\", key \"helper\"", "\"tftp\" cannot be used with protocol \"tcp\"")]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","protocol":"all","helper":"ftp"}]}""", "farm \"app\", key \"helper\"", "cannot be used with protocol \"all\"")]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","backends":[{"name":"b","ip-addr":"10.0.1.1"}],"sessions":[{"client":"10.9.9.9","backend":"zz"}]}]}""", "farm \"app\", session \"10.9.9.9\", key \"backend\"", "no backend named \"zz\"")]
    public void Parse_InconsistentValues_CrossCheckNamesLocation(string json, string location, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));

        Assert.StartsWith(location + ": ", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("""{"farms":[{"name":"app","virtual-adr":"10.0.0.1"}]}""", "farm \"app\": unknown key \"virtual-adr\"")]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","backends":[{"name":"b1","ip":"10.0.1.1"}]}]}""", "farm \"app\", backend \"b1\": unknown key \"ip\"")]
    [InlineData("""{"farm":[]}""", "unknown key \"farm\" (expected \"farms\" or \"policies\")")]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","sessions":[{"client":"x","backend":"b","ttl":"1"}]}]}""", "farm \"app\", session \"x\": unknown key \"ttl\"")]
    public void Parse_UnknownKey_MessageNamesObjectAndKey(string json, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));

        Assert.Equal(expected, ex.Message);
    }

    [Theory]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","addresses":[{"name":"a"}]}]}""", "farm \"app\", key \"addresses\": nftlb farm address objects are not supported")]
    [InlineData("""{"farms":[{"name":"app","newname":"app2"}]}""", "farm \"app\", key \"newname\": renaming is not supported")]
    [InlineData("""{"farms":[{"name":"app","virtual-addr":"10.0.0.1","iface":"lo","iface":"eth0"}]}""", "farm \"app\", key \"iface\": the key is given twice with different values")]
    public void Parse_FeatureRejectedOnPurpose_MessageSaysSo(string json, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));

        Assert.StartsWith(expected, ex.Message);
    }

    [Theory]
    [InlineData("{\"farms\": [\n  {\"name\": \"app\",\n   \"virtual-addr\": }\n]}", 3)]
    [InlineData("{\"farms\": [\n  {\"name\": \"app\",}\n]}", 2)]
    [InlineData("{\"farms\": [", 1)]
    [InlineData("", 1)]
    [InlineData("{\"farms\": []} trailing", 1)]
    public void Parse_MalformedJson_ReportsLine(string json, int line)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));

        Assert.StartsWith($"invalid JSON at line {line}, position ", ex.Message);
        Assert.IsAssignableFrom<JsonException>(ex.InnerException);
        Assert.DoesNotContain("LineNumber", ex.Message);
    }

    [Theory]
    [InlineData("[]", "the document must be a JSON object")]
    [InlineData("""{"farms":{}}""", "key \"farms\": expected an array of farms, got an object")]
    [InlineData("""{"farms":["app"]}""", "farm #1: expected an object, got a string")]
    [InlineData("""{"farms":[{"virtual-addr":"10.0.0.1"}]}""", "farm #1: missing key \"name\"")]
    [InlineData("""{"farms":[{"name":""}]}""", "farm #1, key \"name\": the name cannot be empty")]
    [InlineData("""{"farms":[{"name":"a b"}]}""", "farm #1, key \"name\": \"a b\" is not a valid name")]
    [InlineData("""{"farms":[{"name":"app","backends":{}}]}""", "farm \"app\", key \"backends\": expected an array of backends")]
    [InlineData("""{"farms":[{"name":"app","backends":[{"ip-addr":"10.0.0.1"}]}]}""", "farm \"app\", backend #1: missing key \"name\"")]
    [InlineData("""{"farms":[{"name":"ok","virtual-addr":"10.0.0.1"},{"name":"app","backends":[{"name":"b"},{"weight":"1"}]}]}""", "farm \"app\", backend #2: missing key \"name\"")]
    public void Parse_WrongShape_MessageNamesLocation(string json, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));

        Assert.StartsWith(expected, ex.Message);
    }

    [Fact]
    public void Parse_DuplicateFarmNames_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse("""
            {"farms":[{"name":"app","virtual-addr":"10.0.0.1"},{"name":"app","virtual-addr":"10.0.0.2"}]}
            """));

        Assert.Equal("farm \"app\": duplicate farm name (farm names must be unique)", ex.Message);
    }

    [Fact]
    public void Parse_DuplicateBackendNames_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse("""
            {"farms":[{"name":"app","virtual-addr":"10.0.0.1",
              "backends":[{"name":"bck0","ip-addr":"10.0.1.1"},{"name":"bck0","ip-addr":"10.0.1.2"}]}]}
            """));

        Assert.Equal("farm \"app\", backend \"bck0\": duplicate backend name (backend names must be unique within a farm)", ex.Message);
    }

    [Fact]
    public void Parse_SameBackendNameInTwoFarms_Accepted()
    {
        var config = ConfigParser.Parse("""
            {"farms":[{"name":"a","virtual-addr":"10.0.0.1","backends":[{"name":"bck0","ip-addr":"10.0.1.1"}]},
                      {"name":"b","virtual-addr":"10.0.0.2","backends":[{"name":"bck0","ip-addr":"10.0.1.1"}]}]}
            """);

        Assert.Equal(2, config.Farms.Length);
    }

    [Fact]
    public void Parse_NewFarmWithoutVirtualAddr_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse("""{"farms":[{"name":"app","virtual-ports":"80"}]}"""));

        Assert.StartsWith("farm \"app\": missing key \"virtual-addr\"", ex.Message);
    }

    [Fact]
    public void Parse_NewBackendWithoutIpAddr_Rejected()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse("""
            {"farms":[{"name":"app","virtual-addr":"10.0.0.1","backends":[{"name":"bck3","weight":"2"}]}]}
            """));

        Assert.StartsWith("farm \"app\", backend \"bck3\": missing key \"ip-addr\"", ex.Message);
    }

    // ---- patches and upserts ------------------------------------------------------------------------

    [Fact]
    public void ParsePatch_PartialDocument_ValidatesValuesButNotCompleteness()
    {
        var patch = ConfigParser.ParsePatch("""{"farms":[{"name":"app","backends":[{"name":"bck1","state":"down"}]}]}""");

        var farm = Assert.Single(patch.Farms);
        Assert.Equal("app", farm.Name);
        Assert.Empty(farm.Keys);
        var backend = Assert.Single(farm.Backends);
        Assert.Equal("bck1", backend.Name);
        Assert.Equal(["state"], backend.Keys.ToArray());
        Assert.Null(backend.Action);
    }

    [Fact]
    public void ParsePatch_InvalidValue_Throws()
    {
        var ex = Assert.Throws<ConfigException>(() =>
            ConfigParser.ParsePatch("""{"farms":[{"name":"app","backends":[{"name":"bck1","state":"sideways"}]}]}"""));

        Assert.StartsWith("farm \"app\", backend \"bck1\", key \"state\": \"sideways\" is not one of", ex.Message);
    }

    [Theory]
    [InlineData("stop", ConfigAction.Stop)]
    [InlineData("start", ConfigAction.Start)]
    [InlineData("reload", ConfigAction.Reload)]
    [InlineData("delete", ConfigAction.Delete)]
    [InlineData("flush", ConfigAction.Flush)]
    [InlineData("none", ConfigAction.None)]
    public void ParsePatch_ActionKeys_Recorded(string value, ConfigAction expected)
    {
        var patch = ConfigParser.ParsePatch($$"""{"farms":[{"name":"app","action":"{{value}}","backends":[{"name":"b","action":"{{value}}"}]}]}""");

        Assert.Equal(expected, patch.Farms[0].Action);
        Assert.Equal(expected, patch.Farms[0].Backends[0].Action);
    }

    [Fact]
    public void Apply_UpsertOneBackendState_LeavesEverythingElseEqual()
    {
        var current = ConfigParser.Parse(RichFarm.Replace("\"farms\": [", "\"farms\": [" + ReferenceFarmObject() + ",", StringComparison.Ordinal));
        var before = ConfigParser.Serialize(current);

        var next = ConfigParser.Apply(current, ConfigParser.ParsePatch("""{"farms":[{"name":"app","backends":[{"name":"bck1","state":"down"}]}]}"""));

        var app = next.FindFarm("app")!;
        Assert.Equal(ObjectState.Down, app.FindBackend("bck1")!.State);
        Assert.Equal(current.FindFarm("app")!.FindBackend("bck1")! with { State = ObjectState.Down }, app.FindBackend("bck1"));
        Assert.Equal(current.FindFarm("app")! with { Backends = app.Backends }, app);
        Assert.Same(current.FindFarm("app")!.FindBackend("bck0"), app.FindBackend("bck0"));
        Assert.Same(current.FindFarm("rich"), next.FindFarm("rich"));
        Assert.Equal(["app", "rich"], next.Farms.Select(f => f.Name));
        Assert.Equal(before, ConfigParser.Serialize(current)); // the input is untouched
    }

    [Fact]
    public void Apply_UpsertCreatingIncompleteBackend_FailsAndLeavesInputUntouched()
    {
        var current = ConfigParser.Parse(ReferenceFarm);
        var before = ConfigParser.Serialize(current);
        var patch = ConfigParser.ParsePatch("""{"farms":[{"name":"app","state":"down","backends":[{"name":"bck0","weight":"9"},{"name":"bck2","weight":"2"}]}]}""");

        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Apply(current, patch));

        Assert.StartsWith("farm \"app\", backend \"bck2\": missing key \"ip-addr\"", ex.Message);
        Assert.Equal(before, ConfigParser.Serialize(current));
        Assert.Equal(ConfigParser.Parse(ReferenceFarm), current);
        Assert.Equal(ObjectState.Up, current.Farms[0].State);
        Assert.Equal(1, current.Farms[0].Backends[0].Weight);
    }

    [Fact]
    public void Apply_SecondFarmInPatchInvalid_NothingApplied()
    {
        var current = ConfigParser.Parse(ReferenceFarm);
        var patch = ConfigParser.ParsePatch("""{"farms":[{"name":"app","state":"off"},{"name":"new","virtual-ports":"80"}]}""");

        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Apply(current, patch));

        Assert.StartsWith("farm \"new\": missing key \"virtual-addr\"", ex.Message);
        Assert.Equal(ObjectState.Up, current.Farms[0].State);
    }

    [Fact]
    public void Apply_FamilyChangeConflictingWithExistingBackends_Fails()
    {
        var current = ConfigParser.Parse(ReferenceFarm);
        var patch = ConfigParser.ParsePatch("""{"farms":[{"name":"app","family":"ipv6","virtual-addr":"2001:db8::1"}]}""");

        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Apply(current, patch));

        Assert.StartsWith("farm \"app\", backend \"bck0\", key \"ip-addr\": 192.168.1.10 is an IPv4 address", ex.Message);
    }

    [Fact]
    public void Apply_NewFarmAndBackend_CreatedWithDefaultsAndAppended()
    {
        var current = ConfigParser.Parse(ReferenceFarm);
        var next = ConfigParser.Apply(current, ConfigParser.ParsePatch("""
            {"farms":[{"name":"app","backends":[{"name":"bck2","ip-addr":"192.168.1.12"}]},
                      {"name":"dns","virtual-addr":"192.168.101.251","protocol":"udp","virtual-ports":"53"}]}
            """));

        Assert.Equal(["app", "dns"], next.Farms.Select(f => f.Name));
        Assert.Equal(["bck0", "bck1", "bck2"], next.Farms[0].Backends.Select(b => b.Name));
        Assert.Equal(1, next.Farms[0].Backends[2].Weight);
        Assert.Equal(FarmProtocol.Udp, next.Farms[1].Protocol);
        Assert.Equal(SchedulerKind.RoundRobin, next.Farms[1].Scheduler);
    }

    [Fact]
    public void Apply_DeleteActions_RemoveBackendAndFarm()
    {
        var current = ConfigParser.Parse(ReferenceFarm);

        var withoutBackend = ConfigParser.Apply(current, ConfigParser.ParsePatch("""{"farms":[{"name":"app","backends":[{"name":"bck0","action":"delete"}]}]}"""));
        var withoutFarm = ConfigParser.Apply(current, ConfigParser.ParsePatch("""{"farms":[{"name":"app","action":"delete"}]}"""));

        Assert.Equal(["bck1"], withoutBackend.Farms[0].Backends.Select(b => b.Name));
        Assert.Equal(LoadBalancerConfig.Empty, withoutFarm);
        Assert.Equal(2, current.Farms[0].Backends.Length);
    }

    [Theory]
    [InlineData("""{"farms":[{"name":"nope","action":"delete"}]}""", "farm \"nope\", key \"action\": cannot delete: there is no such farm")]
    [InlineData("""{"farms":[{"name":"app","backends":[{"name":"nope","action":"delete"}]}]}""", "farm \"app\", backend \"nope\", key \"action\": cannot delete: there is no such backend in this farm")]
    public void Apply_DeleteMissingObject_Fails(string json, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Apply(ConfigParser.Parse(ReferenceFarm), ConfigParser.ParsePatch(json)));

        Assert.Equal(expected, ex.Message);
    }

    [Fact]
    public void Apply_ActionOtherThanDelete_LeavesConfigUnchanged()
    {
        var current = ConfigParser.Parse(ReferenceFarm);

        var next = ConfigParser.Apply(current, ConfigParser.ParsePatch("""{"farms":[{"name":"app","action":"reload"}]}"""));

        Assert.Same(current, next);
    }

    [Fact]
    public void Apply_DeletingBackendDropsItsSessions()
    {
        var current = ConfigParser.Parse(RichFarm);

        var next = ConfigParser.Apply(current, ConfigParser.ParsePatch("""{"farms":[{"name":"rich","backends":[{"name":"v4","action":"delete"}]}]}"""));

        Assert.Empty(next.Farms[0].Sessions);
    }

    [Fact]
    public void Apply_ClearingAnExtra_RemovesIt()
    {
        var current = ConfigParser.Parse(RichFarm);

        var next = ConfigParser.Apply(current, ConfigParser.ParsePatch("""{"farms":[{"name":"rich","log-prefix":""}]}"""));

        Assert.False(next.Farms[0].Extras.ContainsKey("log-prefix"));
        Assert.True(current.Farms[0].Extras.ContainsKey("log-prefix"));
    }

    [Theory]
    [InlineData(ReferenceFarm)]
    [InlineData(RichFarm)]
    public void Parse_Document_EqualsApplyOfPatchToEmpty(string json)
    {
        Assert.Equal(ConfigParser.Parse(json), ConfigParser.Apply(LoadBalancerConfig.Empty, ConfigParser.ParsePatch(json)));
    }

    // ---- serialisation ------------------------------------------------------------------------------

    [Theory]
    [InlineData(ReferenceFarm)]
    [InlineData(RichFarm)]
    [InlineData("""{"farms":[]}""")]
    public void Serialize_ThenParse_RoundTrips(string json)
    {
        var config = ConfigParser.Parse(json);

        var text = ConfigParser.Serialize(config);
        var again = ConfigParser.Parse(text);

        Assert.Equal(config, again);
        Assert.Equal(config.GetHashCode(), again.GetHashCode());
        Assert.Equal(text, ConfigParser.Serialize(again));
    }

    [Fact]
    public void Serialize_WritesNftlbStyle_AllStringsNameFirst()
    {
        var text = ConfigParser.Serialize(ConfigParser.Parse(RichFarm));

        using var doc = JsonDocument.Parse(text);
        foreach (var farm in doc.RootElement.GetProperty("farms").EnumerateArray())
        {
            AssertNftlbObject(farm);
            foreach (var b in farm.GetProperty("backends").EnumerateArray())
            {
                AssertNftlbObject(b);
            }
        }

        var rich = doc.RootElement.GetProperty("farms")[0];
        Assert.Equal("80,443,8000-8010", rich.GetProperty("virtual-ports").GetString());
        Assert.Equal("0x20c", rich.GetProperty("mark").GetString());
        Assert.Equal("100/second", rich.GetProperty("new-rtlimit").GetString());
        Assert.Equal("srcip dstport", rich.GetProperty("sched-param").GetString());
        Assert.Equal("input forward", rich.GetProperty("log").GetString());
    }

    [Fact]
    public void Serialize_Empty_WritesEmptyFarmList()
    {
        using var doc = JsonDocument.Parse(ConfigParser.Serialize(LoadBalancerConfig.Empty));

        Assert.Equal(0, doc.RootElement.GetProperty("farms").GetArrayLength());
    }

    [Fact]
    public void Equality_IsByValue()
    {
        var a = ConfigParser.Parse(RichFarm);
        var b = ConfigParser.Parse(RichFarm);

        Assert.NotSame(a, b);
        Assert.Equal(a, b);
        Assert.NotEqual(a, a with { Farms = [a.Farms[0] with { Priority = 3 }] });
        Assert.NotEqual(a.Farms[0], a.Farms[0] with { Extras = a.Farms[0].Extras.Remove("queue") });
    }

    private static void AssertNftlbObject(JsonElement obj)
    {
        var first = true;
        foreach (var p in obj.EnumerateObject())
        {
            if (first)
            {
                Assert.Equal("name", p.Name);
                first = false;
            }

            if (p.Value.ValueKind is not JsonValueKind.Array)
            {
                Assert.Equal(JsonValueKind.String, p.Value.ValueKind);
            }
        }
    }

    private static string ReferenceFarmObject()
    {
        using var doc = JsonDocument.Parse(ReferenceFarm);
        return doc.RootElement.GetProperty("farms")[0].GetRawText();
    }
}
