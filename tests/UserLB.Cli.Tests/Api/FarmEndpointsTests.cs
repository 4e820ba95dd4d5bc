using System.Net;
using System.Text.Json;
using UserLB.Engine.Config;

namespace UserLB.Cli.Tests.Api;

public sealed class FarmEndpointsTests
{
    private const string WithSession = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","scheduler":"weight","iface":"m0","persistence":"srcip",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}],
          "sessions":[{"client":"192.168.101.7","backend":"bck1"}]},
         {"name":"other","virtual-addr":"192.168.101.251","iface":"m0","backends":[{"name":"x","ip-addr":"192.168.1.20"}]}]}
        """;

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage res)
    {
        using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
        return doc.RootElement.Clone();
    }

    private static async Task AssertErrorAsync(HttpResponseMessage res, HttpStatusCode status, params string[] messageParts)
    {
        string body = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == status, $"expected {status}, got {res.StatusCode}: {body}");
        Assert.Equal("application/json", res.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(body);
        string message = doc.RootElement.GetProperty("response").GetString()!; // nftlb's shape: {"response": "error …"}
        Assert.StartsWith("error", message, StringComparison.Ordinal);
        foreach (var part in messageParts) Assert.Contains(part, message, StringComparison.Ordinal);
    }

    private static async Task AssertSuccessAsync(HttpResponseMessage res)
    {
        string body = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == HttpStatusCode.OK, $"got {res.StatusCode}: {body}");
        using var doc = JsonDocument.Parse(body);
        Assert.Equal("success", doc.RootElement.GetProperty("response").GetString());
    }

    [Fact]
    public async Task GetFarms_WithKey_ListsFarmsInNftlbFormat()
    {
        await using var api = await ApiFixture.StartAsync();
        using var res = await api.Http.GetAsync("/farms");
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var farm = (await JsonAsync(res)).GetProperty("farms")[0];
        Assert.Equal("app", farm.GetProperty("name").GetString());
        Assert.Equal("snat", farm.GetProperty("mode").GetString());
        Assert.Equal("192.168.1.11", farm.GetProperty("backends")[1].GetProperty("ip-addr").GetString());
        Assert.Equal("up", farm.GetProperty("backends")[1].GetProperty("state").GetString());
        Assert.False(farm.GetProperty("backends")[1].TryGetProperty("health", out _)); // shown only for a backend with a health check
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    [InlineData("test-key-12")]
    public async Task AnyEndpoint_MissingOrWrongKey_Returns401AndChangesNothing(string? key)
    {
        await using var api = await ApiFixture.StartAsync();
        using var http = new HttpClient { BaseAddress = api.Host.Address };
        if (key is not null) http.DefaultRequestHeaders.Add("Key", key);
        using (var res = await http.GetAsync("/farms")) await AssertErrorAsync(res, HttpStatusCode.Unauthorized, "Key");
        using (var res = await http.DeleteAsync("/farms/app")) await AssertErrorAsync(res, HttpStatusCode.Unauthorized, "Key");
        using (var res = await http.GetAsync("/no/such/thing")) await AssertErrorAsync(res, HttpStatusCode.Unauthorized, "Key");
        Assert.NotNull(api.Control.Config.FindFarm("app"));
    }

    [Fact]
    public async Task GetFarm_Known_ReturnsOnlyThatFarm()
    {
        await using var api = await ApiFixture.StartAsync(WithSession);
        using var res = await api.Http.GetAsync("/farms/other");
        var farms = (await JsonAsync(res)).GetProperty("farms");
        Assert.Equal(1, farms.GetArrayLength());
        Assert.Equal("192.168.101.251", farms[0].GetProperty("virtual-addr").GetString());
    }

    [Theory]
    [InlineData("GET", "/farms/nope", "farm \"nope\"")]
    [InlineData("GET", "/farms/nope/sessions", "farm \"nope\"")]
    [InlineData("DELETE", "/farms/app/sessions/10.9.9.9", "session \"10.9.9.9\"")]
    [InlineData("GET", "/nothing", "no such endpoint")]
    public async Task Endpoint_UnknownObject_Returns404NamingIt(string method, string path, string named)
    {
        await using var api = await ApiFixture.StartAsync(WithSession);
        var before = api.Control.Config;
        using var req = new HttpRequestMessage(new HttpMethod(method), path);
        using var res = await api.Http.SendAsync(req);
        await AssertErrorAsync(res, HttpStatusCode.NotFound, named);
        Assert.Same(before, api.Control.Config);
    }

    [Theory]
    [InlineData("/farms/nope")]
    [InlineData("/farms/app/backends/nope")]
    [InlineData("/farms/nope/backends/bck0")]
    public async Task Delete_UnknownObject_SucceedsAndChangesNothingAsNftlb(string path)
    {
        await using var api = await ApiFixture.StartAsync(WithSession);
        var before = api.Control.Config;
        using (var res = await api.Http.DeleteAsync(path)) await AssertSuccessAsync(res);
        Assert.Same(before, api.Control.Config);
    }

    [Fact]
    public async Task Patch_Farms_UpsertsAsPost()
    {
        await using var api = await ApiFixture.StartAsync();
        using var req = new HttpRequestMessage(HttpMethod.Patch, "/farms") { Content = new StringContent("""{"farms":[{"name":"app","backends":[{"name":"bck1","state":"down"}]}]}""") };
        using (var res = await api.Http.SendAsync(req)) await AssertSuccessAsync(res);
        Assert.Equal(ObjectState.Down, api.Control.Config.FindFarm("app")!.Backends[1].State);
    }

    [Theory]
    [InlineData("""{"farms":[{"name":"new","virtual-addr":"192.168.101.9","iface":"eth9"}]}""", "iface \"eth9\"")]
    [InlineData("""{"farms":[{"name":"new","virtual-addr":"192.168.101.9"}]}""", "no iface")]
    [InlineData("""{"farms":[{"name":"new","iface":"m0"}]}""", "no virtual address")]
    public async Task Post_FarmThatCannotBePlaced_IsStoredShownAndReportedByName(string body, string reason)
    {
        await using var api = await ApiFixture.StartAsync();
        var before = api.Control.Config;
        using (var res = await api.PostAsync("/farms", body)) await AssertSuccessAsync(res);
        Assert.Same(before, api.Control.Config); // the engine does not run it
        Assert.Contains(reason, api.Control.Unplaced["new"], StringComparison.Ordinal);
        using var view = await api.Http.GetAsync("/farms/new");
        Assert.Equal("new", (await JsonAsync(view)).GetProperty("farms")[0].GetProperty("name").GetString());
    }

    [Fact]
    public async Task GetSessions_FarmWithStaticSession_ListsIt()
    {
        await using var api = await ApiFixture.StartAsync(WithSession);
        using var res = await api.Http.GetAsync("/farms/app/sessions");
        var farm = (await JsonAsync(res)).GetProperty("farms")[0];
        Assert.Equal("app", farm.GetProperty("name").GetString());
        var s = farm.GetProperty("sessions")[0];
        Assert.Equal("192.168.101.7", s.GetProperty("client").GetString());
        Assert.Equal("bck1", s.GetProperty("backend").GetString());
    }

    [Fact]
    public async Task DeleteSession_Existing_RemovesItOnly()
    {
        await using var api = await ApiFixture.StartAsync(WithSession);
        using (var res = await api.Http.DeleteAsync("/farms/app/sessions/192.168.101.7")) await AssertSuccessAsync(res);
        var farm = api.Control.Config.FindFarm("app")!;
        Assert.Empty(farm.Sessions);
        Assert.Equal(2, farm.Backends.Length);
    }

    [Fact]
    public async Task Sessions_LearnedByPersistence_ListedWithExpirationAndDeletable()
    {
        // app: persistence srcip, persist-ttl 60; the engines' clock stands still, so a session listed is as old as learned.
        await using var api = await ApiFixture.StartAsync(WithSession, time: StartedClock.Create());
        await ApiTraffic.SendAsync(api, ApiTraffic.Tcp(40100, syn: true, client: "192.168.101.1"), ApiTraffic.Tcp(40101, syn: true, client: "192.168.101.2"));
        var flows = await ApiTraffic.ConnectionsAsync(api);

        async Task<Dictionary<string, (string Backend, string? Expiration)>> SessionsAsync()
        {
            using var res = await api.Http.GetAsync("/farms/app/sessions");
            var result = new Dictionary<string, (string, string?)>();
            foreach (var s in (await JsonAsync(res)).GetProperty("farms")[0].GetProperty("sessions").EnumerateArray())
            {
                result[s.GetProperty("client").GetString()!] = (s.GetProperty("backend").GetString()!,
                    s.TryGetProperty("expiration", out var e) ? e.GetString() : null);
            }

            return result;
        }

        var sessions = await SessionsAsync();
        Assert.Equal(("bck1", (string?)null), sessions["192.168.101.7"]); // static
        Assert.Equal((flows[40100], "60"), sessions["192.168.101.1"]);
        Assert.Equal((flows[40101], "60"), sessions["192.168.101.2"]);
        Assert.Equal(3, sessions.Count);

        using (var res = await api.Http.DeleteAsync("/farms/app/sessions/192.168.101.1")) await AssertSuccessAsync(res);
        Assert.Equal(["192.168.101.2", "192.168.101.7"], (await SessionsAsync()).Keys.Order());
        using (var res = await api.Http.DeleteAsync("/farms/app/sessions/192.168.101.1")) await AssertErrorAsync(res, HttpStatusCode.NotFound, "session");
        Assert.Single(api.Control.Config.FindFarm("app")!.Sessions);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    public async Task Upsert_PartialDocument_ChangesOnlyWhatItNames(string method)
    {
        await using var api = await ApiFixture.StartAsync(WithSession);
        var before = api.Control.Config;
        long generation = api.Control.Generation;
        using var req = new HttpRequestMessage(new HttpMethod(method), "/farms")
        {
            Content = new StringContent("""{"farms":[{"name":"app","backends":[{"name":"bck1","state":"down"}]}]}"""),
        };
        using (var res = await api.Http.SendAsync(req)) await AssertSuccessAsync(res);
        var after = api.Control.Config;
        Assert.Equal(ObjectState.Down, after.FindFarm("app")!.Backends[1].State);
        Assert.Equal(before.FindFarm("app")! with { Backends = [before.FindFarm("app")!.Backends[0], before.FindFarm("app")!.Backends[1] with { State = ObjectState.Down }] },
            after.FindFarm("app"));
        Assert.Same(before.FindFarm("other"), after.FindFarm("other"));
        Assert.Equal(generation + 1, api.Control.Generation);
        // The engine runs the new snapshot.
        var state = await api.Forwarder.InvokeAsync((e, _) => (e.Snapshot.Generation, e.Snapshot.FindFarmByName("app")!.Candidates.Length));
        Assert.Equal((generation + 1, 1), state);
        using var view = await api.Http.GetAsync("/farms/app");
        Assert.Equal("down", (await JsonAsync(view)).GetProperty("farms")[0].GetProperty("backends")[1].GetProperty("state").GetString());
    }

    [Fact]
    public async Task Post_NewFarm_IsCreatedAndServed()
    {
        await using var api = await ApiFixture.StartAsync();
        using (var res = await api.PostAsync("/farms", """
            {"farms":[{"name":"dns","virtual-addr":"192.168.101.252","virtual-ports":"53","protocol":"udp","iface":"m0",
              "backends":[{"name":"d0","ip-addr":"192.168.1.30"}]}]}
            """))
        {
            await AssertSuccessAsync(res);
        }

        Assert.Equal(2, api.Control.Config.Farms.Length);
        Assert.True(await api.Forwarder.InvokeAsync((e, _) => e.Snapshot.FindFarmByName("dns") is not null));
    }

    public static TheoryData<string, string[]> BadDocuments => new()
    {
        { "{\"farms\": [", ["invalid JSON"] },
        { "", ["body"] },
        { "[1,2]", ["JSON object"] },
        { """{"farms":[{"name":"app","backends":[{"name":"bck1","weight":"abc"}]}]}""", ["error parsing buffer", "'abc'", "'weight'"] },
        { """{"farms":[{"name":"app","virtual-addr":"300.1.1.1"}]}""", ["farm \"app\"", "\"virtual-addr\""] },
        { """{"farms":[{"name":"app","colour":"red"}]}""", ["farm 'app'", "colour"] },
        { """{"farms":[{"name":"app","log-rtlimit":"10/hours"}]}""", ["error parsing buffer. Parsing unknown value '10/hours' in 'log-rtlimit'"] },
        { """{"farms":[{"name":"app","backends":[{"name":"bck9","weight":"2"}]}]}""", ["backend \"bck9\"", "ip-addr"] },
        // The first farm is fine, the second is not: nothing applies.
        { """{"farms":[{"name":"app","backends":[{"name":"bck0","state":"off"}]},{"name":"app2","new-rtlimit":"x"}]}""", ["'x'", "'new-rtlimit'"] },
        { """{"farms":[{"name":"app","health-check":{"type":"tcp","interval":"1","timeout":"5"}}]}""", ["health-check.timeout"] },
        { """{"farms":[{"name":"app","backends":[{"name":"bck0","health":"sick"}]}]}""", ["backend 'bck0'", "'health'", "read-only"] },
    };

    [Theory]
    [MemberData(nameof(BadDocuments))]
    public async Task Post_InvalidDocument_Returns400NamingTheFieldAndChangesNothing(string body, string[] named)
    {
        await using var api = await ApiFixture.StartAsync();
        var before = api.Control.Config;
        long generation = api.Control.Generation;
        using (var res = await api.PostAsync("/farms", body)) await AssertErrorAsync(res, HttpStatusCode.BadRequest, named);
        Assert.Same(before, api.Control.Config);
        Assert.Equal(generation, api.Control.Generation);
        Assert.Same(before, await api.Forwarder.InvokeAsync((e, _) => e.Snapshot.Config));
        using var view = await api.Http.GetAsync("/farms");
        var farms = (await JsonAsync(view)).GetProperty("farms");
        Assert.Equal(1, farms.GetArrayLength());
        Assert.Equal("up", farms[0].GetProperty("backends")[0].GetProperty("state").GetString());
    }

    [Fact]
    public async Task Post_TheFarmViewBack_AcceptedAndChangesNothing()
    {
        await using var api = await ApiFixture.StartAsync(WithSession);
        var before = api.Control.Config;
        using var view = await api.Http.GetAsync("/farms");
        using (var res = await api.PostAsync("/farms", await view.Content.ReadAsStringAsync())) await AssertSuccessAsync(res);
        Assert.Equal(before, api.Control.Config);
    }

    [Fact]
    public async Task DeleteFarm_Existing_RemovesIt()
    {
        await using var api = await ApiFixture.StartAsync(WithSession);
        using (var res = await api.Http.DeleteAsync("/farms/app")) await AssertSuccessAsync(res);
        Assert.Null(api.Control.Config.FindFarm("app"));
        Assert.NotNull(api.Control.Config.FindFarm("other"));
        Assert.True(await api.Forwarder.InvokeAsync((e, _) => e.Snapshot.FindFarmByName("app") is null));
        using (var res = await api.Http.GetAsync("/farms/app")) await AssertErrorAsync(res, HttpStatusCode.NotFound, "farm \"app\"");
    }

    [Fact]
    public async Task DeleteBackend_Existing_RemovesItAndItsConnections()
    {
        await using var api = await ApiFixture.StartAsync();
        await ApiTraffic.SendAsync(api, [.. Enumerable.Range(40000, 20).Select(p => ApiTraffic.Tcp((ushort)p, syn: true))]);
        var flows = await ApiTraffic.ConnectionsAsync(api);
        Assert.Equal(20, flows.Count);
        Assert.Contains("bck1", flows.Values);
        using (var res = await api.Http.DeleteAsync("/farms/app/backends/bck1")) await AssertSuccessAsync(res);
        Assert.Equal(["bck0"], api.Control.Config.FindFarm("app")!.Backends.Select(b => b.Name));
        // Each flow of the removed backend is destroyed at its next packet and starts over on a backend that exists.
        await ApiTraffic.SendAsync(api, [.. flows.Keys.Select(p => ApiTraffic.Tcp((ushort)p, syn: true))]);
        var after = await ApiTraffic.ConnectionsAsync(api);
        Assert.All(after.Values, b => Assert.Equal("bck0", b));
    }
}
