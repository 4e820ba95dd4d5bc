using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace UserLB.Lab.Tests;

/// <summary>What one probe spec (e.g. "tcp:80:200") observed, as printed by lab/probe.py.</summary>
public sealed record ProbeResult(int Ok, int Fail, IReadOnlyList<string> Errors, IReadOnlyDictionary<string, int> By,
    int SawOwnPort, IReadOnlyDictionary<string, int> BackendPort, IReadOnlyDictionary<string, int> ReplyFrom,
    IReadOnlyList<int> Ports, IReadOnlyList<int> Moved, IReadOnlyList<int>? MovedTo = null)
{
    /// <summary>Answers from <paramref name="backend"/> ("bck0"), whatever it saw as the client.</summary>
    public int CountOf(string backend)
    {
        int n = 0;
        foreach (var (k, v) in By)
            if (k.StartsWith(backend + " ", StringComparison.Ordinal)) n += v;
        return n;
    }

    /// <summary>The client addresses the backends saw (distinct).</summary>
    public IReadOnlySet<string> SeenClients()
    {
        var set = new HashSet<string>();
        foreach (var k in By.Keys) set.Add(k[(k.IndexOf(' ', StringComparison.Ordinal) + 1)..]);
        return set;
    }

    public override string ToString() =>
        $"ok={Ok} fail={Fail} errors=[{string.Join("; ", Errors)}] by={{{string.Join(", ", By.Select(kv => $"{kv.Key}: {kv.Value}"))}}} " +
        $"saw_own_port={SawOwnPort} backend_port={{{string.Join(", ", BackendPort.Select(kv => $"{kv.Key}: {kv.Value}"))}}} " +
        $"reply_from={{{string.Join(", ", ReplyFrom.Select(kv => $"{kv.Key}: {kv.Value}"))}}} moved=[{string.Join(", ", Moved.Select(i => Ports[i]))}] moved_to=[{string.Join(", ", MovedTo ?? [])}]";
}

/// <summary>One lab run: the probe results by spec, userlb's log and last status file.</summary>
public sealed record LabRun(IReadOnlyDictionary<string, ProbeResult> Probes, string UserlbLog, string Status)
{
    public ProbeResult this[string spec] => Probes[spec];

    public string Describe(string spec) => $"{spec}: {Probes[spec]}\n--- userlb log:\n{UserlbLog}\n--- status:\n{Status}";

    /// <summary>
    /// The client ports of <paramref name="spec"/> that the backend saw replaced by another and that no earlier
    /// connection of the run (same protocol, probes in <paramref name="order"/>) had used. SNAT keeps the client's
    /// port unless the reply tuple is taken (get_unique_tuple): farms mapping to the same backend port make a port reused
    /// within TIME_WAIT clash, and then another is picked. Any other change is a fault: this list should be empty.
    /// </summary>
    public IReadOnlyList<int> UnexplainedPortChanges(IReadOnlyList<string> order, string spec) =>
        UnexplainedPortChanges(Probes, order, spec);

    public static IReadOnlyList<int> UnexplainedPortChanges(IReadOnlyDictionary<string, ProbeResult> probes, IReadOnlyList<string> order, string spec)
    {
        var proto = spec[..spec.IndexOf(':', StringComparison.Ordinal)];
        var used = new HashSet<int>();
        foreach (var earlier in order)
        {
            if (earlier == spec) break;
            if (earlier.StartsWith(proto + ":", StringComparison.Ordinal) && probes.TryGetValue(earlier, out var e))
            {
                used.UnionWith(e.Ports);
                used.UnionWith(e.MovedTo ?? []); // a moved connection took its new port on the VIP's side
            }
        }
        var r = probes[spec];
        var unexplained = new List<int>();
        var movedTo = new Dictionary<int, int>(); // index into Ports → the port the backend saw instead
        for (int m = 0; m < r.Moved.Count; m++) movedTo[r.Moved[m]] = r.MovedTo is { } to && m < to.Count ? to[m] : -1;
        for (int i = 0; i < r.Ports.Count; i++)
        {
            if (movedTo.TryGetValue(i, out int to) && !used.Contains(r.Ports[i])) unexplained.Add(r.Ports[i]);
            used.Add(r.Ports[i]);
            if (to >= 0) used.Add(to);
        }
        return unexplained;
    }
}

/// <summary>
/// Builds the lab topology (lab/topo.sh, namespaces with the given prefix, removed afterwards), runs
/// <c>userlb run</c> in the LB namespace with the given farms, runs lab/probe.py from the client namespace and returns
/// what it observed. Needs root.
/// </summary>
public static class LiveLab
{
    public const string Vip = "192.168.101.250";
    public const string Client = "192.168.101.1";
    private static readonly ConcurrentDictionary<string, Lazy<LabRun>> Cache = new();

    public static bool IsRoot => Environment.UserName == "root";

    /// <summary>Reports the calling test as skipped, with the reason, unless running as root (namespaces need it).</summary>
    public static void SkipUnlessRoot() =>
        Skip.IfNot(IsRoot, $"needs root for network namespaces (running as {Environment.UserName})");

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "UserLB.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("UserLB.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The topology an engine needs: the TAP engine sits behind the LB namespace's routing, the others own veths.</summary>
    public static string TopologyOf(string engine) => engine == "tap" ? "tap" : "veth";

    /// <summary>The farms' iface/oface JSON for an engine in the lab topology.</summary>
    public static string IfacesOf(string engine) =>
        engine == "tap" ? "\"iface\":\"lbt\",\"oface\":\"lbt\"" : "\"iface\":\"lbc\",\"oface\":\"lbs\"";

    /// <summary>
    /// The lab/topo.sh arguments that build a lab: PREFIX KIND WORKDIR, then the veth offload setting when given ("on":
    /// every veth as created, tx checksum offload and TSO/GSO; "off": turned off with ethtool). Without one, lab/topo.sh's
    /// default: $LAB_OFFLOADS, else on.
    /// </summary>
    public static string TopoUp(string prefix, string kind, string work, string? offloads = null)
    {
        if (offloads is not (null or "on" or "off")) throw new ArgumentException($"offloads must be on or off, not {offloads}", nameof(offloads));
        return $"lab/topo.sh up {prefix} {kind} {work}" + (offloads is null ? "" : " " + offloads);
    }

    /// <summary>
    /// The first client port block (<see cref="ClientPortRange"/>) of a lab's probe runs: 0 for labs with offloads on
    /// or the default, 4 for labs with offloads off, so a lab's offloads-on and offloads-off runs (up to four probe runs
    /// each) never share a client port.
    /// </summary>
    public static int FirstPortBlock(string? offloads) => offloads == "off" ? 4 : 0;

    /// <summary>Runs (once per key; later calls get the cached result) the lab for one engine.</summary>
    public static LabRun RunOnce(string key, string prefix, string engine, string farmsJson, string[] probes, string[]? extraArgs = null, string? offloads = null) =>
        Cache.GetOrAdd(key, _ => new Lazy<LabRun>(() => Run(prefix, engine, farmsJson, probes, extraArgs, offloads))).Value;

    /// <summary>
    /// One lab per prefix at a time, across processes (other worktrees' test runs use the same prefixes): the lock file
    /// run-lab.sh flocks too. .NET takes an flock for FileShare.None; held until disposed.
    /// </summary>
    public static FileStream LockPrefix(string prefix)
    {
        Directory.CreateDirectory("/run/lock");
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream($"/run/lock/userlb-lab-{prefix}.lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (sw.Elapsed < TimeSpan.FromMinutes(5))
            {
                Thread.Sleep(200);
            }
        }
    }

    /// <summary>
    /// Builds the lab (<paramref name="offloads"/>: "on", "off", or null for lab/topo.sh's default), runs userlb and the
    /// probes once, removes the lab.
    /// </summary>
    public static LabRun Run(string prefix, string engine, string farmsJson, string[] probes, string[]? extraArgs = null, string? offloads = null)
    {
        using var labLock = LockPrefix(prefix);
        string root = RepoRoot();
        string work = Directory.CreateTempSubdirectory("userlb-livelab-").FullName;
        try
        {
            Sh(root, TopoUp(prefix, TopologyOf(engine), work, offloads), 60);
            string farms = Path.Combine(work, "farms.json");
            File.WriteAllText(farms, farmsJson);
            return RunUserlb(root, prefix, engine, farms, work, probes, extraArgs, FirstPortBlock(offloads));
        }
        finally
        {
            Sh(root, $"lab/topo.sh down {prefix}", 60, check: false);
            Directory.Delete(work, true);
        }
    }

    /// <summary>
    /// In a lab that is up (veth or tap topology): runs <c>userlb run</c> in the LB namespace, probes from the client,
    /// waits one status period and stops userlb (also on failure). <paramref name="firstPortBlock"/>: see <see cref="Probe"/>.
    /// </summary>
    public static LabRun RunUserlb(string root, string prefix, string engine, string farmsPath, string work, string[] probes, string[]? extraArgs = null, int firstPortBlock = 0)
    {
        int userlbPid = 0;
        try
        {
            string log = Path.Combine(work, $"userlb-{engine}.log");
            string statusPath = Path.Combine(work, $"status-{engine}");
            string extra = extraArgs is null ? "" : " " + string.Join(' ', extraArgs);
            userlbPid = LaunchUserlb(prefix, engine, farmsPath, log, $"--status-file {statusPath}{extra}", TimeSpan.FromSeconds(20));
            var result = Probe(root, prefix, probes, firstPortBlock);
            Thread.Sleep(2200); // two status-file periods: with workers, worker 0 writes the others' parts up to a period old
            Stop(ref userlbPid);
            string status = File.Exists(statusPath) ? File.ReadAllText(statusPath) : "";
            return new LabRun(result, File.ReadAllText(log), status);
        }
        finally
        {
            Stop(ref userlbPid);
        }
    }

    private static readonly ConcurrentDictionary<string, int> ProbeRuns = new();

    /// <summary>
    /// Runs lab/probe.py in the client namespace against the VIP, from client ports of this run's own
    /// (<see cref="ClientPortRange"/>): a load balancer that has just started (userlb after the kernel's rules, or after
    /// another engine, on the same backends) does not know the connections the backends still hold in TIME_WAIT (60 s),
    /// so it cannot steer a new connection's SNAT port around them as it does around its own. With two VIP ports mapped
    /// to one backend port, a client port reused from an earlier run can reach the backend as the same 4-tuple with an
    /// unrelated sequence number and timestamp (this kernel randomises both per connection), and the backend answers the
    /// SYN with an ACK, the client resets, and the SYN retried after 1 and 3 s can outlast the probe's 3 s timeout — a
    /// failure of the lab, not of the path (seen once in CI: SYN, SYN, RST from the client, one 52-byte ACK back).
    /// A lab's first probe run uses block <paramref name="firstPortBlock"/> (<see cref="FirstPortBlock"/>), each later
    /// one the next.
    /// </summary>
    public static Dictionary<string, ProbeResult> Probe(string root, string prefix, string[] probes, int firstPortBlock = 0)
    {
        var (low, high) = ClientPortRange(ProbeRuns.AddOrUpdate(prefix, firstPortBlock, (_, run) => run + 1));
        Sh(root, $"ip netns exec {prefix}c sysctl -qw net.ipv4.ip_local_port_range=\"{low} {high}\"", 10);
        return ParseProbes(Sh(root, $"ip netns exec {prefix}c python3 lab/probe.py {Vip} {string.Join(' ', probes)}", 240));
    }

    /// <summary>
    /// The client's ephemeral ports for a lab's <paramref name="run"/>-th probe run (0, 1, …): eight disjoint blocks of
    /// 5,000 (20000–24999, 25000–29999, … 55000–59999), in turn; the low end even and the high end odd, as the kernel
    /// prefers.
    /// </summary>
    public static (int Low, int High) ClientPortRange(int run)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(run);
        int low = 20000 + run % 8 * 5000;
        return (low, low + 4999);
    }

    /// <summary>
    /// Starts <c>userlb run</c> in the LB namespace of lab <paramref name="prefix"/> with <paramref name="farmsJson"/>
    /// (written to WORK/farms.json), logging to WORK/userlb.log; returns its pid once it says it is forwarding.
    /// </summary>
    public static int StartUserlb(string prefix, string work, string farmsJson, string engine, string extraArgs, int startSeconds = 30)
    {
        string farms = Path.Combine(work, "farms.json");
        File.WriteAllText(farms, farmsJson);
        return LaunchUserlb(prefix, engine, farms, Path.Combine(work, "userlb.log"), extraArgs, TimeSpan.FromSeconds(startSeconds));
    }

    /// <summary>Starts <c>userlb run</c> in the background in PREFIXlb, output to <paramref name="log"/>; returns its pid once it is forwarding.</summary>
    private static int LaunchUserlb(string prefix, string engine, string farmsPath, string log, string extraArgs, TimeSpan startLimit)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "userlb.dll");
        int pid = int.Parse(Sh(RepoRoot(), $"ip netns exec {prefix}lb dotnet {dll} run --config {farmsPath} --engine {engine} {extraArgs} >{log} 2>&1 & echo $!", 10).Trim(), CultureInfo.InvariantCulture);
        var sw = Stopwatch.StartNew();
        while (!File.ReadAllText(log).Contains("forwarding with", StringComparison.Ordinal))
        {
            if (sw.Elapsed > startLimit || !Alive(pid))
                throw new InvalidOperationException("userlb did not start:\n" + File.ReadAllText(log));
            Thread.Sleep(100);
        }
        return pid;
    }

    private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}");

    private static void Stop(ref int pid)
    {
        if (pid == 0) return;
        try
        {
            using var p = Process.GetProcessById(pid);
            p.Kill(); // SIGKILL is fine: the namespaces go away right after
            p.WaitForExit(5000);
        }
        catch (ArgumentException)
        {
            // already gone
        }
        pid = 0;
    }

    public static string Sh(string dir, string command, int timeoutSeconds, bool check = true)
    {
        var psi = new ProcessStartInfo("bash", ["-c", command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dir,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdoutTask = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000)) // a blocking ReadToEnd first would wait past the timeout
        {
            p.Kill(true);
            throw new TimeoutException($"`{command}` timed out after {timeoutSeconds} s");
        }
        string stdout = stdoutTask.Result;
        if (check && p.ExitCode != 0) throw new InvalidOperationException($"`{command}` exited {p.ExitCode}:\n{stdout}\n{stderr.Result}");
        return stdout;
    }

    public static Dictionary<string, ProbeResult> ParseProbes(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var result = new Dictionary<string, ProbeResult>();
        foreach (var spec in doc.RootElement.EnumerateObject())
        {
            var o = spec.Value;
            result[spec.Name] = new ProbeResult(
                o.GetProperty("ok").GetInt32(), o.GetProperty("fail").GetInt32(),
                [.. o.GetProperty("errors").EnumerateArray().Select(e => e.GetString() ?? "")],
                Counts(o.GetProperty("by")), o.GetProperty("saw_own_port").GetInt32(),
                Counts(o.GetProperty("backend_port")), Counts(o.GetProperty("reply_from")),
                Ints(o.GetProperty("ports")), Ints(o.GetProperty("moved")), Ints(o.GetProperty("moved_to")));
        }
        return result;
    }

    private static int[] Ints(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetInt32())];

    private static Dictionary<string, int> Counts(JsonElement e)
    {
        var d = new Dictionary<string, int>();
        foreach (var p in e.EnumerateObject()) d[p.Name] = p.Value.GetInt32();
        return d;
    }
}
