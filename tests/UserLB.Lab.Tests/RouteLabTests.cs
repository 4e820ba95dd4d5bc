using System.Text.Json;

namespace UserLB.Lab.Tests;

/// <summary>
/// A farm without iface or oface placed by the LB namespace's routes (namespaces rte*, afpacket engine): userlb opens
/// lbc (the route to the VIP's network) and lbs (the route to the backends) by itself and forwards; after
/// `ip route del` of the backends' network the farm is reported unplaced and stops forwarding; after `ip route add`
/// it is placed again and forwards. The same with the backends' link set down and up (the kernel drops the link's
/// routes without a route message: the link's own notification makes userlb read the table again).
/// </summary>
[Collection("lab")]
public class RouteLabTests
{
    private const string Prefix = "rte";

    private const string Farms = $$"""
        {"farms":[{"name":"web","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"80","protocol":"tcp","mode":"snat",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    [SkippableFact]
    public void FarmWithoutIface_RouteDeletedAndAdded_UnplacedThenForwardsAgain()
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession(Prefix);
        var u = lab.StartUserlb(Farms, engine: "afpacket");
        var wait = TimeSpan.FromSeconds(10);
        u.WaitFor("farm web placed by route: iface lbc, oface lbs", wait);
        Assert.Contains("afpacket engine on lbc, lbs:", u.Log, StringComparison.Ordinal);

        var before = Probe(lab, 6);
        Assert.True(before.Ok == 6, $"before: {before}\n{u.Log}");
        Assert.Equal(["bck0", "bck1"], before.Backends);

        lab.Exec("lb", "ip route del 192.168.1.0/24 dev lbs");
        u.WaitFor("farm web is stored but not placed (the engine does not run it): no route to backend bck0 (192.168.1.10), bck1 (192.168.1.11)", wait);
        var during = Probe(lab, 2);
        Assert.True(during.Ok == 0, $"during: {during}\n{u.Log}");

        lab.Exec("lb", "ip route add 192.168.1.0/24 dev lbs src 192.168.1.1");
        u.WaitFor("routes changed: farm web is placed again (iface lbc, oface lbs)", wait);
        var after = Probe(lab, 6);
        Assert.True(after.Ok == 6, $"after: {after}\n{u.Log}");

        lab.Exec("lb", "ip link set lbs down");
        u.WaitFor("generation 4, 0 farm(s)", wait); // unplaced again, for the same reason: logged again (placed in between)
        Assert.Equal(2, Count(u.Log, "no route to backend bck0 (192.168.1.10), bck1 (192.168.1.11)"));
        lab.Exec("lb", "ip link set lbs up");
        u.WaitFor("generation 5, 1 farm(s)", wait);
        var linkUp = Probe(lab, 4);
        Assert.True(linkUp.Ok == 4, $"link up: {linkUp}\n{u.Log}");
        Assert.Equal(0, u.Terminate());
    }

    /// <summary>
    /// <c>--iface routed</c> with no farm at start (namespaces rtf*): userlb owns every interface with a route (lbc, lbs);
    /// a farm POSTed through the API without iface or oface is placed by route and forwards.
    /// </summary>
    [SkippableFact]
    public void ApiFarmWithoutIface_IfaceRouted_PlacedAndForwards()
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession("rtf");
        var u = lab.StartUserlb("""{"farms": []}""", "--iface routed --api 127.0.0.1:5555 --key k", engine: "afpacket");
        Assert.Matches("afpacket engine on (lbc, lbs|lbs, lbc):", u.Log);
        string body = Farms.ReplaceLineEndings(" ");
        string reply = lab.Exec("lb", $"curl -s -m 5 -X POST -H 'Key: k' -H 'Content-Type: application/json' --data '{body}' http://127.0.0.1:5555/farms");
        Assert.Equal("{\"response\": \"success\"}", reply);
        u.WaitFor("configuration applied: generation 2, 1 farm(s)", TimeSpan.FromSeconds(10));
        var probe = Probe(lab, 4);
        Assert.True(probe.Ok == 4, $"{probe}\n{u.Log}");
        Assert.Equal(0, u.Terminate());
    }

    /// <summary>
    /// A backend behind a gateway (namespaces rtg*): 10.77.0.10 lives on b0's loopback and the LB namespace routes
    /// 10.77.0.0/24 via b0 (192.168.1.10) dev lbs. The farm is placed on lbc/lbs; the engines are given b0's MAC (from
    /// the kernel's neighbour table, which userlb makes resolve it) as the backend's, and the farm forwards; when the
    /// route is replaced by one via b1 (which has the address too), the engines send it to b1.
    /// </summary>
    [SkippableFact]
    public void FarmWithoutIface_BackendBehindGateway_SentToGatewaysMacAndForwards()
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession("rtg");
        lab.Exec("b0", "ip addr add 10.77.0.10/32 dev lo");
        lab.Exec("b0", "sysctl -qw net.ipv4.conf.all.arp_ignore=1"); // b0 does not answer ARP for 10.77.0.10: a router would not either
        lab.Exec("lb", "ip route add 10.77.0.0/24 via 192.168.1.10 dev lbs");
        var u = lab.StartUserlb($$"""
            {"farms":[{"name":"far","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"80","protocol":"tcp","mode":"snat",
              "backends":[{"name":"behind","ip-addr":"10.77.0.10"}]}]}
            """, engine: "afpacket");
        u.WaitFor("farm far placed by route: iface lbc, oface lbs", TimeSpan.FromSeconds(10));
        u.WaitFor("backend 10.77.0.10 is reached through gateway 192.168.1.10 (", TimeSpan.FromSeconds(10));
        var probe = Probe(lab, 4);
        Assert.True(probe.Ok == 4, $"{probe}\n{u.Log}");
        Assert.Equal(["bck0"], probe.Backends); // b0's server answered for 10.77.0.10

        // The route now leads through b1, which has 10.77.0.10 too: the engines are given b1's MAC instead.
        lab.Exec("b1", "ip addr add 10.77.0.10/32 dev lo");
        lab.Exec("b1", "sysctl -qw net.ipv4.conf.all.arp_ignore=1");
        lab.Exec("lb", "ip route replace 10.77.0.0/24 via 192.168.1.11 dev lbs");
        u.WaitFor("backend 10.77.0.10 is reached through gateway 192.168.1.11 (", TimeSpan.FromSeconds(10));
        var moved = Probe(lab, 4);
        Assert.True(moved.Ok == 4, $"{moved}\n{u.Log}");
        Assert.Equal(["bck1"], moved.Backends);
        Assert.Equal(0, u.Terminate());
    }

    private static int Count(string log, string text) => log.Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal));

    private sealed record Result(int Ok, int Fail, string[] Backends, string Json)
    {
        public override string ToString() => Json;
    }

    /// <summary>lab/probe.py: <paramref name="n"/> HTTP requests to the VIP, one connection each.</summary>
    private static Result Probe(LabSession lab, int n)
    {
        string json = lab.Exec("c", $"python3 lab/probe.py {LiveLab.Vip} tcp:80:{n}", 60);
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement.GetProperty($"tcp:80:{n}");
        var backends = r.GetProperty("by").EnumerateObject().Select(p => p.Name.Split(' ')[0]).Distinct().Order(StringComparer.Ordinal).ToArray();
        return new Result(r.GetProperty("ok").GetInt32(), r.GetProperty("fail").GetInt32(), backends, json);
    }
}
