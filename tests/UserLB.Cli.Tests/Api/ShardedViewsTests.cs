using System.Net;
using System.Text.Json;
using UserLB.Cli.Api;

namespace UserLB.Cli.Tests.Api;

/// <summary>
/// The control plane and the views over a forwarder with several workers (each engine a shard of the flows by client
/// port): what the API shows and changes is the one load balancer the workers make, not worker 0's share.
/// </summary>
public sealed class ShardedViewsTests
{
    private const string Persistent = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"rr","iface":"m0",
          "persistence":"srcip","persist-ttl":"60",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    /// <summary>SYNs of client .1 from <paramref name="count"/> consecutive ports: every worker gets some.</summary>
    private static byte[][] Syns(ushort first, int count, string client = "192.168.101.1") =>
        [.. Enumerable.Range(first, count).Select(p => ApiTraffic.Tcp((ushort)p, syn: true, client))];

    private static async Task<int[]> PerWorkerAsync(ApiFixture api) => await api.Forwarder.InvokeAllAsync((e, _) => e.Table.Count);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Conntrack_SeveralWorkers_ListCountAndDeleteCoverEveryWorker(int workers)
    {
        await using var api = await ApiFixture.StartAsync(workers: workers);
        Assert.Equal(workers, api.Forwarder.WorkerCount);
        await ApiTraffic.SendAsync(api, Syns(40000, 10 * workers));
        var perWorker = await PerWorkerAsync(api);
        Assert.All(perWorker, n => Assert.True(n > 0, string.Join(",", perWorker)));
        Assert.Equal(10 * workers, perWorker.Sum());

        var list = await api.Http.GetStringAsync("/conntrack");
        var lines = list.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(10 * workers, lines.Length);
        var ports = lines.Select(l => l.Split(" sport=")[1].Split(' ')[0]).Select(int.Parse).Order();
        Assert.Equal(Enumerable.Range(40000, 10 * workers), ports);
        Assert.Equal($"{10 * workers}\n", await api.Http.GetStringAsync("/conntrack/count"));
        Assert.Equal("1\n", await api.Http.GetStringAsync("/conntrack/count?sport=40001"));
        Assert.Single((await api.Http.GetStringAsync("/conntrack?sport=40001")).Split('\n', StringSplitOptions.RemoveEmptyEntries));

        using (var res = await api.Http.DeleteAsync("/conntrack?sport=40001"))
            Assert.Contains("\"deleted\": 1}", await res.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using (var res = await api.Http.DeleteAsync("/conntrack?farm=app"))
            Assert.Contains($"\"deleted\": {10 * workers - 1}}}", await res.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("0\n", await api.Http.GetStringAsync("/conntrack/count"));
        Assert.All(await PerWorkerAsync(api), n => Assert.Equal(0, n));
    }

    [Fact]
    public async Task Stats_TwoWorkers_SumsOfEveryWorkersCounters()
    {
        await using var api = await ApiFixture.StartAsync(workers: 2);
        await ApiTraffic.SendAsync(api, Syns(40000, 20));
        var perWorker = await PerWorkerAsync(api);
        Assert.All(perWorker, n => Assert.True(n > 0));
        int max = (await api.Forwarder.InvokeAllAsync((e, _) => e.Table.Max)).Sum();

        using var doc = JsonDocument.Parse(await api.Http.GetStringAsync("/stats"));
        var root = doc.RootElement;
        Assert.Equal(20, root.GetProperty("table").GetProperty("entries").GetInt32());
        Assert.Equal(max, root.GetProperty("table").GetProperty("max").GetInt32());
        Assert.Equal(20, root.GetProperty("engine").GetProperty("connections").GetInt64());
        Assert.Equal(await ApiTraffic.ReceivedAsync(api), root.GetProperty("engine").GetProperty("rx-frames").GetInt64());
        var app = root.GetProperty("farms")[0];
        Assert.Equal(20, app.GetProperty("active").GetInt64());
        Assert.Equal(20, app.GetProperty("connections").GetInt64());
        long backendActive = 0;
        foreach (var b in app.GetProperty("backends").EnumerateArray()) backendActive += b.GetProperty("active").GetInt64();
        Assert.Equal(20, backendActive);

        var metrics = await api.Http.GetStringAsync("/metrics");
        Assert.Contains("\nuserlb_conntrack_entries 20\n", metrics, StringComparison.Ordinal);
        Assert.Contains("\nuserlb_connections_total 20\n", metrics, StringComparison.Ordinal);
        Assert.Equal(2, root.GetProperty("queue").GetProperty("workers").GetInt32());
        Assert.Equal("queue", root.GetProperty("queue").GetProperty("dispatch").GetString());
        Assert.Equal(2 * 8192, root.GetProperty("queue").GetProperty("capacity").GetInt32());
        Assert.Contains("\nuserlb_workers{dispatch=\"queue\"} 2\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sessions_TwoWorkersSharingPersistence_OneClientOneSessionOneBackend()
    {
        await using var api = await ApiFixture.StartAsync(Persistent, workers: 2);
        await ApiTraffic.SendAsync(api, Syns(40100, 12));
        var flows = await ApiTraffic.ConnectionsAsync(api);
        Assert.Equal(12, flows.Count);
        Assert.Single(flows.Values.Distinct());
        Assert.All(await PerWorkerAsync(api), n => Assert.True(n > 0)); // both workers took some

        using (var doc = JsonDocument.Parse(await api.Http.GetStringAsync("/farms/app/sessions")))
        {
            var sessions = doc.RootElement.GetProperty("farms")[0].GetProperty("sessions");
            Assert.Equal(1, sessions.GetArrayLength());
            Assert.Equal("192.168.101.1", sessions[0].GetProperty("client").GetString());
            Assert.Equal(flows[40100], sessions[0].GetProperty("backend").GetString());
        }
        using (var res = await api.Http.DeleteAsync("/farms/app/sessions/192.168.101.1")) Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        using (var doc = JsonDocument.Parse(await api.Http.GetStringAsync("/farms/app/sessions")))
            Assert.Equal(0, doc.RootElement.GetProperty("farms")[0].GetProperty("sessions").GetArrayLength());
    }

    [Fact]
    public async Task Control_TwoWorkers_ConfigAppliedAndFlushesOnEveryWorker()
    {
        await using var api = await ApiFixture.StartAsync(workers: 2);
        await ApiTraffic.SendAsync(api, Syns(40000, 20));
        using (var res = await api.PostAsync("/farms", """{"farms":[{"name":"app","backends":[{"name":"bck1","weight":"5"}]}]}"""))
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.All(await api.Forwarder.InvokeAllAsync((e, _) => e.Snapshot.Generation), g => Assert.Equal(api.Control.Generation, g));
        Assert.Equal(20, await api.Control.FlushFarmAsync("app"));
        Assert.All(await PerWorkerAsync(api), n => Assert.Equal(0, n));
        await ApiTraffic.SendAsync(api, Syns(41000, 20));
        var flows = await ApiTraffic.ConnectionsAsync(api);
        int bck0 = flows.Values.Count(b => b == "bck0");
        Assert.Equal(bck0, await api.Control.FlushBackendAsync("app", "bck0"));
        Assert.Equal(20 - bck0, (await PerWorkerAsync(api)).Sum());
    }

    [Fact]
    public async Task Events_TwoWorkers_NewConnectionsOfEveryWorkerStreamed()
    {
        await using var api = await ApiFixture.StartAsync(workers: 2);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/conntrack/events?events=NEW");
        using var res = await api.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(await api.Forwarder.InvokeAllAsync((e, _) => e.Table.Events is not null)).All(x => x))
        {
            Assert.True(DateTime.UtcNow < deadline, "the hub was not attached to every worker's table");
            await Task.Delay(10);
        }
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync());
        await ApiTraffic.SendAsync(api, Syns(40000, 8));
        var ports = new HashSet<int>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (ports.Count < 8 && await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            Assert.StartsWith("    [NEW] tcp", line, StringComparison.Ordinal);
            ports.Add(int.Parse(line.Split(" sport=")[1].Split(' ')[0]));
        }
        Assert.Equal(Enumerable.Range(40000, 8), ports.Order());
    }

    [Fact]
    public void TableCursor_WorkerByWorker_EveryTableFromStartToEnd()
    {
        // Three workers: the first table takes two steps, the second one, the third two.
        var c = TableCursor.Start;
        Assert.Equal(new TableCursor(0, 0), c);
        Assert.False(c.IsDone(3));
        c = c.After(2048, tableDone: false);
        Assert.Equal(new TableCursor(0, 2048), c);
        c = c.After(3000, tableDone: true);
        Assert.Equal(new TableCursor(1, 0), c);
        c = c.After(10, tableDone: true);
        Assert.Equal(new TableCursor(2, 0), c);
        c = c.After(2048, tableDone: false);
        Assert.False(c.IsDone(3));
        c = c.After(4096, tableDone: true);
        Assert.True(c.IsDone(3));
        Assert.True(TableCursor.Start.After(0, tableDone: true).IsDone(1));
    }
}
