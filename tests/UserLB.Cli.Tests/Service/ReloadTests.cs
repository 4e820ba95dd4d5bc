using System.Net;
using UserLB.Cli.Commands;
using UserLB.Cli.Tests.Api;

namespace UserLB.Cli.Tests.Service;

/// <summary>
/// <c>userlb run</c>'s SIGHUP reload (<see cref="RunCommand.ReloadAsync"/>), driven directly on a running control plane:
/// the file becomes the running configuration, atomically, and connections of unchanged farms survive.
/// </summary>
public sealed class ReloadTests : IDisposable
{
    private const string Farm = """{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"weight","iface":"m0","backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}""";
    private const string Dns = """{"name":"dns","virtual-addr":"192.168.101.252","virtual-ports":"53","protocol":"udp","iface":"m0","backends":[{"name":"d0","ip-addr":"192.168.1.30"}]}""";

    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-reload-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string File(string text)
    {
        string path = Path.Combine(_dir, "farms.json");
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private static async Task<string> FarmsAsync(ApiFixture api)
    {
        using var res = await api.Http.GetAsync("/farms");
        return await res.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task Reload_FarmDroppedFromFile_RemovedAndUnchangedFarmKeepsItsConnections()
    {
        await using var api = await ApiFixture.StartAsync($$"""{"farms":[{{Farm}},{{Dns}}]}""");
        await ApiTraffic.SendAsync(api, [.. Enumerable.Range(45000, 10).Select(p => ApiTraffic.Tcp((ushort)p, syn: true))]);
        var before = await ApiTraffic.ConnectionsAsync(api);
        var appConfig = api.Control.Config.FindFarm("app");
        long generation = api.Control.Generation;
        var log = new ListLogger();

        Assert.True(await RunCommand.ReloadAsync(api.Control, File($$"""{"farms":[{{Farm}}]}"""), log), string.Join("\n", log.Lines));

        Assert.Equal(["app"], api.Control.Config.Farms.Select(f => f.Name));
        Assert.Same(appConfig, api.Control.Config.FindFarm("app")); // not rebuilt: the engine runs the same farm
        Assert.Equal(generation + 1, api.Control.Generation);
        string farms = await FarmsAsync(api);
        Assert.DoesNotContain("\"dns\"", farms, StringComparison.Ordinal);
        await ApiTraffic.SendAsync(api, [.. before.Keys.Select(p => ApiTraffic.Tcp((ushort)p, syn: false))]);
        Assert.Equal(before, await ApiTraffic.ConnectionsAsync(api));
        Assert.Contains(log.Lines, l => l.StartsWith("Information: SIGHUP: reloaded", StringComparison.Ordinal) && l.Contains("1 farm(s)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reload_FarmAddedAndChanged_RunsTheFilesValues()
    {
        await using var api = await ApiFixture.StartAsync($$"""{"farms":[{{Farm}}]}""");
        string changed = Farm.Replace("\"weight\"", "\"rr\"", StringComparison.Ordinal);
        Assert.True(await RunCommand.ReloadAsync(api.Control, File($$"""{"farms":[{{changed}},{{Dns}}]}"""), new ListLogger()));
        Assert.Equal(["app", "dns"], api.Control.Config.Farms.Select(f => f.Name));
        Assert.Equal(UserLB.Engine.Config.SchedulerKind.RoundRobin, api.Control.Config.FindFarm("app")!.Scheduler);
    }

    [Theory]
    [InlineData("{\"farms\":[{\"name\":\"app\",", "invalid JSON at line 1")]
    [InlineData("{\"farms\":[{\"name\":\"app\",\"virtual-addr\":\"192.168.101.250\",\"weight-of-the-world\":\"1\"}]}", "weight-of-the-world")]
    [InlineData("{\"farms\":[{\"name\":\"app\",\"virtual-addr\":\"192.168.101.250\",\"backends\":[{\"name\":\"b\",\"ip-addr\":\"192.168.1.10\",\"weight\":\"abc\"}]}]}", "weight")]
    [InlineData("{\"farms\":[{\"name\":\"app\",\"virtual-addr\":\"192.168.101.250\",\"mode\":\"local\"}]}", "mode")]
    public async Task Reload_BadFile_ChangesNothingAndLogsWhy(string text, string reason)
    {
        await using var api = await ApiFixture.StartAsync($$"""{"farms":[{{Farm}},{{Dns}}]}""");
        string farmsBefore = await FarmsAsync(api);
        var config = api.Control.Config;
        long generation = api.Control.Generation;
        var log = new ListLogger();

        Assert.False(await RunCommand.ReloadAsync(api.Control, File(text), log));

        Assert.Same(config, api.Control.Config);
        Assert.Equal(generation, api.Control.Generation);
        Assert.Equal(farmsBefore, await FarmsAsync(api));
        string line = Assert.Single(log.Lines);
        Assert.StartsWith("Error: SIGHUP: " + Path.Combine(_dir, "farms.json") + " not reloaded, nothing changed: ", line, StringComparison.Ordinal);
        Assert.Contains(reason, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_FileGone_ChangesNothingAndLogsWhy()
    {
        await using var api = await ApiFixture.StartAsync();
        var config = api.Control.Config;
        var log = new ListLogger();
        Assert.False(await RunCommand.ReloadAsync(api.Control, Path.Combine(_dir, "missing.json"), log));
        Assert.Same(config, api.Control.Config);
        Assert.Contains("missing.json", Assert.Single(log.Lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_FarmOnAnInterfaceNotOpened_StoredNotPlacedAndLogged()
    {
        await using var api = await ApiFixture.StartAsync($$"""{"farms":[{{Farm}}]}""");
        var log = new ListLogger();
        string elsewhere = Dns.Replace("\"m0\"", "\"m1\"", StringComparison.Ordinal);
        Assert.True(await RunCommand.ReloadAsync(api.Control, File($$"""{"farms":[{{Farm}},{{elsewhere}}]}"""), log));
        Assert.Equal(["app"], api.Control.Config.Farms.Select(f => f.Name));
        Assert.StartsWith("iface \"m1\" is not an interface this userlb run owns", api.Control.Unplaced["dns"], StringComparison.Ordinal);
        Assert.Contains(log.Lines, l => l.Contains("2 farm(s), 1 not placed", StringComparison.Ordinal));
        Assert.Contains("\"dns\"", await FarmsAsync(api), StringComparison.Ordinal); // stored and shown, as the API stores it
    }

    [Fact]
    public async Task Reload_FarmAddedThroughApiNotInFile_Removed()
    {
        await using var api = await ApiFixture.StartAsync($$"""{"farms":[{{Farm}}]}""");
        using (var res = await api.PostAsync("/farms", $$"""{"farms":[{{Dns}}]}"""))
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal(2, api.Control.Config.Farms.Length);
        Assert.True(await RunCommand.ReloadAsync(api.Control, File($$"""{"farms":[{{Farm}}]}"""), new ListLogger()));
        Assert.Equal(["app"], api.Control.Config.Farms.Select(f => f.Name));
    }

    [Fact]
    public async Task Reload_FarmWithoutVirtualAddress_StoredShownAndPlacedOnceTheApiGivesOne()
    {
        await using var api = await ApiFixture.StartAsync($$"""{"farms":[{{Farm}}]}""");
        var log = new ListLogger();
        string noVip = Dns.Replace("\"virtual-addr\":\"192.168.101.252\"", "\"virtual-addr\":\"\"", StringComparison.Ordinal);
        Assert.True(await RunCommand.ReloadAsync(api.Control, File($$"""{"farms":[{{Farm}},{{noVip}}]}"""), log), string.Join("\n", log.Lines));
        Assert.Equal(["app"], api.Control.Config.Farms.Select(f => f.Name));
        Assert.Equal("no virtual address", api.Control.Unplaced["dns"]);
        Assert.Contains(log.Lines, l => l.Contains("2 farm(s), 1 not placed", StringComparison.Ordinal));

        // GET /farms prints it as nftlb does, and that dump is a file userlb loads again (iface and oface are not in
        // nftlb's output: --iface or the routes place its farms).
        string dump = await FarmsAsync(api);
        Assert.Contains("\"virtual-addr\": \"\"", dump, StringComparison.Ordinal);
        var again = ConfigLoader.Split(dump);
        Assert.Equal(["app"], again.Config.Farms.Select(f => f.Name));
        Assert.Equal(["dns"], again.StoredNames);

        using (var res = await api.PostAsync("/farms", """{"farms":[{"name":"dns","virtual-addr":"192.168.101.252"}]}"""))
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal(["app", "dns"], api.Control.Config.Farms.Select(f => f.Name));
    }
}
