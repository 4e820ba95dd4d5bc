namespace UserLB.Lab.Tests;

/// <summary>
/// Through the real engine on real interfaces, for each engine: one lab (namespaces lvp*, lva*, lvt*) and one userlb
/// process serve several farms at once, and each test checks one property of what the client and the backends observed.
/// Here every veth keeps the offloads it was created with (tx checksum offload: partial checksums; TSO/GSO), explicitly,
/// whatever $LAB_OFFLOADS says; <see cref="LiveLabOffloadsOffTests"/> runs the same tests with offloads off.
/// Needs root (CI runs as root); otherwise each test reports itself skipped with the reason.
/// </summary>
[Collection("lab")]
public class LiveLabTests
{
    public const int Many = 200;

    // Farms on one VIP, one port per property checked.
    //   80  tcp snat weight 1:3            -> weights
    //   81  tcp snat weight 1:1, port 80   -> even split (the scheduler's seeding) and backend port mapping
    //   82  tcp snat, bck1 down            -> down receives nothing
    //   83  tcp dnat, port 80              -> DTA: backends see the client
    //   5000 udp snat, 5001 udp dnat -> 5000
    public static string Farms(string engine)
    {
        string io = LiveLab.IfacesOf(engine);
        string Farm(string name, string port, string proto, string mode, string backends) =>
            $$"""{"name":"{{name}}","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"{{port}}","protocol":"{{proto}}","mode":"{{mode}}","scheduler":"weight",{{io}},"backends":[{{backends}}]}""";
        string B(int i, string extra = "") => $$"""{"name":"bck{{i}}","ip-addr":"192.168.1.1{{i}}"{{extra}}}""";
        return "{\"farms\":[" + string.Join(",\n",
            Farm("w13", "80", "tcp", "snat", B(0, ",\"weight\":\"1\"") + "," + B(1, ",\"weight\":\"3\"")),
            Farm("even", "81", "tcp", "snat", B(0, ",\"port\":\"80\"") + "," + B(1, ",\"port\":\"80\"")),
            Farm("down", "82", "tcp", "snat", B(0, ",\"port\":\"80\"") + "," + B(1, ",\"port\":\"80\",\"state\":\"down\"")),
            Farm("dta", "83", "tcp", "dnat", B(0, ",\"port\":\"80\"") + "," + B(1, ",\"port\":\"80\"")),
            Farm("udp", "5000", "udp", "snat", B(0) + "," + B(1)),
            Farm("udpdta", "5001", "udp", "dnat", B(0, ",\"port\":\"5000\"") + "," + B(1, ",\"port\":\"5000\""))) + "]}";
    }

    public static readonly string[] Probes = [$"tcp:80:{Many}", $"tcp:81:{Many}", "tcp:82:30", "tcp:83:30", "udp:5000:30", "udp:5001:30"];

    /// <summary>The veth offload setting of this class's labs (lab/topo.sh up … on|off).</summary>
    protected virtual string Offloads => "on";

    /// <summary>Each setting its own namespaces: lvp, lva, lvt with offloads on; lfp, lfa, lft with offloads off.</summary>
    private string PrefixOf(string engine) => (Offloads == "on" ? "lv" : "lf") + engine[0];

    private LabRun? Lab(string engine)
    {
        LiveLab.SkipUnlessRoot();
        return LiveLab.RunOnce($"farms/{engine}/offloads-{Offloads}", PrefixOf(engine), engine, Farms(engine), Probes, offloads: Offloads);
    }

    public static TheoryData<string> Engines => ["pcap", "afpacket", "tap"];

    [SkippableTheory]
    [MemberData(nameof(Engines))]
    public void Weights_OneToThreeOverManyConnections_SharesWithinBinomialBounds(string engine)
    {
        if (Lab(engine) is not { } lab) return;
        var r = lab[$"tcp:80:{Many}"];
        Assert.True(r.Ok == Many && r.Fail == 0, lab.Describe($"tcp:80:{Many}"));
        // bck1 ~ Binomial(200, 3/4): mean 150, sd 6.1; [120, 180] is ±4.9 sd (a false failure about once in a million runs).
        int b1 = r.CountOf("bck1");
        Assert.True(b1 is >= 120 and <= 180, $"bck1 got {b1} of {Many} for weight 3 of 4\n" + lab.Describe($"tcp:80:{Many}"));
        Assert.Equal(Many, r.CountOf("bck0") + b1);
    }

    [SkippableTheory]
    [MemberData(nameof(Engines))]
    public void Weights_EqualOverManyConnections_BothBackendsNearHalf(string engine)
    {
        if (Lab(engine) is not { } lab) return;
        var r = lab[$"tcp:81:{Many}"];
        Assert.True(r.Ok == Many && r.Fail == 0, lab.Describe($"tcp:81:{Many}"));
        // Binomial(200, 1/2): sd 7.1; [70, 130] is ±4.2 sd. A degenerate seeding (same draw per connection) fails this.
        int b0 = r.CountOf("bck0");
        Assert.True(b0 is >= 70 and <= 130, $"bck0 got {b0} of {Many} for weight 1 of 2\n" + lab.Describe($"tcp:81:{Many}"));
    }

    [SkippableTheory]
    [MemberData(nameof(Engines))]
    public void PortMapping_BackendPortDiffersFromVirtualPort_BackendServesOnItsPortAndClientSeesVirtualPort(string engine)
    {
        if (Lab(engine) is not { } lab) return;
        foreach (var (spec, vport, bport) in new[] { ($"tcp:81:{Many}", 81, "80"), ("tcp:83:30", 83, "80"), ("udp:5001:30", 5001, "5000") })
        {
            var r = lab[spec];
            Assert.True(r.Fail == 0 && r.Ok > 0, lab.Describe(spec));
            Assert.Equal(new Dictionary<string, int> { [bport] = r.Ok }, r.BackendPort);
            Assert.Equal(new Dictionary<string, int> { [$"{LiveLab.Vip}:{vport}"] = r.Ok }, r.ReplyFrom);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Engines))]
    public void DownBackend_NewConnections_AllGoToTheOtherBackend(string engine)
    {
        if (Lab(engine) is not { } lab) return;
        var r = lab["tcp:82:30"];
        Assert.True(r.Ok == 30 && r.Fail == 0, lab.Describe("tcp:82:30"));
        Assert.Equal(0, r.CountOf("bck1"));
        Assert.Equal(30, r.CountOf("bck0"));
    }

    [SkippableTheory]
    [MemberData(nameof(Engines))]
    public void Udp_NatAndDta_EveryExchangeAnsweredByBothBackendsWithTheRightSource(string engine)
    {
        if (Lab(engine) is not { } lab) return;
        foreach (var (spec, seen) in new[] { ("udp:5000:30", LiveLab.Vip), ("udp:5001:30", LiveLab.Client) })
        {
            var r = lab[spec];
            Assert.True(r.Ok == 30 && r.Fail == 0, lab.Describe(spec));
            Assert.Equal(new HashSet<string> { seen }, r.SeenClients());
            // Binomial(30, 1/2): P(one backend gets < 3) ~ 1e-6.
            Assert.True(r.CountOf("bck0") >= 3 && r.CountOf("bck1") >= 3, lab.Describe(spec));
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Engines))]
    public void NatVersusDta_TcpConnections_BackendsSeeVipInNatAndClientInDtaWithTheClientsPort(string engine)
    {
        if (Lab(engine) is not { } lab) return;
        var nat = lab[$"tcp:80:{Many}"];
        var dta = lab["tcp:83:30"];
        Assert.Equal(new HashSet<string> { LiveLab.Vip }, nat.SeenClients());
        Assert.Equal(new HashSet<string> { LiveLab.Client }, dta.SeenClients());
        // SNAT keeps the client's source port when it is free (get_unique_tuple); DNAT never changes it.
        Assert.Empty(lab.UnexplainedPortChanges(Probes, $"tcp:80:{Many}"));
        Assert.Equal(dta.Ok, dta.SawOwnPort);
        Assert.Contains("forwarding with the " + engine + " engine", lab.UserlbLog, StringComparison.Ordinal);
        // The defaults: inline dispatch; afpacket's rings: one receive thread, joined by a thread per interface while it
        // is saturated (the only choice now), not polling; otherwise a receive thread per interface.
        Assert.Contains(engine == "afpacket" ? "1 worker(s), inline dispatch, one receive thread, a thread per interface while it is saturated\n"
            : "1 worker(s), inline dispatch\n", lab.UserlbLog.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("queue_drops=0", lab.Status, StringComparison.Ordinal);
    }
}

/// <summary>
/// <see cref="LiveLabTests"/> with veth offloads off (lab/topo.sh up … off: ethtool -K … tx off rx off tso off gso off
/// gro off on every veth; full checksums, no super-frames), in namespaces of its own (lfp*, lfa*, lft*) and client port
/// blocks of its own (<see cref="LiveLab.FirstPortBlock"/>). The other lab tests run with the default (on) only.
/// </summary>
[Collection("lab")]
public class LiveLabOffloadsOffTests : LiveLabTests
{
    protected override string Offloads => "off";
}
