using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Text.Json;
using PacketDotNet;
using UserLB.Cli.Commands;
using UserLB.Cli.Views;
using UserLB.Engine;

namespace UserLB.Cli.Tests.Api;

/// <summary>
/// The views over real HTTP against a running control plane (LiveForwarder over an in-memory port), fed real frames:
/// conntrack list/count/delete/events with filters, stats, metrics, status, and the CLI commands that read them.
/// </summary>
public sealed partial class ViewEndpointsTests
{
    /// <summary>web (tcp 80 → bck0 only), dns (udp 53 → bck1 only, DTA), old (tcp 8080, down).</summary>
    internal const string Farms = """
        {"farms":[
          {"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"rr","iface":"m0",
           "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]},
          {"name":"dns","virtual-addr":"192.168.101.250","virtual-ports":"53","protocol":"udp","mode":"dnat","scheduler":"rr","iface":"m0",
           "backends":[{"name":"bck1","ip-addr":"192.168.1.11"}]},
          {"name":"old","virtual-addr":"192.168.101.250","virtual-ports":"8080","state":"down","iface":"m0",
           "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
        """;

    private const string Client = "02-AA-00-00-00-01", Bck0 = "02-AA-00-00-00-10", Bck1 = "02-AA-00-00-00-11";
    private static readonly string Lb = EngineOptions.DefaultMac.ToString().Replace(':', '-');

    private static byte[] Tcp(string srcMac, string src, string dst, ushort sport, ushort dport, bool syn, bool ack)
    {
        var tcp = new TcpPacket(sport, dport) { Synchronize = syn, Acknowledgment = ack, SequenceNumber = 1, WindowSize = 1000 };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 64, PayloadPacket = tcp };
        var eth = new EthernetPacket(PhysicalAddress.Parse(srcMac), PhysicalAddress.Parse(Lb), EthernetType.IPv4) { PayloadPacket = ip };
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    private static byte[] Udp(string srcMac, string src, string dst, ushort sport, ushort dport)
    {
        var udp = new UdpPacket(sport, dport) { PayloadData = [1, 2, 3, 4] };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 64, PayloadPacket = udp };
        var eth = new EthernetPacket(PhysicalAddress.Parse(srcMac), PhysicalAddress.Parse(Lb), EthernetType.IPv4) { PayloadPacket = ip };
        udp.UpdateUdpChecksum();
        ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    private static byte[] ClientSyn(ushort sport, ushort dport = 80) => Tcp(Client, "192.168.101.1", "192.168.101.250", sport, dport, true, false);

    private static async Task<ApiFixture> StartAsync(TimeProvider? time = null) => await ApiFixture.StartAsync(Farms, time: time);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) Assert.Fail("timed out waiting for " + what);
            await Task.Delay(10);
        }
    }

    /// <summary>Feeds a frame and waits until the engine has taken it.</summary>
    private static async Task FeedAsync(ApiFixture api, byte[] frame)
    {
        long before = await api.Forwarder.InvokeAsync((e, _) => e.Counters.RxFrames);
        api.Port.Incoming.Add(frame);
        await WaitUntilAsync(async () => await api.Forwarder.InvokeAsync((e, _) => e.Counters.RxFrames) > before, "the frame to be processed");
    }

    /// <summary>Two TCP flows of 192.168.101.1 to web (40000 answered and established, 40001 unreplied) and a UDP flow of .2 to dns.</summary>
    internal static async Task ThreeFlowsAsync(ApiFixture api)
    {
        await FeedAsync(api, ClientSyn(40000));
        await FeedAsync(api, Tcp(Bck0, "192.168.1.10", "192.168.101.250", 80, 40000, true, true));
        await FeedAsync(api, Tcp(Client, "192.168.101.1", "192.168.101.250", 40000, 80, false, true));
        await FeedAsync(api, ClientSyn(40001));
        await FeedAsync(api, Udp(Client, "192.168.101.2", "192.168.101.250", 5353, 53));
    }

    private static async Task<string[]> LinesAsync(ApiFixture api, string path)
    {
        using var res = await api.Http.GetAsync(path);
        string body = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == HttpStatusCode.OK, $"{path}: {(int)res.StatusCode} {body}");
        return body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task GetConntrack_ThreeFlows_ListsConntrackLines()
    {
        await using var api = await StartAsync();
        await ThreeFlowsAsync(api);
        var lines = await LinesAsync(api, "/conntrack");
        Assert.Equal(3, lines.Length);
        Assert.Contains(lines, l => l.StartsWith("tcp      6 431999 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=80 packets=2 bytes=80 src=192.168.1.10 dst=192.168.101.250 sport=80 dport=40000 packets=1 bytes=40 [ASSURED] mark=512 use=1", StringComparison.Ordinal)
            || l.StartsWith("tcp      6 432000 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=80 packets=2 bytes=80 src=192.168.1.10 dst=192.168.101.250 sport=80 dport=40000 packets=1 bytes=40 [ASSURED] mark=512 use=1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" SYN_SENT src=192.168.101.1 dst=192.168.101.250 sport=40001 dport=80 packets=1 bytes=40 [UNREPLIED] src=192.168.1.10 dst=192.168.101.250 sport=80 dport=40001 packets=0 bytes=0 mark=512 use=1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("udp      17 ", StringComparison.Ordinal) && l.Contains("src=192.168.101.2 dst=192.168.101.250 sport=5353 dport=53 packets=1 bytes=32 [UNREPLIED] src=192.168.1.11 dst=192.168.101.2 sport=53 dport=5353 packets=0 bytes=0 mark=513 use=1", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("?proto=udp", 1)]
    [InlineData("?proto=tcp&state=ESTABLISHED", 1)]
    [InlineData("?proto=tcp&state=SYN_SENT&sport=40001", 1)]
    [InlineData("?src=192.168.101.0%2F24&dport=80", 2)]
    [InlineData("?farm=dns", 1)]
    [InlineData("?farm=web&backend=bck0", 2)]
    [InlineData("?backend=bck1", 1)]
    [InlineData("?mark=0x201", 1)]
    [InlineData("?status=ASSURED", 1)]
    [InlineData("?status=UNREPLIED", 2)]
    [InlineData("?reply-dst=192.168.101.2", 1)]
    [InlineData("?farm=nope", 0)]
    public async Task GetConntrack_Filter_OnlyMatchingEntriesAndSameCount(string query, int expected)
    {
        await using var api = await StartAsync();
        await ThreeFlowsAsync(api);
        Assert.Equal(expected, (await LinesAsync(api, "/conntrack" + query)).Length);
        Assert.Equal([expected.ToString()], await LinesAsync(api, "/conntrack/count" + query));
    }

    [Theory]
    [InlineData("/conntrack?dport=abc", "filter dport: \"abc\" is not a port (0-65535)")]
    [InlineData("/conntrack/count?state=OPEN", "filter state: \"OPEN\" is not a TCP state (SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2) or an SCTP state (CLOSED, COOKIE_WAIT, COOKIE_ECHOED, SHUTDOWN_SENT, SHUTDOWN_RECD, SHUTDOWN_ACK_SENT, HEARTBEAT_SENT)")]
    [InlineData("/conntrack?colour=red", "unknown filter \"colour\"")]
    [InlineData("/conntrack/events?events=NEW,OPEN", "filter events: \"NEW,OPEN\": \"OPEN\" is not NEW, UPDATE, DESTROY or ALL")]
    [InlineData("/stats?format=xml", "format \"xml\" is not json or text")]
    public async Task Get_BadFilter_Returns400WithMessage(string path, string message)
    {
        await using var api = await StartAsync();
        using var res = await api.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
        Assert.Equal("error: " + message, doc.RootElement.GetProperty("response").GetString());
    }

    [Fact]
    public async Task DeleteConntrack_Filter_RemovesOnlyThoseAndFlowStartsAgain()
    {
        await using var api = await StartAsync();
        await ThreeFlowsAsync(api);
        using (var res = await api.Http.DeleteAsync("/conntrack?farm=web&state=ESTABLISHED"))
        {
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
            using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
            Assert.Equal(1, doc.RootElement.GetProperty("deleted").GetInt32());
        }
        var lines = await LinesAsync(api, "/conntrack");
        Assert.Equal(2, lines.Length);
        Assert.DoesNotContain(lines, l => l.Contains("sport=40000", StringComparison.Ordinal));
        Assert.Equal(0, await api.Forwarder.InvokeAsync((e, _) => e.Table.Count - 2));
        // The engine's counters follow: bck0 has one active connection left.
        int bck0 = api.Control.Ids.BackendId("web", "bck0");
        Assert.Equal(1, await api.Forwarder.InvokeAsync((e, _) => e.Counters.Backends[bck0].Active));
    }

    [Fact]
    public async Task Events_TcpFlow_StreamsNewUpdateDestroyThenDetaches()
    {
        await using var api = await StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/conntrack/events?farm=web");
        using var res = await api.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        await WaitUntilAsync(async () => await api.Forwarder.InvokeAsync((e, _) => e.Table.Events is not null), "the hub to be attached");
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync());

        await FeedAsync(api, Udp(Client, "192.168.101.2", "192.168.101.250", 5353, 53)); // farm dns: filtered out
        await FeedAsync(api, ClientSyn(40000));
        await FeedAsync(api, Tcp(Bck0, "192.168.1.10", "192.168.101.250", 80, 40000, true, true));
        await FeedAsync(api, Tcp(Client, "192.168.101.1", "192.168.101.250", 40000, 80, false, true));
        using (var del = await api.Http.DeleteAsync("/conntrack?proto=tcp")) Assert.Equal(HttpStatusCode.OK, del.StatusCode);

        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (lines.Count < 4 && await reader.ReadLineAsync(timeout.Token) is { } line) lines.Add(line);
        Assert.Equal(4, lines.Count);
        Assert.StartsWith("    [NEW] tcp      6 120 SYN_SENT src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=80 [UNREPLIED] src=192.168.1.10", lines[0], StringComparison.Ordinal);
        Assert.StartsWith(" [UPDATE] tcp      6 60 SYN_RECV src=192.168.101.1", lines[1], StringComparison.Ordinal);
        Assert.StartsWith(" [UPDATE] tcp      6 432000 ESTABLISHED src=192.168.101.1", lines[2], StringComparison.Ordinal);
        Assert.EndsWith("[ASSURED] mark=512", lines[2], StringComparison.Ordinal);
        Assert.Equal("[DESTROY] tcp      6 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=80 packets=2 bytes=80 src=192.168.1.10 dst=192.168.101.250 sport=80 dport=40000 packets=1 bytes=40 [ASSURED] mark=512", lines[3]);

        reader.Dispose();
        res.Dispose();
        await WaitUntilAsync(async () => await api.Forwarder.InvokeAsync((e, _) => e.Table.Events is null), "the hub to be detached after the client left");
    }

    [Fact]
    public async Task Events_MaskNewOnly_OmitsUpdatesAndDestroys()
    {
        await using var api = await StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/conntrack/events?events=NEW&proto=tcp");
        using var res = await api.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await WaitUntilAsync(async () => await api.Forwarder.InvokeAsync((e, _) => e.Table.Events is not null), "the hub to be attached");
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync());
        await FeedAsync(api, ClientSyn(40000));
        await FeedAsync(api, Tcp(Bck0, "192.168.1.10", "192.168.101.250", 80, 40000, true, true));
        using (var del = await api.Http.DeleteAsync("/conntrack")) Assert.Equal(HttpStatusCode.OK, del.StatusCode);
        await FeedAsync(api, ClientSyn(40001));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.StartsWith("    [NEW] tcp      6 120 SYN_SENT src=192.168.101.1 dst=192.168.101.250 sport=40000 ", await reader.ReadLineAsync(timeout.Token), StringComparison.Ordinal);
        Assert.StartsWith("    [NEW] tcp      6 120 SYN_SENT src=192.168.101.1 dst=192.168.101.250 sport=40001 ", await reader.ReadLineAsync(timeout.Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_AfterTraffic_CountsPerFarmAndBackendWithDropReasons()
    {
        await using var api = await StartAsync();
        await ThreeFlowsAsync(api);
        await FeedAsync(api, ClientSyn(40002, dport: 8080)); // farm old is down
        await FeedAsync(api, ClientSyn(40003, dport: 9999)); // no farm
        using var res = await api.Http.GetAsync("/stats");
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal(3, root.GetProperty("table").GetProperty("entries").GetInt32());
        Assert.Equal(262_144, root.GetProperty("table").GetProperty("max").GetInt32());
        Assert.Equal(3, root.GetProperty("engine").GetProperty("connections").GetInt64());
        var web = root.GetProperty("farms")[0];
        Assert.Equal("web", web.GetProperty("name").GetString());
        Assert.Equal(2, web.GetProperty("active").GetInt64());
        Assert.Equal(4, web.GetProperty("packets").GetInt64());
        var bck0 = web.GetProperty("backends")[0];
        Assert.Equal("none", bck0.GetProperty("health").GetString());
        Assert.Equal(1.0, bck0.GetProperty("share").GetDouble());
        Assert.Equal(2, bck0.GetProperty("connections").GetInt64());
        var old = root.GetProperty("farms")[2];
        Assert.Equal("down", old.GetProperty("state").GetString());
        Assert.Equal("farm_down", old.GetProperty("drop-reasons")[0].GetProperty("reason").GetString());
        Assert.Equal(1, old.GetProperty("drop-reasons")[0].GetProperty("count").GetInt64());
        var drops = root.GetProperty("drops").EnumerateArray().ToDictionary(d => d.GetProperty("reason").GetString()!, d => d.GetProperty("count").GetInt64());
        Assert.Equal(1, drops["no_farm"]);
        Assert.Equal(1, drops["farm_down"]);
        // One worker runs inline on the receive threads, as userlb run does: no queue (ShardedViewsTests has the queues).
        Assert.Equal(0, root.GetProperty("queue").GetProperty("capacity").GetInt32());
        Assert.Equal(1, root.GetProperty("queue").GetProperty("workers").GetInt32());
        Assert.Equal("inline", root.GetProperty("queue").GetProperty("dispatch").GetString());
    }

    [Fact]
    public async Task Metrics_WithoutKey_PrometheusTextOthersStillNeedKey()
    {
        await using var api = await StartAsync();
        await ThreeFlowsAsync(api);
        using var anonymous = new HttpClient { BaseAddress = api.Host.Address };
        using var res = await anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", res.Content.Headers.ContentType?.ToString());
        var lines = (await res.Content.ReadAsStringAsync()).Split('\n');
        Assert.Contains("userlb_backend_connections_total{farm=\"web\",backend=\"bck0\"} 2", lines);
        Assert.Contains("userlb_backend_active_connections{farm=\"dns\",backend=\"bck1\"} 1", lines);
        Assert.Contains("userlb_farm_active_connections{farm=\"web\"} 2", lines);
        Assert.Contains("userlb_conntrack_entries 3", lines);
        Assert.Contains("userlb_drops_total{reason=\"no_farm\"} 0", lines);
        Assert.Contains("userlb_farm_up{farm=\"old\"} 0", lines);
        Assert.Contains("userlb_backend_up{farm=\"old\",backend=\"bck0\"} 0", lines);
        Assert.Contains("# TYPE userlb_farm_connections_total counter", lines);
        Assert.Contains("# TYPE userlb_queue_depth gauge", lines);
        Assert.Contains("# TYPE userlb_gc_collections_total counter", lines);
        Assert.Contains(lines, l => l.StartsWith("userlb_gc_collections_total{generation=\"0\"} ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("userlb_allocated_bytes_total ", StringComparison.Ordinal) && long.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) > 0);
        // Every sample line is NAME{LABELS} VALUE with a family declared before it.
        var declared = new HashSet<string>();
        foreach (var l in lines.Where(l => l.Length > 0))
        {
            if (l.StartsWith("# TYPE ", StringComparison.Ordinal)) declared.Add(l.Split(' ')[2]);
            if (l.StartsWith('#')) continue;
            string name = l.Split('{', ' ')[0];
            Assert.True(declared.Contains(name), $"sample before its TYPE: {l}");
            Assert.True(double.TryParse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture, out _), l);
        }
        using var stats = await anonymous.GetAsync("/stats");
        Assert.Equal(HttpStatusCode.Unauthorized, stats.StatusCode);
    }

    [Fact]
    public async Task Status_Text_OneScreenWithFarmsBackendsAndRates()
    {
        await using var api = await StartAsync();
        await ThreeFlowsAsync(api);
        var lines = await LinesAsync(api, "/status");
        Assert.Matches(@"^userlb: up \d+s, config generation 1, 3 farm\(s\); rates over the last 1\.\d s$", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("traffic  rx 0 pps", StringComparison.Ordinal));
        Assert.Contains("table    3 / 262,144 entries (0.0%)  early drops 0", lines);
        Assert.Contains(lines, l => l.StartsWith("farm web  192.168.101.250 tcp:80  snat rr  up  level 1  active 2  conns 2", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("  bck1     192.168.1.11  up     none    1       100.0%  100.0%  1       1", StringComparison.Ordinal));
        Assert.True(lines.Length < 25, "more than one screen");
        // A second request within 10 s has a reference already: no wait, rates over the time since.
        using var res = await api.Http.GetAsync("/status?format=json");
        using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
        Assert.True(doc.RootElement.GetProperty("rates").GetProperty("seconds").GetDouble() >= 1);
        Assert.Equal(3, doc.RootElement.GetProperty("stats").GetProperty("table").GetProperty("entries").GetInt32());
    }

    // ---- the CLI commands against the running instance -----------------------------------------------

    private static string[] Cli(ApiFixture api, params string[] args) => [.. args, "--api", api.Host.Address.ToString(), "--key", ApiFixture.Key];

    [Fact]
    public async Task ConntrackCommand_ListCountDelete_AgainstInstance()
    {
        await using var api = await StartAsync();
        await ThreeFlowsAsync(api);
        var output = new StringWriter();
        var errors = new StringWriter();
        Assert.Equal(0, await ConntrackCommand.RunAsync(Cli(api, "-L", "-p", "tcp"), output, errors, CancellationToken.None));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("tcp      6 ", l, StringComparison.Ordinal));
        Assert.Equal("userlb conntrack: 2 flow entries have been shown.", errors.ToString().Trim());

        output = new StringWriter();
        Assert.Equal(0, await ConntrackCommand.RunAsync(Cli(api, "-C", "--farm", "web", "--state", "SYN_SENT"), output, new StringWriter(), CancellationToken.None));
        Assert.Equal("1", output.ToString().Trim());

        errors = new StringWriter();
        Assert.Equal(0, await ConntrackCommand.RunAsync(Cli(api, "-D", "--src", "192.168.101.2"), new StringWriter(), errors, CancellationToken.None));
        Assert.Equal("userlb conntrack: 1 flow entries have been deleted.", errors.ToString().Trim());
        Assert.Equal(2, await api.Forwarder.InvokeAsync((e, _) => e.Table.Count));
    }

    [Fact]
    public async Task ConntrackCommand_Events_PrintsUntilCancelled()
    {
        await using var api = await StartAsync();
        var output = new LineWriter();
        using var cts = new CancellationTokenSource();
        var run = ConntrackCommand.RunAsync(Cli(api, "-E", "-e", "NEW,DESTROY"), output, new StringWriter(), cts.Token);
        await WaitUntilAsync(async () => await api.Forwarder.InvokeAsync((e, _) => e.Table.Events is not null), "the hub to be attached");
        await FeedAsync(api, Udp(Client, "192.168.101.2", "192.168.101.250", 5353, 53));
        using (var del = await api.Http.DeleteAsync("/conntrack")) Assert.Equal(HttpStatusCode.OK, del.StatusCode);
        await WaitUntilAsync(() => Task.FromResult(output.Lines.Count >= 2), "two event lines");
        cts.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.StartsWith("    [NEW] udp      17 30 src=192.168.101.2", output.Lines[0], StringComparison.Ordinal);
        Assert.StartsWith("[DESTROY] udp      17 src=192.168.101.2", output.Lines[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "-L", "--dport", "http" }, "conntrack: filter dport: \"http\" is not a port (0-65535)")]
    [InlineData(new[] { "-L", "-s", "10.0.0.300" }, "conntrack: filter src: \"10.0.0.300\" is not an IPv4 or IPv6 address")]
    [InlineData(new[] { "-L", "-D" }, "conntrack: give one of -L, -E, -D, -C")]
    [InlineData(new[] { "-p", "tcp" }, "conntrack: give one of -L, -E, -D, -C (userlb conntrack --help)")]
    [InlineData(new[] { "-L", "-e", "NEW" }, "conntrack: --event-mask goes with -E")]
    [InlineData(new[] { "-L", "--colour", "red" }, "unknown option --colour")]
    public async Task ConntrackCommand_BadInput_UsageErrorBeforeAnyRequest(string[] args, string message)
    {
        // No instance runs at this address: the error must come from the input, not the connection.
        var ex = await Assert.ThrowsAsync<UsageException>(() => ConntrackCommand.RunAsync([.. args, "--api", "127.0.0.1:1"], new StringWriter(), new StringWriter(), CancellationToken.None));
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public async Task StatsAndStatusCommands_AgainstInstance_PrintViews()
    {
        await using var api = await StartAsync();
        await ThreeFlowsAsync(api);
        var output = new StringWriter();
        Assert.Equal(0, await ViewCommands.StatsAsync(Cli(api), output, CancellationToken.None));
        var stats = output.ToString().Split('\n');
        Assert.Contains("table    3 / 262144 entries  early drops 0", stats);
        Assert.Contains(stats, l => l.StartsWith("farm/backend  state  health  active  conns  packets  bytes", StringComparison.Ordinal));
        Assert.Contains(stats, l => l.StartsWith("  bck0        up     none    2       2      4        ", StringComparison.Ordinal));

        output = new StringWriter();
        Assert.Equal(0, await ViewCommands.StatsAsync(Cli(api, "--json"), output, CancellationToken.None));
        using var doc = JsonDocument.Parse(output.ToString());
        Assert.Equal(3, doc.RootElement.GetProperty("farms").GetArrayLength());

        output = new StringWriter();
        Assert.Equal(0, await ViewCommands.StatusAsync(Cli(api), output, CancellationToken.None));
        Assert.Contains(output.ToString().Split('\n'), l => l.StartsWith("farm dns  192.168.101.250 udp:53  dnat rr  up", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Commands_WrongKey_ClearMessage()
    {
        await using var api = await StartAsync();
        var ex = await Assert.ThrowsAsync<InstanceException>(() => ViewCommands.StatusAsync(["--api", api.Host.Address.ToString(), "--key", "nope"], new StringWriter(), CancellationToken.None));
        Assert.Equal($"the instance at {api.Host.Address.GetLeftPart(UriPartial.Authority)} refused the key: give --key KEY or set USERLB_KEY", ex.Message);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("stats")]
    [InlineData("conntrack", "-L")]
    [InlineData("conntrack", "-E")]
    public void Program_NoInstance_OneLineMessageExit1(params string[] args)
    {
        int port = FreePort();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "userlb.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--api");
        psi.ArgumentList.Add($"127.0.0.1:{port}");
        using var p = Process.Start(psi)!;
        string stderr = p.StandardError.ReadToEnd();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(30_000));
        Assert.Equal(1, p.ExitCode);
        Assert.Equal("", stdout);
        Assert.Equal($"userlb: no userlb instance answers at http://127.0.0.1:{port}: connection refused (start one with `userlb run`, or give --api URL)", stderr.TrimEnd('\n'));
    }

    [Theory]
    [InlineData("conntrack")]
    [InlineData("stats")]
    [InlineData("status")]
    public void Program_Help_PrintsUsageExit0(string command)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "userlb.dll"));
        psi.ArgumentList.Add(command);
        psi.ArgumentList.Add("--help");
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(30_000));
        Assert.Equal(0, p.ExitCode);
        Assert.StartsWith($"usage: userlb {command} ", stdout, StringComparison.Ordinal);
        Assert.Contains("--api URL", stdout, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A TextWriter collecting lines, safe to read from another thread.</summary>
    private sealed class LineWriter : TextWriter
    {
        private readonly Lock _lock = new();
        private readonly List<string> _lines = [];
        private readonly System.Text.StringBuilder _current = new();

        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public List<string> Lines
        {
            get
            {
                lock (_lock) return [.. _lines];
            }
        }

        public override void Write(char value)
        {
            lock (_lock)
            {
                if (value == '\n')
                {
                    _lines.Add(_current.ToString());
                    _current.Clear();
                }
                else
                {
                    _current.Append(value);
                }
            }
        }
    }
}
