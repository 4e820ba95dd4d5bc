namespace UserLB.Lab.Tests;

/// <summary>
/// IPv6 live, with the veths' offloads on (namespaces v6*, lab/topo.sh's IPv6 addresses): the client reaches the VIP
/// fd00:101::250, which no kernel interface holds (userlb answers the client's neighbour solicitation), and the
/// backends fd00:1::10 and ::11 (userlb solicits them). HTTP and UDP in NAT and DTA mode, then a 32 MB TCP transfer
/// checked by sha256 (TCPv6 super-frames kept whole by afpacket, segmented in software by pcap); and a farm placed by
/// the namespace's IPv6 routes.
/// </summary>
[Collection("lab")]
public class Ipv6LabTests
{
    private const string Vip = "fd00:101::250";
    private const string Client = "fd00:101::1";

    private static string Farms(string mode, string placement) => $$"""
        {"farms":[
          {"name":"web6","family":"ipv6","virtual-addr":"{{Vip}}","virtual-ports":"80","protocol":"tcp","mode":"{{mode}}",{{placement}}
           "backends":[{"name":"bck0","ip-addr":"fd00:1::10"},{"name":"bck1","ip-addr":"fd00:1::11"}]},
          {"name":"dns6","family":"ipv6","virtual-addr":"{{Vip}}","virtual-ports":"5000","protocol":"udp","mode":"{{mode}}",{{placement}}
           "backends":[{"name":"bck0","ip-addr":"fd00:1::10"},{"name":"bck1","ip-addr":"fd00:1::11"}]},
          {"name":"bulk6","family":"ipv6","virtual-addr":"{{Vip}}","virtual-ports":"9000","protocol":"tcp","mode":"{{mode}}",{{placement}}
           "backends":[{"name":"bck0","ip-addr":"fd00:1::10"}]}]}
        """;

    private const string OnLbcAndLbs = "\"iface\":\"lbc\",\"oface\":\"lbs\",";

    [SkippableTheory]
    [MemberData(nameof(OffloadBulkLabTests.Cases), MemberType = typeof(OffloadBulkLabTests))]
    public void Forward_Ipv6OffloadsOn_EveryRequestAndEveryByteArrives(string engine, string mode)
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession("v6" + engine[0] + mode[0], ipv6: true);
        lab.Start("b0", "python3 lab/bulk.py serve 9000 ipv6");
        string status = Path.Combine(lab.Work, "status");
        var u = lab.StartUserlb(Farms(mode, OnLbcAndLbs), $"--status-file {status}", engine);

        var probe = Probe(lab, "tcp:80:6", "udp:5000:4");
        foreach (var (spec, r) in probe)
        {
            Assert.True(r.Ok == (spec.StartsWith("tcp", StringComparison.Ordinal) ? 6 : 4) && r.Fail == 0, $"{engine}/{mode} {spec}: {r}\n{u.Log}");
            Assert.True(r.CountOf("bck0") > 0 && r.CountOf("bck1") > 0, $"{engine}/{mode} {spec}: not both backends: {r}");
            // NAT mode: the backends see the VIP as the client (SNAT); DTA: the client itself.
            Assert.Equal([mode == "snat" ? Vip : Client], r.SeenClients());
            Assert.Equal([$"{Vip}:{spec.Split(':')[1]}"], r.ReplyFrom.Keys);
        }

        // A 32 MB transfer (TCPv6 super-frames: kept whole by afpacket, segmented in software by pcap).
        OffloadBulkLabTests.AssertTransfer(lab, Vip, status, $"{engine}/{mode}", u.Log);
        Assert.Equal(0, u.Terminate());
    }

    /// <summary>
    /// IPv6 farms without iface or oface (namespaces v6r*): placed by the LB namespace's IPv6 routes (fd00:101::/64 on
    /// lbc for the VIP, fd00:1::/64 on lbs for the backends), and forwarding; unplaced when the backends' route goes,
    /// placed again when it comes back.
    /// </summary>
    [SkippableFact]
    public void FarmWithoutIface_Ipv6Routes_PlacedAndForwards()
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession("v6r", ipv6: true);
        var u = lab.StartUserlb(Farms("snat", ""), engine: "afpacket");
        var wait = TimeSpan.FromSeconds(10);
        u.WaitFor("farm web6 placed by route: iface lbc, oface lbs", wait);
        var before = Probe(lab, "tcp:80:4")["tcp:80:4"];
        Assert.True(before.Ok == 4, $"before: {before}\n{u.Log}");

        lab.Exec("lb", "ip -6 route del fd00:1::/64 dev lbs");
        u.WaitFor("farm web6 is stored but not placed (the engine does not run it): no route to backend bck0 (fd00:1::10), bck1 (fd00:1::11)", wait);
        lab.Exec("lb", "ip -6 route add fd00:1::/64 dev lbs");
        u.WaitFor("farm web6 is placed again (iface lbc, oface lbs)", wait);
        var after = Probe(lab, "tcp:80:4")["tcp:80:4"];
        Assert.True(after.Ok == 4, $"after: {after}\n{u.Log}");
        Assert.Equal(0, u.Terminate());
    }

    /// <summary>lab/probe.py from the client to the IPv6 VIP.</summary>
    private static Dictionary<string, ProbeResult> Probe(LabSession lab, params string[] specs) =>
        LiveLab.ParseProbes(lab.Exec("c", $"python3 lab/probe.py {Vip} {string.Join(' ', specs)}", 90));
}
