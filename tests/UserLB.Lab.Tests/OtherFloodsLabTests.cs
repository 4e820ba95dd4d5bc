namespace UserLB.Lab.Tests;

/// <summary>
/// The floods other than SYN at full speed from spoofed sources (hping3 --flood --rand-source), each for
/// <see cref="FloodSeconds"/> s at a NAT farm for TCP and UDP: ACK, RST, UDP and ICMP echo. During each, a long-lived
/// connection sends a line every 200 ms and 20 new connections are tried; 20 more right after. Asserted: every line of
/// the long-lived connection answered, ≥ 16 of 20 new connections served during each flood and ≥ 19 of 20 after, the
/// table within its size (no table_full drop), and the counter that shows each flood (docs/robustness.md) moved.
/// </summary>
[Collection("lab")]
public class OtherFloodsLabTests
{
    private const int FloodSeconds = 4;
    private const int NewConnections = 20;
    private const int Port = 90;

    /// <summary>(name, hping3 options, the status file's field that counts it).</summary>
    public static TheoryData<string, string, string> Kinds() => new()
    {
        { "ack", $"-A -p {Port}", "tcp_loose_under_pressure|connections" },
        { "rst", $"-R -p {Port}", "tcp_no_syn_for_new_flow" },
        { "udp", $"--udp -p {Port}", "early_drops|connections" },
        { "icmp", "--icmp", "icmp_rate_limited" },
    };

    private sealed record Result(Flood Flood, string StatusBefore, string StatusAfter);

    private sealed record Scenario(Dictionary<string, Result> Floods, List<(string Text, string? Reply, string? Error)> LongLived, string Log);

    private static readonly Lazy<Scenario?> Played = new(Play);

    private static Scenario? Play()
    {
        LiveLab.SkipUnlessRoot();
        if (!FloodLab.HasHping3) return null;
        using var lab = new LabSession("rof");
        foreach (var (ns, name) in new[] { ("b0", "bck0"), ("b1", "bck1") })
            lab.Start(ns, $"python3 lab/stream.py server {name} {Port}");
        string status = Path.Combine(lab.Work, "status");
        string farms = $$"""
            {"farms":[{"name":"nat","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"{{Port}}","protocol":"all","mode":"snat","scheduler":"weight",{{LiveLab.IfacesOf("afpacket")}},
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
            """;
        var u = lab.StartUserlb(farms, $"--status-file {status}", engine: "afpacket");
        var longLived = new LabSession.StreamClient(lab, LiveLab.Vip, Port);
        var exchanges = new List<(string, string?, string?)>();
        void Exchange(string text)
        {
            var (reply, error) = longLived.Send(text, 15);
            exchanges.Add((text, reply, error));
        }
        string Status()
        {
            Thread.Sleep(1200); // one status period
            return File.Exists(status) ? File.ReadAllText(status) : "";
        }
        Exchange("before");
        var results = new Dictionary<string, Result>();
        foreach (var row in Kinds())
        {
            string kind = (string)row[0], options = (string)row[1];
            string before = Status();
            var flood = FloodLab.Run(lab, Port, FloodSeconds, NewConnections, $"hping3 {options} --flood --rand-source",
                $"timeout -s INT {FloodSeconds} hping3 {options} --flood --rand-source {LiveLab.Vip}", t => Exchange(kind + "-" + t));
            results[kind] = new Result(flood, before, Status());
        }
        Exchange("after");
        u.Terminate();
        return new Scenario(results, exchanges, u.Log);
    }

    private static string Describe(Scenario s, string kind) =>
        $"{kind}: {s.Floods[kind].Flood.Describe()}\n--- status after:\n{string.Join('\n', s.Floods[kind].StatusAfter.Split('\n').Where(l => l.StartsWith('#')))}\n--- userlb:\n{s.Log}";

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public void Flood_FromSpoofedSources_ServedDuringAndAfterTableBoundedAndCounted(string kind, string options, string counters)
    {
        Assert.NotEmpty(options);
        var s = Played.Value;
        Skip.If(s is null, "hping3 is not installed (./run-tests.sh installs it)");
        var r = s.Floods[kind];
        Console.WriteLine(Describe(s, kind));
        Assert.True(r.Flood.Pps > 0, Describe(s, kind));
        Assert.True(r.Flood.Served(r.Flood.During) >= NewConnections * 4 / 5, Describe(s, kind));
        Assert.True(r.Flood.Served(r.Flood.After) >= NewConnections - 1, Describe(s, kind));
        Assert.DoesNotContain("# drop table_full", r.StatusAfter, StringComparison.Ordinal);
        // The counter that shows the flood grew by at least a tenth of the flood's packets (hping3's count).
        long grew = 0;
        foreach (var name in counters.Split('|'))
            grew += Math.Max(0, FloodLab.Field(r.StatusAfter, name)) - Math.Max(0, FloodLab.Field(r.StatusBefore, name));
        Assert.True(grew >= (long)(r.Flood.Pps * FloodSeconds / 10), $"{counters} grew by {grew}\n{Describe(s, kind)}");
    }

    [SkippableFact]
    public void Floods_LongLivedConnection_EveryLineAnsweredBySameBackend()
    {
        var s = Played.Value;
        Skip.If(s is null, "hping3 is not installed (./run-tests.sh installs it)");
        Assert.True(s.LongLived.Count >= 4 * 10, string.Join('\n', s.LongLived.Take(5)));
        Assert.True(s.LongLived.All(x => x.Error is null), string.Join("; ", s.LongLived.Where(x => x.Error is not null).Take(5)) + "\n" + s.Log);
        string backend = s.LongLived[0].Reply!.Split(' ')[0];
        Assert.All(s.LongLived, x => Assert.StartsWith(backend + " ", x.Reply, StringComparison.Ordinal));
    }
}
