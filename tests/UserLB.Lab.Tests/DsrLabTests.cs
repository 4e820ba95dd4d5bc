using System.Text;
using System.Text.Json;

namespace UserLB.Lab.Tests;

/// <summary>
/// <c>"mode": "dsr"</c> on real interfaces (namespaces dsr*, afpacket, offloads on): the backends hold the VIP on their
/// loopback (arp_ignore=1, arp_announce=2) and answer the client through their gateway, the LB namespace's kernel with
/// IP forwarding on, never through userlb. The client reaches the VIP through the LB namespace's address (userlb does not
/// answer ARP for a dsr VIP); userlb resolves the backends by ARP and rewrites MACs only. HTTP requests (new connections)
/// and a bulk upload checked end to end by sha256 must all succeed, and each backend must see the client's own address.
/// </summary>
[Collection("lab")]
public class DsrLabTests
{
    private static string Farms(string family = "ipv4", string vip = LiveLab.Vip, string b0 = "192.168.1.10", string b1 = "192.168.1.11") => $$"""
        {"farms":[{"name":"direct","family":"{{family}}","virtual-addr":"{{vip}}","virtual-ports":"80,9000","protocol":"tcp","mode":"dsr",
          "scheduler":"hash","sched-param":"srcip srcport","iface":"lbc","oface":"lbs",
          "backends":[{"name":"bck0","ip-addr":"{{b0}}"},{"name":"bck1","ip-addr":"{{b1}}"}]}]}
        """;

    private static string StatelessFarms() => $$"""
        {"farms":[{"name":"nostate","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"80","protocol":"tcp","mode":"stlsdnat",
          "scheduler":"hash","sched-param":"srcip srcport","iface":"lbc","oface":"lbs",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    /// <summary>Turns lab/topo.sh's NAT topology into a DSR one.</summary>
    private static void MakeDsr(LabSession lab)
    {
        // The LB namespace's kernel routes the backends' replies to the client; traffic to the VIP is userlb's alone.
        lab.Exec("lb", "sysctl -qw net.ipv4.ip_forward=1");
        foreach (var n in new[] { "all", "default", "lbc", "lbs" }) lab.Exec("lb", $"sysctl -qw net.ipv4.conf.{n}.rp_filter=0");
        lab.Exec("lb", $"ip route add blackhole {LiveLab.Vip}/32");
        lab.Exec("c", $"ip route add {LiveLab.Vip}/32 via 192.168.101.254");
        foreach (var b in new[] { "b0", "b1" })
        {
            lab.Exec(b, $"ip addr add {LiveLab.Vip}/32 dev lo");
            foreach (var n in new[] { "all", "eth0" })
            {
                lab.Exec(b, $"sysctl -qw net.ipv4.conf.{n}.arp_ignore=1");
                lab.Exec(b, $"sysctl -qw net.ipv4.conf.{n}.arp_announce=2");
            }
            lab.Start(b, "python3 lab/bulk.py serve 9000");
        }
    }

    [SkippableFact]
    public void Run_DsrFarm_RequestsAndBulkSucceedBackendsSeeTheClient()
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession("dsr");
        MakeDsr(lab);
        string status = Path.Combine(lab.Work, "status");
        var u = lab.StartUserlb(Farms(), $"--status-file {status}", engine: "afpacket");

        // 20 connections from chosen client ports, one HTTP request each: every one answered by a backend that saw the
        // client's own address, both backends taking some (the hash is over the source address and port).
        var answers = JsonSerializer.Deserialize<Dictionary<int, string>>(lab.Exec("c", $"python3 lab/ports.py {LiveLab.Vip} 80 52001 20 request", 120))!;
        string all = string.Join("\n", answers) + "\n" + u.Log;
        Assert.True(answers.Count == 20 && answers.Values.All(a => a.EndsWith(" saw " + LiveLab.Client, StringComparison.Ordinal)), all);
        Assert.Equal(2, answers.Values.Distinct().Count());

        string bulk = lab.Exec("c", $"python3 lab/bulk.py send {LiveLab.Vip} 9000 16", 120);
        using var json = JsonDocument.Parse(bulk.Trim().Split('\n')[^1]);
        Assert.True(json.RootElement.GetProperty("ok").GetBoolean(), $"the backend's sha256 differs from what was sent: {bulk}\n{u.Log}");

        Thread.Sleep(1500); // the status file is rewritten every second
        string text = File.ReadAllText(status, Encoding.UTF8);
        // Nothing was NATed: the entries' reply tuples are the original's inverse (the VIP answers the client).
        Assert.Contains(text.Split('\n'), l => l.StartsWith("tcp ", StringComparison.Ordinal)
            && l.Contains($"src={LiveLab.Client} dst={LiveLab.Vip}", StringComparison.Ordinal)
            && l.Contains($"src={LiveLab.Vip} dst={LiveLab.Client}", StringComparison.Ordinal));
        Assert.DoesNotContain("# drop neighbor_unresolved", text, StringComparison.Ordinal);
        Assert.Equal(0, u.Terminate());
    }

    /// <summary>
    /// The same in IPv6 (namespaces d6*, lab/topo.sh's IPv6 addresses): the backends hold the VIP fd00:101::250 on lo
    /// (IPv6 answers neighbour solicitations only for the asking interface's own addresses, so nothing like arp_ignore
    /// is needed), the LB namespace's kernel forwards IPv6 with the VIP blackholed, the client routes the VIP to
    /// fd00:101::254. HTTP from 20 chosen ports and a 16 MB upload; each backend sees the client's own address.
    /// </summary>
    [SkippableFact]
    public void Run_DsrFarmIpv6_RequestsAndBulkSucceedBackendsSeeTheClient()
    {
        LiveLab.SkipUnlessRoot();
        const string vip = "fd00:101::250", client = "fd00:101::1";
        using var lab = new LabSession("d6", ipv6: true);
        lab.Exec("lb", "sysctl -qw net.ipv6.conf.all.forwarding=1");
        lab.Exec("lb", $"ip -6 route add blackhole {vip}/128");
        lab.Exec("c", $"ip -6 route add {vip}/128 via fd00:101::254");
        foreach (var b in new[] { "b0", "b1" })
        {
            lab.Exec(b, $"ip addr add {vip}/128 dev lo");
            lab.Start(b, "python3 lab/bulk.py serve 9000 ipv6");
        }
        var u = lab.StartUserlb(Farms("ipv6", vip, "fd00:1::10", "fd00:1::11"), engine: "afpacket");

        var answers = JsonSerializer.Deserialize<Dictionary<int, string>>(lab.Exec("c", $"python3 lab/ports.py {vip} 80 52001 20 request", 120))!;
        string all = string.Join("\n", answers) + "\n" + u.Log;
        Assert.True(answers.Count == 20 && answers.Values.All(a => a.EndsWith(" saw " + client, StringComparison.Ordinal)), all);
        Assert.Equal(2, answers.Values.Distinct().Count());

        string bulk = lab.Exec("c", $"python3 lab/bulk.py send {vip} 9000 16", 120);
        using var json = JsonDocument.Parse(bulk.Trim().Split('\n')[^1]);
        Assert.True(json.RootElement.GetProperty("ok").GetBoolean(), $"the backend's sha256 differs from what was sent: {bulk}\n{u.Log}");
        Assert.Equal(0, u.Terminate());
    }

    /// <summary>
    /// <c>"mode": "stlsdnat"</c> in lab/topo.sh's own topology (the backends' gateway is the LB namespace, forwarding
    /// off, so their replies reach userlb): 20 HTTP connections, each answered from the VIP by a backend that saw the
    /// client, with no connection tracked.
    /// </summary>
    [SkippableFact]
    public void Run_StatelessDnatFarm_RequestsSucceedWithoutConnections()
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession("sdn");
        string status = Path.Combine(lab.Work, "status");
        var u = lab.StartUserlb(StatelessFarms(), $"--status-file {status}", engine: "afpacket");
        var answers = JsonSerializer.Deserialize<Dictionary<int, string>>(lab.Exec("c", $"python3 lab/ports.py {LiveLab.Vip} 80 53001 20 request", 120))!;
        string all = string.Join("\n", answers) + "\n" + u.Log;
        Assert.True(answers.Count == 20 && answers.Values.All(a => a.EndsWith(" saw " + LiveLab.Client, StringComparison.Ordinal)), all);
        Assert.Equal(2, answers.Values.Distinct().Count());
        Thread.Sleep(1500);
        string text = File.ReadAllText(status, Encoding.UTF8);
        Assert.DoesNotContain(text.Split('\n'), l => l.StartsWith("tcp ", StringComparison.Ordinal));
        Assert.Equal(0, u.Terminate());
    }
}
