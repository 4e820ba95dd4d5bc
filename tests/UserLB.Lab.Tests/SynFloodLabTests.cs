using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace UserLB.Lab.Tests;

/// <summary>
/// A SYN flood at the VIP from spoofed sources (lab/synflood.py, raw socket in the client namespace, 8 s at 2,000 a
/// second = 16,000 sources) against userlb with a small table (--max-conns 256), while the client keeps a long-lived
/// connection busy and keeps opening new ones. The stated policy (nf_conntrack's): when the table is full a new
/// connection evicts an entry that is not ASSURED (early drop); ASSURED entries are never evicted. So the flood's
/// half-open entries evict each other; the long-lived connection is untouched; new connections get in (a handshake
/// whose half-open entry is evicted before it completes is retried by the client's SYN retransmission, 1 s later).
/// </summary>
[Collection("lab")]
public partial class SynFloodLabTests
{
    private const int FloodSeconds = 8;
    private const int FloodRate = 2_000;
    private const int NewConnections = 20;
    private const int MaxConns = 256;

    public sealed record Run(List<(string Text, string? Reply, string? Error)> LongLived, List<(double Seconds, string? Error)> NewConnections,
        string FloodOutput, string Status, string Log)
    {
        public string Describe() =>
            $"long-lived: {LongLived.Count} sent, {LongLived.Count(x => x.Error is not null)} failed: {string.Join("; ", LongLived.Where(x => x.Error is not null).Select(x => x.Error).Take(5))}\n" +
            $"new: {NewConnections.Count}, failed {NewConnections.Count(x => x.Error is not null)}, times [{string.Join(" ", NewConnections.Select(x => x.Seconds.ToString("F2", CultureInfo.InvariantCulture)))}]\n" +
            $"flood: {FloodOutput}\n--- status:\n{string.Join('\n', Status.Split('\n').Where(l => l.StartsWith('#')))}\n--- userlb:\n{Log}";
    }

    private static readonly Lazy<Run?> Scenario = new(Play);

    private static string Farms() =>
        $$"""
        {"farms":[{"name":"echo","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"90","protocol":"tcp","mode":"snat","scheduler":"weight",{{LiveLab.IfacesOf("pcap")}},
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private static Run? Play()
    {
        LiveLab.SkipUnlessRoot(); // a skip inside a Lazy is cached and rethrown: every test reports skipped
        using var lab = new LabSession("rbf");
        lab.Start("b0", "python3 lab/stream.py server bck0 90");
        lab.Start("b1", "python3 lab/stream.py server bck1 90");
        foreach (var b in new[] { "b0", "b1" })
            lab.Exec(b, "bash -c 'for i in $(seq 50); do ss -ltn | grep -q \":90 \" && exit 0; sleep 0.1; done; exit 1'");
        string status = Path.Combine(lab.Work, "status");
        var u = lab.StartUserlb(Farms(), $"--max-conns {MaxConns} --status-file {status}");

        var longLived = new LabSession.StreamClient(lab, LiveLab.Vip, 90);
        var exchanges = new List<(string, string?, string?)>();
        void Exchange(string text)
        {
            var (reply, error) = longLived.Send(text, 5);
            exchanges.Add((text, reply, error));
        }
        Exchange("before");

        var floodOut = new StringBuilder();
        var connectOut = new StringBuilder();
        var flood = lab.Start("c", $"python3 lab/synflood.py {LiveLab.Vip} 90 {FloodSeconds} {FloodRate}", floodOut);
        Thread.Sleep(500); // the table is full within a fraction of a second
        var connects = lab.Start("c", $"python3 lab/stream.py connect {LiveLab.Vip} 90 {NewConnections} 0.35 10", connectOut);
        int n = 0;
        var sw = Stopwatch.StartNew();
        while (!flood.HasExited && sw.Elapsed < TimeSpan.FromSeconds(FloodSeconds + 20))
        {
            Exchange("during-" + n++.ToString(CultureInfo.InvariantCulture));
            Thread.Sleep(200);
        }
        flood.WaitForExit(10_000);
        connects.WaitForExit(60_000);
        Exchange("after");
        Thread.Sleep(1200); // one status period
        string statusText = File.Exists(status) ? File.ReadAllText(status) : "";
        u.Terminate();
        flood.WaitForExit();
        connects.WaitForExit();
        var fresh = new List<(double, string?)>();
        lock (connectOut)
        {
            string json = connectOut.ToString().Trim();
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(json);
                foreach (var r in doc.RootElement.GetProperty("results").EnumerateArray())
                {
                    string? reply = r[1].GetString(), error = r[2].GetString();
                    fresh.Add((r[0].GetDouble(), reply is not null && reply.EndsWith(" new-" + fresh.Count.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal) ? null : error ?? "bad reply " + reply));
                }
            }
            catch (System.Text.Json.JsonException)
            {
                fresh.Add((0, "stream.py connect printed: " + json));
            }
        }
        lock (floodOut) return new Run(exchanges, fresh, floodOut.ToString().Trim(), statusText, u.Log);
    }

    private static long Field(string status, string name)
    {
        var m = Regex.Match(status, @"\b" + Regex.Escape(name) + @"=(\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }

    [SkippableFact]
    public void SynFlood_LongLivedConnection_EveryLineAnsweredInOrderBySameBackend()
    {
        if (Scenario.Value is not { } run) return;
        Assert.True(run.LongLived.Count >= 10, run.Describe());
        Assert.True(run.LongLived.All(x => x.Error is null), run.Describe());
        string backend = run.LongLived[0].Reply!.Split(' ')[0];
        foreach (var (text, reply, _) in run.LongLived)
        {
            Assert.EndsWith(" " + text, reply, StringComparison.Ordinal);
            Assert.StartsWith(backend + " ", reply, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public void SynFlood_TableFull_HalfOpenEntriesEarlyDroppedAndNewConnectionsStillServed()
    {
        if (Scenario.Value is not { } run) return;
        Assert.Contains("\"sent\"", run.FloodOutput, StringComparison.Ordinal);
        // The flood filled the table and kept evicting its own half-open entries; nothing was refused as table full.
        Assert.Equal(MaxConns, Field(run.Status, "active"));
        Assert.True(Field(run.Status, "early_drops") > 10 * MaxConns, run.Describe());
        Assert.DoesNotContain("# drop table_full", run.Status, StringComparison.Ordinal);
        // Every new connection was served (some after a SYN retransmission when the flood evicted its half-open entry).
        Assert.True(run.NewConnections.Count == NewConnections, run.Describe());
        Assert.True(run.NewConnections.All(x => x.Error is null), run.Describe());
        Console.WriteLine(run.Describe());
    }
}
