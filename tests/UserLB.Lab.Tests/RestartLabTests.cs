using System.Globalization;

namespace UserLB.Lab.Tests;

/// <summary>
/// userlb restarted under a held TCP connection (namespaces rbr*, pcap engine, NAT mode). One scenario, several checks:
///   1. userlb #1 with --state-file (no file yet); the client opens two connections, to a weight farm (port 90) and a
///      hash farm (port 91), and exchanges a line on each.
///   2. SIGTERM: userlb #1 saves the table. While it is down the client sends a line on port 90 (TCP retransmits it).
///   3. userlb #2 with the same --state-file loads the table; the in-flight line is answered, more lines follow.
///   4. SIGTERM, userlb #3 WITHOUT the state file: tcp_loose picks the hash farm's connection up mid-stream; the hash
///      scheduler chooses the same backend and the client's port is free, so it keeps working too.
/// </summary>
[Collection("lab")]
public class RestartLabTests
{
    private const string Prefix = "rbr";

    private static string Farms()
    {
        string io = LiveLab.IfacesOf("pcap");
        string B(int i) => $$"""{"name":"bck{{i}}","ip-addr":"192.168.1.1{{i}}"}""";
        return $$"""
            {"farms":[
              {"name":"kept","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"90","protocol":"tcp","mode":"snat","scheduler":"weight",{{io}},"backends":[{{B(0)}},{{B(1)}}]},
              {"name":"hashed","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"91","protocol":"tcp","mode":"snat","scheduler":"hash","sched-param":"srcip srcport",{{io}},"backends":[{{B(0)}},{{B(1)}}]}]}
            """;
    }

    /// <summary>What the scenario observed: replies ("NAME PEER-IP PEER-PORT TEXT") or errors by step, logs, the state file.</summary>
    public sealed record Run(Dictionary<string, (string? Reply, string? Error)> Steps, string[] Logs, string StateFile, int[] ExitCodes)
    {
        public string Describe() =>
            string.Join("\n", Steps.Select(kv => $"{kv.Key}: {kv.Value.Reply ?? "ERROR " + kv.Value.Error}")) +
            $"\n--- state file:\n{StateFile}\n" + string.Join("\n", Logs.Select((l, i) => $"--- userlb #{i + 1}:\n{l}"));

        /// <summary>The backend name and the source port it saw, from a reply.</summary>
        public (string Backend, string Peer) Seen(string step)
        {
            var (reply, error) = Steps[step];
            Assert.True(reply is not null, $"step {step} failed: {error}\n{Describe()}");
            var parts = reply.Split(' ');
            return (parts[0], parts[1] + ":" + parts[2]);
        }
    }

    private static readonly Lazy<Run?> Scenario = new(Play);

    private static Run? Play()
    {
        LiveLab.SkipUnlessRoot(); // a skip inside a Lazy is cached and rethrown: every test reports skipped
        using var lab = new LabSession(Prefix);
        lab.Start("b0", "python3 lab/stream.py server bck0 90,91");
        lab.Start("b1", "python3 lab/stream.py server bck1 90,91");
        foreach (var b in new[] { "b0", "b1" })
            lab.Exec(b, "bash -c 'for i in $(seq 50); do ss -ltn | grep -q \":91 \" && exit 0; sleep 0.1; done; exit 1'");
        string state = Path.Combine(lab.Work, "conntrack.state");
        string farms = Farms();
        var steps = new Dictionary<string, (string?, string?)>();
        var logs = new List<string>();
        var codes = new List<int>();

        var u1 = lab.StartUserlb(farms, $"--state-file {state}");
        var weighted = new LabSession.StreamClient(lab, LiveLab.Vip, 90);
        var hashed = new LabSession.StreamClient(lab, LiveLab.Vip, 91);
        steps["90 before"] = weighted.Send("one");
        steps["91 before"] = hashed.Send("one");
        codes.Add(u1.Terminate());
        logs.Add(u1.Log);
        string saved = File.Exists(state) ? File.ReadAllText(state) : "(no state file)";

        weighted.SendBegin("during", 25); // userlb is down: the kernel retransmits until userlb #2 forwards it
        var u2 = lab.StartUserlb(farms, $"--state-file {state}");
        steps["90 during"] = weighted.SendEnd(25);
        steps["90 after"] = weighted.Send("two");
        steps["91 after"] = hashed.Send("two");
        codes.Add(u2.Terminate());
        logs.Add(u2.Log);

        var u3 = lab.StartUserlb(farms);
        steps["91 no state"] = hashed.Send("three", 10);
        codes.Add(u3.Terminate());
        logs.Add(u3.Log);
        return new Run(steps, [.. logs], saved, [.. codes]);
    }

    [SkippableFact]
    public void Restart_WithStateFile_HeldConnectionKeepsItsBackendAndNatPortAndLosesNothing()
    {
        if (Scenario.Value is not { } run) return;
        var before = run.Seen("90 before");
        Assert.Equal(before, run.Seen("90 during"));
        Assert.Equal(before, run.Seen("90 after"));
        Assert.Equal(run.Seen("91 before"), run.Seen("91 after"));
        Assert.EndsWith(" during", run.Steps["90 during"].Reply, StringComparison.Ordinal);
        Assert.Equal(LiveLab.Vip, before.Peer.Split(':')[0]); // NAT mode: the backend sees the VIP
    }

    [SkippableFact]
    public void Restart_WithStateFile_SavedOnSigtermAndLoadedAtStart()
    {
        if (Scenario.Value is not { } run) return;
        Assert.Equal([0, 0, 0], run.ExitCodes);
        Assert.Contains("does not exist yet", run.Logs[0], StringComparison.Ordinal);
        Assert.Contains("saved 2 connection(s)", run.Logs[0], StringComparison.Ordinal);
        var lines = run.StateFile.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 3, run.Describe());
        Assert.StartsWith("{\"userlb-state\":1,", lines[0], StringComparison.Ordinal);
        Assert.Contains("\"state\":\"ESTABLISHED\"", lines[1], StringComparison.Ordinal);
        Assert.Contains("loaded 2 connection(s)", run.Logs[1], StringComparison.Ordinal);
        Assert.Contains("skipped 0", run.Logs[1], StringComparison.Ordinal);
        Assert.DoesNotContain("loaded", run.Logs[2], StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Restart_WithoutStateFile_HashFarmConnectionPickedUpMidStreamOnTheSameBackend()
    {
        if (Scenario.Value is not { } run) return;
        var (backend, peer) = run.Seen("91 no state");
        Assert.Equal(run.Seen("91 before").Backend, backend);
        Assert.Equal(run.Seen("91 before").Peer, peer);
        Assert.True(run.Steps.Count == 6, string.Create(CultureInfo.InvariantCulture, $"{run.Steps.Count} steps\n{run.Describe()}"));
    }
}
