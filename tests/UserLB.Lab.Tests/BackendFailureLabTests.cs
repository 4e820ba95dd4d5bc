using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace UserLB.Lab.Tests;

/// <summary>
/// Issue 6, backend failure, through a real <c>userlb run</c> (pcap engine) in a lab (namespaces bf*): one backend's
/// server is killed mid-run; the TCP health check (interval 0.5 s, fall 3, rise 2) must mark it down within
/// interval × fall (plus a little slack for a busy machine), new connections then all go to the other backend and none
/// fails; when its server returns it is marked up and gets new connections again.
/// </summary>
[Collection("lab")]
public class BackendFailureLabTests(ITestOutputHelper output)
{
    private const string Prefix = "bf";
    private const double Interval = 0.5;
    private const int Fall = 3;

    private sealed record Probe(int Ok, int Fail, int Bck0, int Bck1, string Raw);

    private sealed record Observed(Probe Before, TimeSpan KillToDown, Probe AfterDown, TimeSpan RestartToUp, Probe AfterUp, string Log);

    private static readonly Lazy<Observed> Lab = new(RunLab);

    [SkippableFact]
    public void KillBackendServer_HealthCheck_MarkedDownWithinIntervalTimesFall()
    {
        LiveLab.SkipUnlessRoot();
        var lab = Lab.Value;
        output.WriteLine($"kill -> DOWN {lab.KillToDown.TotalSeconds:F2} s (interval x fall = {Interval * Fall} s); restart -> UP {lab.RestartToUp.TotalSeconds:F2} s");
        Assert.True(lab.Before.Ok == 20 && lab.Before.Bck1 > 0, lab.Before.Raw + "\n" + lab.Log);
        // The fall-th failed probe comes at most interval × fall after the kill; 1 s of slack for scheduling on a busy host.
        Assert.True(lab.KillToDown <= TimeSpan.FromSeconds(Interval * Fall + 1.0),
            $"marked down {lab.KillToDown.TotalSeconds:F2} s after the kill (interval × fall = {Interval * Fall} s)\n{lab.Log}");
        Assert.Contains("health: farm app backend bck1 is DOWN", lab.Log, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void KillBackendServer_AfterMarkedDown_NoNewConnectionFailsAndAllGoToTheOther()
    {
        LiveLab.SkipUnlessRoot();
        var lab = Lab.Value;
        Assert.True(lab.AfterDown.Ok == 40 && lab.AfterDown.Fail == 0 && lab.AfterDown.Bck1 == 0 && lab.AfterDown.Bck0 == 40,
            lab.AfterDown.Raw + "\n" + lab.Log);
    }

    [SkippableFact]
    public void BackendServerReturns_HealthCheck_MarkedUpAndGetsTrafficAgain()
    {
        LiveLab.SkipUnlessRoot();
        var lab = Lab.Value;
        Assert.Contains("health: farm app backend bck1 is UP", lab.Log, StringComparison.Ordinal);
        // rise 2 at 0.5 s: about 1 s after the server listens; python's start-up took up to ~8 s on a host at load 50.
        Assert.True(lab.RestartToUp <= TimeSpan.FromSeconds(15), $"marked up {lab.RestartToUp.TotalSeconds:F2} s after the restart\n{lab.Log}");
        // Binomial(40, 1/2) below 5 has probability ~1e-7.
        Assert.True(lab.AfterUp.Ok == 40 && lab.AfterUp.Fail == 0 && lab.AfterUp.Bck1 >= 5, lab.AfterUp.Raw + "\n" + lab.Log);
    }

    private static Observed RunLab()
    {
        using var labLock = LiveLab.LockPrefix(Prefix); // other test runs on this host use the same namespace names
        string root = LiveLab.RepoRoot();
        string work = Directory.CreateTempSubdirectory("userlb-bflab-").FullName;
        int pid = 0;
        try
        {
            LiveLab.Sh(root, $"lab/topo.sh up {Prefix} veth {work}", 60);
            pid = LiveLab.StartUserlb(Prefix, work, $$"""
                {"farms":[{"name":"app","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"80","mode":"snat","scheduler":"weight",{{LiveLab.IfacesOf("pcap")}},
                  "health-check":{"type":"tcp","interval":"{{Interval.ToString(CultureInfo.InvariantCulture)}}","fall":"{{Fall}}","rise":"2"},
                  "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
                """, "pcap", "--api off");
            string log = Path.Combine(work, "userlb.log");
            var before = ProbeNow(root, 20);

            // Kill bck1's server (every process in its namespace) and time the health check.
            var sw = Stopwatch.StartNew();
            LiveLab.Sh(root, $"for p in $(ip netns pids {Prefix}b1); do kill -9 $p; done", 10, check: false);
            var killToDown = WaitForLog(log, "backend bck1 is DOWN", TimeSpan.FromSeconds(20), pid, sw);
            var afterDown = ProbeNow(root, 40);

            // Its server comes back.
            sw.Restart();
            LiveLab.Sh(root, $"ip netns exec {Prefix}b1 python3 lab/server.py bck1 80 5000 {work}/b1.log >/dev/null 2>&1 &", 10);
            var restartToUp = WaitForLog(log, "backend bck1 is UP", TimeSpan.FromSeconds(20), pid, sw);
            var afterUp = ProbeNow(root, 40);
            return new Observed(before, killToDown, afterDown, restartToUp, afterUp, File.ReadAllText(log));
        }
        finally
        {
            if (pid != 0) LiveLab.Sh(root, $"kill -9 {pid}", 10, check: false);
            LiveLab.Sh(root, $"lab/topo.sh down {Prefix}", 60, check: false);
            Directory.Delete(work, true);
        }
    }

    /// <summary>Polls <paramref name="log"/> until it holds <paramref name="text"/>; returns the time on <paramref name="since"/>.</summary>
    private static TimeSpan WaitForLog(string log, string text, TimeSpan limit, int pid, Stopwatch? since = null)
    {
        since ??= Stopwatch.StartNew();
        while (!File.ReadAllText(log).Contains(text, StringComparison.Ordinal))
        {
            if (since.Elapsed > limit || !Directory.Exists($"/proc/{pid}"))
                throw new InvalidOperationException($"\"{text}\" not logged within {limit.TotalSeconds} s:\n" + File.ReadAllText(log));
            Thread.Sleep(20);
        }
        return since.Elapsed;
    }

    private static Probe ProbeNow(string root, int n)
    {
        string json = LiveLab.Sh(root, $"ip netns exec {Prefix}c python3 lab/probe.py {LiveLab.Vip} tcp:80:{n}", 120);
        var r = LiveLab.ParseProbes(json)[$"tcp:80:{n}"];
        return new Probe(r.Ok, r.Fail, r.CountOf("bck0"), r.CountOf("bck1"), json.Trim());
    }
}
