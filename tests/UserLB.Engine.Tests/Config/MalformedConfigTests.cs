using System.Text.Json.Nodes;
using UserLB.Engine.Config;

namespace UserLB.Engine.Tests.Config;

/// <summary>
/// A broad table of malformed documents, generated: every key of a farm, a backend, a session and a health check set to
/// each of a list of bad values. The pairs listed in <c>Accepted</c> must parse and round-trip; every other pair must be
/// rejected with a <see cref="ConfigException"/> whose message names the farm, the backend (for backend keys) and the key. And a rejected
/// change leaves the running configuration as it was.
/// </summary>
public class MalformedConfigTests
{
    private const string Base = """
        {"farms": [{"name": "app", "family": "ipv4", "virtual-addr": "192.168.101.250", "virtual-ports": "80,443",
          "source-addr": "192.168.1.1", "mode": "snat", "protocol": "tcp", "scheduler": "weight", "sched-param": "srcip",
          "persistence": "srcip", "persist-ttl": "60", "state": "up", "priority": "1", "iface": "eth0", "oface": "eth1",
          "ether-addr": "02:00:00:00:00:01", "mark": "0x20", "new-rtlimit": "10", "new-rtlimit-burst": "5", "rst-rtlimit": "5",
          "rst-rtlimit-burst": "2", "est-connlimit": "100", "tcp-strict": "on", "limits-ttl": "120", "helper": "none",
          "log": "input", "log-prefix": "x", "queue": "-1", "flow-offload": "off",
          "health-check": {"type": "http", "interval": "2", "timeout": "1", "fall": "3", "rise": "2", "port": "80",
                           "path": "/health", "status": "200", "flush": "on"},
          "backends": [{"name": "bck0", "ip-addr": "192.168.1.10", "port": "8080", "source-addr": "192.168.1.2", "weight": "2",
                        "priority": "1", "mark": "0x200", "est-connlimit": "10", "state": "up", "ether-addr": "02:00:00:00:00:02",
                        "health-check": {"type": "tcp", "interval": "1", "timeout": "0.5", "fall": "2", "rise": "1", "port": "8080", "flush": "off"}}],
          "sessions": [{"client": "10.0.0.1", "backend": "bck0"}]}]}
        """;

    /// <summary>Values that are wrong for most keys: wrong JSON types, empty, negative, huge, fractional, control characters.</summary>
    private static readonly string[] BadValues =
    [
        "null", "true", "[]", "{}", "[{}]", "\"\"", "\" \"", "\"-1\"", "-1", "1.5", "\"1e3\"", "\"99999999999999999999\"",
        "\"0x\"", "\"abc\"", "\"a\\u0000b\"", "\"../etc\"", "\"80-\"", "\"::\"", "\"256.1.1.1\"", "\"65536\"", "\"0\"",
    ];

    /// <summary>Any of <see cref="BadValues"/> that is a JSON scalar without a control character: free text (a log prefix).</summary>
    private static readonly string[] AnyText =
        ["\"\"", "\" \"", "\"-1\"", "-1", "1.5", "\"1e3\"", "\"99999999999999999999\"", "\"0x\"", "\"abc\"", "\"../etc\"", "\"80-\"", "\"::\"", "\"256.1.1.1\"", "\"65536\"", "\"0\""];

    /// <summary>
    /// The (object, key, values) of <see cref="BadValues"/> that are accepted, as nftlb accepts them: an empty value is the
    /// default, "0" is "none" or "no limit", a number is read as text, a mark is hexadecimal, a boolean is on/off, an
    /// interface name is any name Linux allows. Every other pair is rejected.
    /// </summary>
    private static readonly (string Object, string Key, string[] Values)[] Accepted =
    [
    // farm
    ("farm", "virtual-ports", ["[]", "\"\"", "\" \"", "\"0\""]),
    ("farm", "source-addr", ["\"\""]),
    ("farm", "sched-param", ["[]", "\"\"", "\" \""]),
    ("farm", "persistence", ["[]", "\"\"", "\" \""]),
    ("farm", "persist-ttl", ["\"65536\"", "\"0\""]),
    ("farm", "priority", ["\"65536\""]),
    ("farm", "iface", ["\"\"", "\"-1\"", "-1", "1.5", "\"1e3\"", "\"0x\"", "\"abc\"", "\"80-\"", "\"256.1.1.1\"", "\"65536\"", "\"0\""]),
    ("farm", "oface", ["\"\"", "\"-1\"", "-1", "1.5", "\"1e3\"", "\"0x\"", "\"abc\"", "\"80-\"", "\"256.1.1.1\"", "\"65536\"", "\"0\""]),
    ("farm", "ether-addr", ["\"\""]),
    ("farm", "mark", ["\"1e3\"", "\"abc\"", "\"65536\"", "\"0\""]),
    ("farm", "new-rtlimit", ["\"65536\"", "\"0\""]),
    ("farm", "new-rtlimit-burst", ["\"65536\"", "\"0\""]),
    ("farm", "rst-rtlimit", ["\"65536\"", "\"0\""]),
    ("farm", "rst-rtlimit-burst", ["\"65536\"", "\"0\""]),
    ("farm", "est-connlimit", ["\"65536\"", "\"0\""]),
    ("farm", "tcp-strict", ["true"]),
    ("farm", "limits-ttl", ["\"65536\"", "\"0\""]),
    ("farm", "log", ["true", "[]", "\"\"", "\" \""]),
    ("farm", "log-prefix", AnyText),
    ("farm", "queue", ["\"\"", "\"-1\"", "-1", "\"65536\"", "\"0\""]),
    ("farm", "flow-offload", ["true"]),
    // backend
    ("backend", "port", ["\"\"", "\"0\""]),
    ("backend", "source-addr", ["\"\""]),
    ("backend", "weight", ["\"65536\"", "\"0\""]),
    ("backend", "priority", ["\"65536\""]),
    ("backend", "mark", ["\"1e3\"", "\"abc\"", "\"65536\"", "\"0\""]),
    ("backend", "est-connlimit", ["\"65536\"", "\"0\""]),
    ("backend", "ether-addr", ["\"\""]),
    // farmhc
    ("farmhc", "interval", ["1.5"]),
    ("farmhc", "timeout", ["1.5"]),
    ("farmhc", "port", ["\"\"", "\"0\""]),
    ("farmhc", "flush", ["true"]),
    // backendhc
    ("backendhc", "interval", ["1.5"]),
    ("backendhc", "port", ["\"\"", "\"0\""]),
    ("backendhc", "flush", ["true"]),
    ];

    private static bool IsAccepted(string obj, string key, string value)
    {
        foreach (var (o, k, values) in Accepted)
            if (o == obj && k == key && values.Contains(value)) return true;
        return false;
    }

    private static readonly string[] FarmSkip = ["name", "backends", "sessions", "health-check"];
    private static readonly string[] BackendSkip = ["name", "health-check"];

    public static TheoryData<string, string> FarmKeys() => Keys("farm", Farm, FarmSkip, accepted: null);

    public static TheoryData<string, string> RejectedFarmValues() => Keys("farm", Farm, FarmSkip, accepted: false);

    public static TheoryData<string, string> AcceptedFarmValues() => Keys("farm", Farm, FarmSkip, accepted: true);

    public static TheoryData<string, string> RejectedBackendValues() => Keys("backend", Backend, BackendSkip, accepted: false);

    public static TheoryData<string, string> AcceptedBackendValues() => Keys("backend", Backend, BackendSkip, accepted: true);

    public static TheoryData<string, string> RejectedFarmHealthValues() => Keys("farmhc", FarmHealth, [], accepted: false);

    public static TheoryData<string, string> AcceptedFarmHealthValues() => Keys("farmhc", FarmHealth, [], accepted: true);

    public static TheoryData<string, string> RejectedBackendHealthValues() => Keys("backendhc", BackendHealth, [], accepted: false);

    public static TheoryData<string, string> AcceptedBackendHealthValues() => Keys("backendhc", BackendHealth, [], accepted: true);

    private static JsonObject Farm(JsonNode n) => n["farms"]![0]!.AsObject();

    private static JsonObject Backend(JsonNode n) => n["farms"]![0]!["backends"]![0]!.AsObject();

    private static JsonObject FarmHealth(JsonNode n) => n["farms"]![0]!["health-check"]!.AsObject();

    private static JsonObject BackendHealth(JsonNode n) => n["farms"]![0]!["backends"]![0]!["health-check"]!.AsObject();

    /// <summary>Every (key, bad value) of an object; with <paramref name="accepted"/>, only the accepted or the rejected ones.</summary>
    private static TheoryData<string, string> Keys(string obj, Func<JsonNode, JsonObject> select, string[] skip, bool? accepted)
    {
        var data = new TheoryData<string, string>();
        foreach (var (key, _) in select(JsonNode.Parse(Base)!))
        {
            if (skip.Contains(key)) continue;
            foreach (var bad in BadValues)
                if (accepted is null || IsAccepted(obj, key, bad) == accepted) data.Add(key, bad);
        }
        return data;
    }

    private static string With(Func<JsonNode, JsonObject> select, string key, string rawValue)
    {
        var root = JsonNode.Parse(Base)!;
        select(root)[key] = JsonNode.Parse(rawValue);
        return root.ToJsonString();
    }

    /// <summary>Parsing is rejected with a <see cref="ConfigException"/> whose message carries every one of <paramref name="location"/>.</summary>
    private static void RejectedAndLocated(string json, params string[] location)
    {
        var ex = Assert.Throws<ConfigException>(() => EngineSupport.Validate(ConfigParser.Parse(json)));
        foreach (var part in location) Assert.Contains(part, ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Parsing succeeds, the engine accepts it, and what is accepted round-trips.</summary>
    private static void AcceptedAndRoundTrips(string json)
    {
        var config = ConfigParser.Parse(json);
        EngineSupport.Validate(config);
        Assert.Equal(config, ConfigParser.Parse(ConfigParser.Serialize(config)));
    }

    [Fact]
    public void Parse_BaseDocument_Valid()
    {
        var config = ConfigParser.Parse(Base);
        Assert.Equal(HealthCheckType.Http, config.Farms[0].HealthCheck!.Type);
        Assert.Equal(HealthCheckType.Tcp, config.Farms[0].Backends[0].HealthCheck!.Type);
    }

    [Theory]
    [MemberData(nameof(RejectedFarmValues))]
    public void Parse_BadFarmValue_RejectedNamingFarmAndKey(string key, string bad) =>
        RejectedAndLocated(With(Farm, key, bad), "farm \"app\"", "key \"" + key + "\"");

    [Theory]
    [MemberData(nameof(AcceptedFarmValues))]
    public void Parse_LenientFarmValue_AcceptedAndRoundTrips(string key, string value) => AcceptedAndRoundTrips(With(Farm, key, value));

    [Theory]
    [MemberData(nameof(RejectedBackendValues))]
    public void Parse_BadBackendValue_RejectedNamingFarmBackendAndKey(string key, string bad) =>
        RejectedAndLocated(With(Backend, key, bad), "farm \"app\"", "backend \"bck0\"", "key \"" + key + "\"");

    [Theory]
    [MemberData(nameof(AcceptedBackendValues))]
    public void Parse_LenientBackendValue_AcceptedAndRoundTrips(string key, string value) => AcceptedAndRoundTrips(With(Backend, key, value));

    [Theory]
    [MemberData(nameof(RejectedFarmHealthValues))]
    public void Parse_BadFarmHealthCheckValue_RejectedNamingTheField(string key, string bad) =>
        RejectedAndLocated(With(FarmHealth, key, bad), "farm \"app\"", "key \"health-check." + key + "\"");

    [Theory]
    [MemberData(nameof(AcceptedFarmHealthValues))]
    public void Parse_LenientFarmHealthCheckValue_AcceptedAndRoundTrips(string key, string value) => AcceptedAndRoundTrips(With(FarmHealth, key, value));

    [Theory]
    [MemberData(nameof(RejectedBackendHealthValues))]
    public void Parse_BadBackendHealthCheckValue_RejectedNamingTheField(string key, string bad) =>
        RejectedAndLocated(With(BackendHealth, key, bad), "farm \"app\"", "backend \"bck0\"", "key \"health-check." + key + "\"");

    [Theory]
    [MemberData(nameof(AcceptedBackendHealthValues))]
    public void Parse_LenientBackendHealthCheckValue_AcceptedAndRoundTrips(string key, string value) => AcceptedAndRoundTrips(With(BackendHealth, key, value));

    [Theory]
    [MemberData(nameof(FarmKeys))]
    public void Apply_BadFarmValueOnRunningConfig_ThrowsAndRunningConfigUnchanged(string key, string bad)
    {
        var running = ConfigParser.Parse(Base);
        var copy = ConfigParser.Parse(Base);
        // One patch: a good change (a backend drained) and the bad value; either all of it applies or none.
        var patch = $$"""{"farms": [{"name": "app", "backends": [{"name": "bck0", "state": "off"}], "{{key}}": {{bad}}}]}""";
        LoadBalancerConfig? result = null;
        try
        {
            result = ConfigParser.Apply(running, ConfigParser.ParsePatch(patch));
        }
        catch (ConfigException ex)
        {
            Assert.Contains("key \"" + key + "\"", ex.Message, StringComparison.Ordinal);
        }
        Assert.Equal(copy, running); // the running configuration is never changed in place
        if (result is not null) Assert.Equal(ObjectState.Off, result.Farms[0].Backends[0].State);
    }

    [Theory]
    [InlineData("""{"type": "tcp", "interval": "1", "timeout": "2"}""", "key \"health-check.timeout\"", "is longer than the interval")]
    [InlineData("""{"type": "tcp", "path": "/x"}""", "key \"health-check.path\"", "only an http check has a path and a status")]
    [InlineData("""{"type": "icmp", "port": "80"}""", "key \"health-check.port\"", "an icmp check has no port")]
    [InlineData("""{"type": "tcp", "fall": "0"}""", "key \"health-check.fall\"", "is not an integer from 1 to 100")]
    [InlineData("""{"type": "http", "status": "700"}""", "key \"health-check.status\"", "is not an integer from 100 to 599")]
    [InlineData("""{"type": "http", "path": "health"}""", "key \"health-check.path\"", "is not an HTTP path")]
    [InlineData("""{"type": "http", "path": "/a b"}""", "key \"health-check.path\"", "is not an HTTP path")]
    [InlineData("""{"type": "smtp"}""", "key \"health-check.type\"", "is not one of: none, tcp, http, icmp")]
    [InlineData("""{"interval": "0.01"}""", "key \"health-check.interval\"", "is out of range")]
    [InlineData("""{"interval": "soon"}""", "key \"health-check.interval\"", "is not a duration")]
    [InlineData("""{"retries": "3"}""", "key \"health-check\"", "unknown field \"retries\"")]
    [InlineData("""{"flush": "maybe"}""", "key \"health-check.flush\"", "is not one of: on, off")]
    [InlineData("\"sometimes\"", "key \"health-check\"", "is not a health check")]
    [InlineData("5", "key \"health-check\"", "expected an object")]
    public void Parse_BadHealthCheck_ExactMessage(string check, string location, string detail)
    {
        var json = $$"""{"farms": [{"name": "app", "virtual-addr": "10.0.0.1", "virtual-ports": "80", "health-check": {{check}}}]}""";
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));
        Assert.Contains("farm \"app\", " + location, ex.Message, StringComparison.Ordinal);
        Assert.Contains(detail, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_HealthCheckWithNoPortToProbe_RejectedOnTheBackend()
    {
        var json = """
            {"farms": [{"name": "app", "virtual-addr": "10.0.0.1", "virtual-ports": "", "health-check": {"type": "tcp"},
              "backends": [{"name": "b", "ip-addr": "10.0.1.1"}]}]}
            """;
        var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));
        Assert.StartsWith("farm \"app\", backend \"b\", key \"port\": nothing to probe", ex.Message, StringComparison.Ordinal);
        // An icmp check, a backend port or a check port fixes it.
        ConfigParser.Parse(json.Replace("{\"type\": \"tcp\"}", "{\"type\": \"icmp\"}", StringComparison.Ordinal));
        ConfigParser.Parse(json.Replace("\"ip-addr\": \"10.0.1.1\"", "\"ip-addr\": \"10.0.1.1\", \"port\": \"80\"", StringComparison.Ordinal));
        ConfigParser.Parse(json.Replace("{\"type\": \"tcp\"}", "{\"type\": \"tcp\", \"port\": \"22\"}", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{"type": "tcp"}""", HealthCheckType.Tcp, 5000, 2000, 3, 2)]
    [InlineData("""{"interval": "0.5"}""", HealthCheckType.Tcp, 500, 500, 3, 2)]
    [InlineData("""{"type": "http", "interval": "1500ms", "timeout": "1s", "fall": 1, "rise": 5}""", HealthCheckType.Http, 1500, 1000, 1, 5)]
    [InlineData("\"none\"", HealthCheckType.None, 5000, 2000, 3, 2)]
    public void Parse_HealthCheck_ValuesAndDefaults(string check, HealthCheckType type, int intervalMs, int timeoutMs, int fall, int rise)
    {
        var json = $$"""{"farms": [{"name": "app", "virtual-addr": "10.0.0.1", "virtual-ports": "80", "health-check": {{check}}}]}""";
        var hc = ConfigParser.Parse(json).Farms[0].HealthCheck!;
        Assert.Equal(type, hc.Type);
        Assert.Equal(TimeSpan.FromMilliseconds(intervalMs), hc.Interval);
        Assert.Equal(TimeSpan.FromMilliseconds(timeoutMs), hc.Timeout);
        Assert.Equal(fall, hc.Fall);
        Assert.Equal(rise, hc.Rise);
    }

    [Fact]
    public void Serialize_HealthChecks_RoundTripAndDocumentsWithoutThemUnchanged()
    {
        var config = ConfigParser.Parse(Base);
        var text = ConfigParser.Serialize(config);
        Assert.Contains("\"health-check\": {", text, StringComparison.Ordinal);
        Assert.Equal(config, ConfigParser.Parse(text));
        var plain = ConfigParser.Parse("""{"farms": [{"name": "a", "virtual-addr": "10.0.0.1", "backends": [{"name": "b", "ip-addr": "10.0.1.1"}]}]}""");
        Assert.DoesNotContain("health-check", ConfigParser.Serialize(plain), StringComparison.Ordinal);
        Assert.Null(plain.Farms[0].HealthCheck);
    }

    [Fact]
    public void Apply_PatchBackendHealthCheck_ChangesOnlyThatBackend()
    {
        var running = ConfigParser.Parse(Base);
        var next = ConfigParser.Apply(running, ConfigParser.ParsePatch(
            """{"farms": [{"name": "app", "backends": [{"name": "bck0", "health-check": "none"}]}]}"""));
        Assert.Equal(HealthCheckType.None, next.Farms[0].Backends[0].HealthCheck!.Type);
        Assert.Null(HealthCheckConfig.Effective(next.Farms[0], next.Farms[0].Backends[0]));
        Assert.Equal(running.Farms[0].HealthCheck, next.Farms[0].HealthCheck);
        Assert.NotEqual(running, next);
    }
}
