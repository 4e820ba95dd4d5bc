using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace UserLB.Lab.Tests;

/// <summary>
/// The control API and health checks of a real <c>userlb run</c> (pcap engine) in a lab (namespaces ap*): while the
/// client makes connections, bck1 is set down through the API (curl in the LB namespace, on the default 127.0.0.1:5555)
/// and new connections avoid it; then it is set up again, its server is killed, and the TCP health check (from the LB
/// namespace's kernel) marks it down. Needs root; otherwise each test reports itself skipped with the reason.
/// </summary>
[Collection("lab")]
public class ApiLabTests
{
    private const string Prefix = "ap";
    private const string Key = "lab-key";
    private static readonly Lazy<Observed> Lab = new(RunLab);

    private sealed record Probe(int Ok, int Fail, int Bck0, int Bck1, string Raw);

    private sealed record Observed(Probe Before, Probe During, Probe AfterDown, string DownReply, string HealthView, Probe AfterHealthDown, string Log);

    private static Observed? Get()
    {
        LiveLab.SkipUnlessRoot(); // a skip inside a Lazy is cached and rethrown: every test reports skipped
        return Lab.Value;
    }

    [SkippableFact]
    public void SetBackendDownViaApi_WhileTrafficFlows_NoFailuresAndNewConnectionsAvoidIt()
    {
        if (Get() is not { } lab) return;
        string all = $"before: {lab.Before.Raw}\nduring: {lab.During.Raw}\nafter: {lab.AfterDown.Raw}\nreply: {lab.DownReply}\n--- log:\n{lab.Log}";
        Assert.True(lab.Before.Ok == 20 && lab.Before.Bck0 > 0 && lab.Before.Bck1 > 0, all);
        Assert.True(lab.DownReply.Contains("\"success\"", StringComparison.Ordinal) && lab.DownReply.EndsWith("200", StringComparison.Ordinal), all);
        Assert.True(lab.During.Ok == 100 && lab.During.Fail == 0, all);
        Assert.True(lab.AfterDown.Ok == 30 && lab.AfterDown.Bck1 == 0, all);
    }

    [SkippableFact]
    public void HealthCheck_BackendServerKilled_MarkedDownAndNewConnectionsAvoidIt()
    {
        if (Get() is not { } lab) return;
        string all = $"view: {lab.HealthView}\nafter: {lab.AfterHealthDown.Raw}\n--- log:\n{lab.Log}";
        Assert.Contains("\"health\": \"down\"", lab.HealthView, StringComparison.Ordinal);
        Assert.True(lab.AfterHealthDown.Ok == 30 && lab.AfterHealthDown.Bck1 == 0, all);
        Assert.Contains("health: farm app backend bck1 is DOWN", lab.Log, StringComparison.Ordinal);
    }

    private static Observed RunLab()
    {
        using var labLock = LiveLab.LockPrefix(Prefix); // other test runs on this host use the same namespace names
        string root = LiveLab.RepoRoot();
        string work = Directory.CreateTempSubdirectory("userlb-apilab-").FullName;
        int pid = 0;
        try
        {
            LiveLab.Sh(root, $"lab/topo.sh up {Prefix} veth {work}", 60);
            pid = LiveLab.StartUserlb(Prefix, work, $$"""
                {"farms":[{"name":"app","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"80","mode":"snat","scheduler":"weight",{{LiveLab.IfacesOf("pcap")}},
                  "health-check":{"type":"tcp","interval":"0.3","fall":"2","rise":"1"},
                  "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
                """, "pcap", $"--key {Key}", startSeconds: 20);
            string log = Path.Combine(work, "userlb.log");
            var sw = Stopwatch.StartNew();
            var before = ProbeNow(root, 20);

            // Connections keep coming while the change lands.
            string during = Path.Combine(work, "during.json");
            int bg = int.Parse(LiveLab.Sh(root, $"ip netns exec {Prefix}c python3 lab/probe.py {LiveLab.Vip} tcp:80:100 >{during} 2>&1 & echo $!", 10).Trim(), CultureInfo.InvariantCulture);
            Thread.Sleep(300);
            string downReply = Api(root, "POST", "/farms", """{"farms":[{"name":"app","backends":[{"name":"bck1","state":"down"}]}]}""");
            using (var p = TryProcess(bg)) p?.WaitForExit(120_000);
            var duringProbe = Parse(File.ReadAllText(during));
            var afterDown = ProbeNow(root, 30);

            // Up again, then its server dies: the health check (TCP, every 0.3 s, down after 2 failures) takes it out.
            Api(root, "POST", "/farms", """{"farms":[{"name":"app","backends":[{"name":"bck1","state":"up"}]}]}""");
            LiveLab.Sh(root, $"for p in $(ip netns pids {Prefix}b1); do kill $p; done", 10, check: false);
            string view = "";
            sw.Restart();
            while (sw.Elapsed < TimeSpan.FromSeconds(15))
            {
                view = Api(root, "GET", "/farms/app", null);
                if (view.Contains("\"health\": \"down\"", StringComparison.Ordinal)) break;
                Thread.Sleep(200);
            }
            var afterHealth = ProbeNow(root, 30);
            return new Observed(before, duringProbe, afterDown, downReply, view, afterHealth, File.ReadAllText(log));
        }
        finally
        {
            if (pid != 0)
            {
                using var p = TryProcess(pid);
                p?.Kill();
                p?.WaitForExit(5000);
            }
            LiveLab.Sh(root, $"lab/topo.sh down {Prefix}", 60, check: false);
            Directory.Delete(work, true);
        }
    }

    private static Process? TryProcess(int pid)
    {
        try
        {
            return Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>curl in the LB namespace; returns the body followed by the HTTP status.</summary>
    private static string Api(string root, string method, string path, string? body)
    {
        string data = body is null ? "" : $" -H 'Content-Type: application/json' --data '{body}'";
        return LiveLab.Sh(root, $"ip netns exec {Prefix}lb curl -s -m 5 -X {method} -H 'Key: {Key}'{data} -w '%{{http_code}}' http://127.0.0.1:5555{path}", 15);
    }

    private static Probe ProbeNow(string root, int n) =>
        Parse(LiveLab.Sh(root, $"ip netns exec {Prefix}c python3 lab/probe.py {LiveLab.Vip} tcp:80:{n}", 120));

    private static Probe Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement.EnumerateObject().First().Value;
        int bck0 = 0, bck1 = 0;
        foreach (var by in r.GetProperty("by").EnumerateObject())
        {
            if (by.Name.StartsWith("bck0 ", StringComparison.Ordinal)) bck0 += by.Value.GetInt32();
            if (by.Name.StartsWith("bck1 ", StringComparison.Ordinal)) bck1 += by.Value.GetInt32();
        }
        return new Probe(r.GetProperty("ok").GetInt32(), r.GetProperty("fail").GetInt32(), bck0, bck1, json.Trim());
    }
}
