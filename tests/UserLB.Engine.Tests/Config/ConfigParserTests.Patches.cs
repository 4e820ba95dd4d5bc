using System.Net;
using System.Text.Json;
using UserLB.Engine.Config;

namespace UserLB.Engine.Tests.Config;

/// <summary>Patches, upserts and serialisation: what the API and the writer do with a parsed configuration.</summary>
public partial class ConfigParserTests
{
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
