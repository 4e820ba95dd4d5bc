using System.Net;
using System.Text.Json;
using UserLB.Engine.Config;

namespace UserLB.Engine.Tests.Config;

/// <summary>Values the parser rejects, each with a message that names where and why.</summary>
public partial class ConfigParserTests
{
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
}
