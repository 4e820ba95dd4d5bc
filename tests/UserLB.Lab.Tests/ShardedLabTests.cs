using System.Text.Json;

namespace UserLB.Lab.Tests;

/// <summary>
/// <c>userlb run --workers 2</c> on real interfaces (namespaces sh*, afpacket): one client's connections from odd and
/// even ports are forwarded by both workers, yet the farm's persistence and its per-client est-connlimit hold across
/// them, and the status file adds up both workers' tables.
/// </summary>
[Collection("lab")]
public class ShardedLabTests
{
    private static string Farms()
    {
        string io = LiveLab.IfacesOf("afpacket");
        string B(int i) => $$"""{"name":"bck{{i}}","ip-addr":"192.168.1.1{{i}}","port":"80"}""";
        return $$"""
            {"farms":[
              {"name":"sticky","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"80","protocol":"tcp","mode":"snat","scheduler":"rr",
               "persistence":"srcip","persist-ttl":"60",{{io}},"backends":[{{B(0)}},{{B(1)}}]},
              {"name":"limited","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"81","protocol":"tcp","mode":"snat","scheduler":"rr",
               "est-connlimit":"3",{{io}},"backends":[{{B(0)}},{{B(1)}}]}]}
            """;
    }

    private static Dictionary<int, string> Ports(LabSession lab, int vport, int first, int count, string mode) =>
        JsonSerializer.Deserialize<Dictionary<int, string>>(lab.Exec("c", $"python3 lab/ports.py {LiveLab.Vip} {vport} {first} {count} {mode}", 60))!;

    [SkippableFact]
    public void Run_TwoWorkers_PersistenceAndClientLimitHoldAcrossWorkers()
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession("sh");
        string status = Path.Combine(lab.Work, "status");
        var userlb = lab.StartUserlb(Farms(), $"--workers 2 --status-file {status}", engine: "afpacket");

        // 12 connections from ports 50001-50012, on both workers (FlowShard.OfPort); rr alone would alternate backends.
        var sticky = Ports(lab, 80, 50001, 12, "request");
        Assert.True(sticky.Values.All(v => v.EndsWith(" saw " + LiveLab.Vip, StringComparison.Ordinal)), string.Join("\n", sticky) + "\n" + userlb.Log);
        Assert.Single(sticky.Values.Distinct());

        // est-connlimit 3 per client over both workers: the 4th held connection is dropped.
        var held = Ports(lab, 81, 51001, 4, "hold");
        Assert.Equal(["ok", "ok", "ok"], [held[51001], held[51002], held[51003]]);
        Assert.StartsWith("error: ", held[51004], StringComparison.Ordinal);

        Thread.Sleep(1500); // a status-file period
        string text = File.ReadAllText(status);
        var lines = text.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("# drop conn_limit=", StringComparison.Ordinal));
        Assert.True(lines.Count(l => l.StartsWith("tcp ", StringComparison.Ordinal) && l.Contains(" dport=80 ", StringComparison.Ordinal)) == 12, text);
        Assert.Contains(lines, l => l.Contains(" sport=50001 ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" sport=50002 ", StringComparison.Ordinal));
        Assert.Equal(0, userlb.Terminate());
    }
}
