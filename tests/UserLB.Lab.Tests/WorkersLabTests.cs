namespace UserLB.Lab.Tests;

/// <summary>
/// <c>userlb run --workers 2</c> on real interfaces (namespaces lvw*): the farms and probes of <see cref="LiveLabTests"/>
/// plus a persistence farm, through two engines sharded by <see cref="UserLB.Engine.FlowShard"/>. Both directions of
/// every flow must meet on one worker (else replies would be dropped as untracked), and what the engines share
/// (persistence by source address) must hold across them.
/// </summary>
[Collection("lab")]
public class WorkersLabTests
{
    private const string Sticky = "tcp:84:40";
    private static readonly string[] Probes = [.. LiveLabTests.Probes, Sticky];

    public static TheoryData<string> Engines => ["afpacket", "pcap"];

    private static string Farms(string engine)
    {
        string farms = LiveLabTests.Farms(engine);
        string sticky = $$""",{"name":"sticky","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"84","protocol":"tcp","mode":"snat","scheduler":"weight","persistence":"srcip","persist-ttl":"120",{{LiveLab.IfacesOf(engine)}},"backends":[{"name":"bck0","ip-addr":"192.168.1.10","port":"80"},{"name":"bck1","ip-addr":"192.168.1.11","port":"80"}]}]}""";
        return farms[..farms.LastIndexOf(']')] + sticky;
    }

    private static LabRun? Lab(string engine)
    {
        LiveLab.SkipUnlessRoot();
        return LiveLab.RunOnce("workers/" + engine, "lvw" + engine[0], engine, Farms(engine), Probes, ["--workers", "2"]);
    }

    [SkippableTheory]
    [MemberData(nameof(Engines))]
    public void Probes_TwoWorkers_EveryConnectionAndExchangeSucceedsWithItsRepliesOnTheSameWorker(string engine)
    {
        if (Lab(engine) is not { } lab) return;
        foreach (var spec in Probes)
        {
            int n = int.Parse(spec[(spec.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(lab[spec].Ok == n && lab[spec].Fail == 0, lab.Describe(spec));
            Assert.Empty(lab.UnexplainedPortChanges(Probes, spec));
        }
        Assert.Contains("2 worker(s), queue dispatch", lab.UserlbLog, StringComparison.Ordinal);
        Assert.Contains("queue_drops=0", lab.Status, StringComparison.Ordinal);
        // Both workers had flows of their own (the client's even connect() ports spread by FlowShard's hash).
        for (int w = 0; w < 2; w++)
            Assert.True(System.Text.RegularExpressions.Regex.IsMatch(lab.Status, $@"(?m)^# worker {w} rx=\d+ forwarded=[1-9]\d* connections=[1-9]"), $"worker {w}:\n{lab.Status}");
        // Nothing was dropped as untracked: a reply on the wrong worker would be (no flow, not for a farm).
        Assert.DoesNotMatch(@"# drop (no_farm|tcp_invalid|tcp_no_syn_for_new_flow)=", lab.Status);
    }

    [SkippableTheory]
    [MemberData(nameof(Engines))]
    public void Weights_TwoWorkers_SharesWithinBinomialBoundsAndDownBackendGetsNothing(string engine)
    {
        if (Lab(engine) is not { } lab) return;
        int b1 = lab[$"tcp:80:{LiveLabTests.Many}"].CountOf("bck1");
        Assert.True(b1 is >= 120 and <= 180, $"bck1 got {b1} of {LiveLabTests.Many} for weight 3 of 4\n" + lab.Describe($"tcp:80:{LiveLabTests.Many}"));
        Assert.Equal(0, lab["tcp:82:30"].CountOf("bck1"));
        Assert.Equal(new HashSet<string> { LiveLab.Client }, lab["tcp:83:30"].SeenClients());
        Assert.Equal(new HashSet<string> { LiveLab.Vip }, lab["udp:5000:30"].SeenClients());
    }

    [SkippableTheory]
    [MemberData(nameof(Engines))]
    public void Persistence_TwoWorkersClientOnManyPorts_EveryConnectionOnOneBackend(string engine)
    {
        if (Lab(engine) is not { } lab) return;
        var r = lab[Sticky];
        // 40 connections from as many client ports land on both workers; persistence by source address is shared.
        Assert.True(r.CountOf("bck0") == 40 || r.CountOf("bck1") == 40, lab.Describe(Sticky));
    }
}
