using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace UserLB.Lab.Tests;

/// <summary>
/// userlb run as the systemd unit (dist/userlb.service) runs it, in a lab (namespaces svc*): user nobody with
/// CAP_NET_RAW alone (setpriv, as AmbientCapabilities= gives it), the afpacket engine, the API on an unprivileged
/// port, readiness reported to a NOTIFY_SOCKET the test binds in systemd's place. One scenario:
///   1. start; READY=1; a held TCP connection to farm "kept" (port 90) exchanges a line; farm "web" (port 80) answers.
///   2. the file rewritten without "web", SIGHUP: RELOADING=1, READY=1; "web" no longer answers, the held connection
///      keeps its backend and NAT port.
///   3. the file rewritten with an error, SIGHUP: nothing changes, the log says why.
///   4. SIGTERM: STOPPING=1, exit status 0.
/// </summary>
[Collection("lab")]
public class ServiceLabTests
{
    private const string Prefix = "svc";
    private const string Key = "svc-key";
    private const string Api = "127.0.0.1:5580";

    public sealed record Run(
        string[] Notifications, string Status, string Readable, (string? Reply, string? Error)[] Held,
        string WebBefore, string WebAfter, string FarmsAfterBadFile, int ExitCode, string Log)
    {
        public string Describe() =>
            $"notifications: {string.Join(" | ", Notifications).Replace("\n", "\\n", StringComparison.Ordinal)}\nstatus:\n{Status}\nheld: " +
            string.Join(", ", Held.Select(h => h.Reply ?? "ERROR " + h.Error)) + $"\nweb before: {WebBefore}\nweb after: {WebAfter}\n--- log:\n{Log}";
    }

    private static readonly Lazy<Run?> Scenario = new(Play);

    private static string Farms(bool withWeb, bool broken = false)
    {
        string io = LiveLab.IfacesOf("afpacket");
        const string backends = "\"backends\":[{\"name\":\"bck0\",\"ip-addr\":\"192.168.1.10\"},{\"name\":\"bck1\",\"ip-addr\":\"192.168.1.11\"}]";
        string kept = $$"""{"name":"kept","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"90","mode":"snat","scheduler":"weight",{{io}},{{backends}}}""";
        string web = $$"""{"name":"web","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"80","mode":"snat","scheduler":"rr",{{io}},{{backends}}}""";
        return broken ? $$"""{"farms":[{{kept}},{"name":"web","virtual-addr":"{{LiveLab.Vip}}","mode":"sideways"}]}"""
            : $$"""{"farms":[{{kept}}{{(withWeb ? "," + web : "")}}]}""";
    }

    private static Run? Play()
    {
        LiveLab.SkipUnlessRoot(); // a skip inside a Lazy is cached and rethrown: every test reports skipped
        using var lab = new LabSession(Prefix);
        LiveLab.Sh("/", $"chmod 755 {lab.Work}", 10); // nobody reads the farms file and reaches the notify socket
        lab.Start("b0", "python3 lab/stream.py server bck0 90");
        lab.Start("b1", "python3 lab/stream.py server bck1 90");
        foreach (var b in new[] { "b0", "b1" })
            lab.Exec(b, "bash -c 'for i in $(seq 50); do ss -ltn | grep -q \":90 \" && exit 0; sleep 0.1; done; exit 1'");
        string farms = Path.Combine(lab.Work, "farms.json");
        File.WriteAllText(farms, Farms(withWeb: true));
        string notifyPath = Path.Combine(lab.Work, "notify");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 30_000 };
        systemd.Bind(new UnixDomainSocketEndPoint(notifyPath));
        LiveLab.Sh("/", $"chmod 666 {notifyPath}", 10); // as systemd's

        string dll = Path.Combine(AppContext.BaseDirectory, "userlb.dll");
        string asNobody = "setpriv --reuid=nobody --regid=nogroup --init-groups --inh-caps=+net_raw --ambient-caps=+net_raw";
        string readable = LiveLab.Sh("/", $"{asNobody} bash -c 'test -r {dll} && test -r {farms} && echo readable || echo NOT readable'", 10).Trim();
        var log = new StringBuilder();
        var process = lab.Start("lb", $"{asNobody} env HOME={lab.Work} NOTIFY_SOCKET={notifyPath} dotnet {dll} run --config {farms} --engine afpacket --api {Api} --key {Key}", log);
        var userlb = new LabSession.Userlb(process, log);
        var notifications = new List<string> { Receive(systemd) };
        userlb.WaitFor("forwarding with", TimeSpan.FromSeconds(30));
        string status = File.ReadAllText($"/proc/{process.Id.ToString(CultureInfo.InvariantCulture)}/status");

        var held = new LabSession.StreamClient(lab, LiveLab.Vip, 90);
        var replies = new List<(string?, string?)> { held.Send("one") };
        string webBefore = Curl(lab);

        File.WriteAllText(farms, Farms(withWeb: false));
        Hup(process.Id);
        notifications.Add(Receive(systemd));
        notifications.Add(Receive(systemd));
        userlb.WaitFor("SIGHUP: reloaded", TimeSpan.FromSeconds(10));
        replies.Add(held.Send("two"));
        string webAfter = Curl(lab);

        File.WriteAllText(farms, Farms(withWeb: true, broken: true));
        Hup(process.Id);
        notifications.Add(Receive(systemd));
        notifications.Add(Receive(systemd));
        userlb.WaitFor("not reloaded", TimeSpan.FromSeconds(10));
        replies.Add(held.Send("three"));
        string farmsAfterBad = lab.Exec("lb", $"curl -s -H 'Key: {Key}' http://{Api}/farms");

        int code = userlb.Terminate();
        notifications.Add(Receive(systemd));
        return new Run([.. notifications], status, readable, [.. replies], webBefore, webAfter, farmsAfterBad, code, userlb.Log);
    }

    private static string Receive(Socket s)
    {
        var buffer = new byte[4096];
        try
        {
            return Encoding.UTF8.GetString(buffer, 0, s.Receive(buffer));
        }
        catch (SocketException ex)
        {
            return "(nothing: " + ex.SocketErrorCode + ")";
        }
    }

    private static void Hup(int pid) => LiveLab.Sh("/", $"kill -HUP {pid.ToString(CultureInfo.InvariantCulture)}", 10);

    /// <summary>One HTTP request to farm "web" from the client: the backend's first line, or curl's failure.</summary>
    private static string Curl(LabSession lab) =>
        LiveLab.Sh(lab.Root, $"ip netns exec {Prefix}c curl -s -m 2 http://{LiveLab.Vip}/ | head -1; echo \"curl ${{PIPESTATUS[0]}}\"", 20).Trim();

    [SkippableFact]
    public void Service_AsNobodyWithNetRawOnly_Forwards()
    {
        if (Scenario.Value is not { } run) return;
        Assert.True(run.Readable == "readable", $"the test's userlb.dll or farms file is not readable by nobody: {run.Readable}");
        Assert.Matches(@"Uid:\s+65534\s", run.Status);
        Assert.Matches(@"CapEff:\s+0000000000002000\s", run.Status); // CAP_NET_RAW (13) and nothing else
        Assert.True(run.Held[0].Reply is not null, run.Describe());
        Assert.Contains(" saw ", run.WebBefore, StringComparison.Ordinal);
        Assert.EndsWith("curl 0", run.WebBefore, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Sighup_FarmDroppedFromFile_RemovedWhileTheHeldConnectionKeepsItsBackend()
    {
        if (Scenario.Value is not { } run) return;
        Assert.DoesNotContain(" saw ", run.WebAfter, StringComparison.Ordinal);
        Assert.False(run.WebAfter.EndsWith("curl 0", StringComparison.Ordinal), run.Describe());
        var first = run.Held[0].Reply!.Split(' ');
        foreach (var (reply, error) in run.Held.Skip(1))
        {
            Assert.True(reply is not null, error + "\n" + run.Describe());
            var parts = reply.Split(' ');
            Assert.Equal(first[..3], parts[..3]); // backend, and the peer address and port it saw (NAT port kept)
        }
        Assert.Contains("SIGHUP: reloaded", run.Log, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Sighup_BadFile_ChangesNothingAndTheLogSaysWhy()
    {
        if (Scenario.Value is not { } run) return;
        Assert.Contains("not reloaded, nothing changed: farm \"web\", key \"mode\"", run.Log, StringComparison.Ordinal);
        Assert.Contains("\"name\": \"kept\"", run.FarmsAfterBadFile, StringComparison.Ordinal);
        Assert.DoesNotContain("\"web\"", run.FarmsAfterBadFile, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SdNotify_ReadyReloadingStopping_AsSystemdExpects()
    {
        if (Scenario.Value is not { } run) return;
        var n = run.Notifications;
        Assert.True(n.Length == 6, run.Describe());
        Assert.StartsWith("READY=1\nSTATUS=forwarding on lbc, lbs", n[0], StringComparison.Ordinal);
        Assert.StartsWith("RELOADING=1\nMONOTONIC_USEC=", n[1], StringComparison.Ordinal);
        Assert.StartsWith("READY=1\n", n[2], StringComparison.Ordinal);
        Assert.StartsWith("RELOADING=1\n", n[3], StringComparison.Ordinal);
        Assert.StartsWith("READY=1\n", n[4], StringComparison.Ordinal);
        Assert.Equal("STOPPING=1", n[5]);
        Assert.Equal(0, run.ExitCode);
    }
}
