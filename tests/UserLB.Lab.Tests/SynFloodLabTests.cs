using System.Globalization;
using System.Text.RegularExpressions;
using static UserLB.Lab.Tests.FloodLab;

namespace UserLB.Lab.Tests;

/// <summary>
/// Full-speed SYN floods at the VIP from spoofed sources (<c>hping3 -S --flood --rand-source</c>, as the issue measured;
/// lab/synflood.py at full speed when hping3 is missing) against userlb with its default table, the issue's NAT lab:
/// 1. at a NAT farm (port 90): the flood fills both backends' SNAT port spaces with half-open entries (the backends
///    answer every SYN, so they are SYN_RECV); new connections evict the oldest unassured entry and get in, during the
///    flood and right after it; a long-lived connection keeps its backend and every line is answered, in order (its
///    line may wait for TCP's retransmission while the flood's first seconds fill the receive ring);
/// 2. at a SYN-proxied farm (port 91, "synproxy": "on"): every flood SYN is answered with a cookie and nothing more, so
///    no backend sees one (iptables counts the SYNs each backend receives), and every new connection is served.
/// Each flood lasts <see cref="FloodSeconds"/> s; 20 new connections start during it (one every 0.35 s, 3 s to connect
/// and get their line back) and 20 right after. The flood rate reached is printed with the figures. Asserted: what held
/// in every run on the project's 2-vCPU machine with a margin (perf/RESULTS.md has the runs): at the NAT farm all 20
/// after the flood (19 required) and 16 of 20 during it (the issue's 90 %, 18, was met in every run, with no margin:
/// the few failures come in the flood's first seconds); at the SYN proxy all 40 and no flood SYN at a backend.
/// </summary>
[Collection("lab")]
public partial class SynFloodLabTests
{
    private const int FloodSeconds = 8;
    private const int NewConnections = 20;
    private const int NatPort = 90, ProxyPort = 91;

    public sealed record Run(Flood Nat, Flood Proxy, List<(string Text, string? Reply, string? Error)> LongLived, long[] BackendProxySyns,
        string Status, string Log)
    {
        public string Describe() =>
            $"NAT farm (port {NatPort}):\n{Nat.Describe()}\nSYN-proxied farm (port {ProxyPort}):\n{Proxy.Describe()}\n" +
            $"  SYNs the backends received on port {ProxyPort}: {string.Join(", ", BackendProxySyns)}\n" +
            $"long-lived: {LongLived.Count} lines, {LongLived.Count(x => x.Error is not null)} failed: {string.Join("; ", LongLived.Where(x => x.Error is not null).Select(x => x.Error).Take(5))}\n" +
            $"--- status:\n{string.Join('\n', Status.Split('\n').Where(l => l.StartsWith('#')))}\n--- userlb:\n{Log}";
    }

    private static readonly Lazy<Run?> Scenario = new(Play);

    private static string Farms() =>
        $$"""
        {"farms":[{"name":"nat","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"{{NatPort}}","protocol":"tcp","mode":"snat","scheduler":"weight",{{LiveLab.IfacesOf("afpacket")}},
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]},
         {"name":"proxied","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"{{ProxyPort}}","protocol":"tcp","mode":"snat","scheduler":"weight","synproxy":"on",{{LiveLab.IfacesOf("afpacket")}},
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private static Run? Play()
    {
        LiveLab.SkipUnlessRoot(); // a skip inside a Lazy is cached and rethrown: every test reports skipped
        using var lab = new LabSession("rbf");
        foreach (var (ns, name) in new[] { ("b0", "bck0"), ("b1", "bck1") })
            lab.Start(ns, $"python3 lab/stream.py server {name} {NatPort},{ProxyPort}");
        foreach (var b in new[] { "b0", "b1" })
        {
            lab.Exec(b, $"bash -c 'for i in $(seq 50); do ss -ltn | grep -q \":{ProxyPort} \" && exit 0; sleep 0.1; done; exit 1'");
            lab.Exec(b, $"iptables -I INPUT -p tcp --syn --dport {ProxyPort}"); // counts the SYNs this backend receives there
        }
        string status = Path.Combine(lab.Work, "status");
        var u = lab.StartUserlb(Farms(), $"--status-file {status}", engine: "afpacket");

        var longLived = new LabSession.StreamClient(lab, LiveLab.Vip, NatPort);
        var exchanges = new List<(string, string?, string?)>();
        void Exchange(string text)
        {
            var (reply, error) = longLived.Send(text, 15);
            exchanges.Add((text, reply, error));
        }
        Exchange("before");
        var nat = FloodAt(lab, NatPort, Exchange);
        var proxy = FloodAt(lab, ProxyPort, Exchange);
        Exchange("after");
        Thread.Sleep(1200); // one status period
        string statusText = File.Exists(status) ? File.ReadAllText(status) : "";
        var syns = new long[2];
        for (int i = 0; i < 2; i++)
        {
            // "pkts bytes target prot …": no target, protocol tcp (or 6, as iptables-nft lists it).
            var m = Regex.Match(lab.Exec("b" + i.ToString(CultureInfo.InvariantCulture), "iptables -L INPUT -v -x -n"), @"^\s*(\d+)\s+\d+\s+(?:tcp|6)\s.*dpt:" + ProxyPort, RegexOptions.Multiline);
            syns[i] = m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
        }
        u.Terminate();
        return new Run(nat, proxy, exchanges, syns, statusText, u.Log);
    }

    /// <summary>Floods VIP:<paramref name="port"/> with SYNs from spoofed sources for <see cref="FloodSeconds"/> s
    /// (hping3, or lab/synflood.py when hping3 is missing) while the long-lived connection sends a line every 200 ms.</summary>
    private static Flood FloodAt(LabSession lab, int port, Action<string> exchange)
    {
        bool hping = FloodLab.HasHping3;
        return FloodLab.Run(lab, port, FloodSeconds, NewConnections,
            hping ? "hping3 -S --flood --rand-source" : "lab/synflood.py at full speed (hping3 missing)",
            hping ? $"timeout -s INT {FloodSeconds} hping3 -S --flood --rand-source -p {port} {LiveLab.Vip}"
                  : $"python3 lab/synflood.py {LiveLab.Vip} {port} {FloodSeconds}",
            exchange);
    }

    [SkippableFact]
    public void SynFlood_LongLivedConnection_EveryLineAnsweredInOrderBySameBackend()
    {
        if (Scenario.Value is not { } run) return;
        Assert.True(run.LongLived.Count >= 20, run.Describe());
        Assert.True(run.LongLived.All(x => x.Error is null), run.Describe());
        string backend = run.LongLived[0].Reply!.Split(' ')[0];
        foreach (var (text, reply, _) in run.LongLived)
        {
            Assert.EndsWith(" " + text, reply, StringComparison.Ordinal);
            Assert.StartsWith(backend + " ", reply, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public void SynFlood_NatFarm_FourFifthsServedDuringAndNineteenOfTwentyAfter()
    {
        if (Scenario.Value is not { } run) return;
        Console.WriteLine(run.Describe());
        Assert.True(run.Nat.Pps > 0, run.Describe());
        Assert.True(run.Nat.Served(run.Nat.During) >= NewConnections * 4 / 5, run.Describe());
        Assert.True(run.Nat.Served(run.Nat.After) >= NewConnections - 1, run.Describe());
        Assert.DoesNotContain("# drop table_full", run.Status, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void SynFlood_SynProxiedFarm_EveryConnectionServedAndNoFloodSynReachesABackend()
    {
        if (Scenario.Value is not { } run) return;
        Assert.True(run.Proxy.Pps > 0, run.Describe());
        // ≥ 99 % of the 40 connections: all of them.
        Assert.True(run.Proxy.Served(run.Proxy.During) + run.Proxy.Served(run.Proxy.After) == 2 * NewConnections, run.Describe());
        // The proxy sends a backend one SYN per valid cookie (and again on a client's probe); the backends received at
        // least one per connection served and at most those: none of the flood's, which the proxy answered itself.
        Assert.True(run.BackendProxySyns.All(n => n >= 0), run.Describe());
        long valid = FloodLab.Field(run.Status, "cookies_valid");
        Assert.InRange(run.BackendProxySyns.Sum(), 2 * NewConnections, valid);
        Assert.True(valid <= 4 * NewConnections, run.Describe());
        Assert.True(FloodLab.Field(run.Status, "syns") > 100 * valid, run.Describe());
    }
}
