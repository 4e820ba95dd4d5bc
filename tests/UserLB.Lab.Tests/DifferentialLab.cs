using System.Collections.Concurrent;

namespace UserLB.Lab.Tests;

/// <summary>What the same probes observed through the kernel's reference rules and through userlb, in one lab.</summary>
public sealed record DifferentialRun(LabRun Kernel, IReadOnlyDictionary<string, LabRun> Userlb)
{
    public string Describe(string engine, string spec) =>
        $"kernel   {spec}: {Kernel[spec]}\nuserlb/{engine} {spec}: {Userlb[engine][spec]}\n--- kernel rule counters:\n{Kernel.Status}\n" +
        $"--- userlb log:\n{Userlb[engine].UserlbLog}\n--- userlb status (first 40 lines):\n{Head(Userlb[engine].Status, 40)}\n" +
        // Again at the end: CI keeps only the tail of a long failure message.
        $"--- observed\nkernel   {spec}: {Kernel[spec]}\nuserlb/{engine} {spec}: {Userlb[engine][spec]}";

    private static string Head(string text, int lines)
    {
        int at = 0;
        for (int i = 0; i < lines && at >= 0; i++) at = text.IndexOf('\n', at + 1);
        return at < 0 ? text : text[..at] + "\n…";
    }
}

/// <summary>
/// The differential lab: one veth topology (lab/topo.sh), the same farms and the same probes first through the LB
/// namespace's kernel loaded with the reference ruleset (<c>userlb rules --format save</c> into iptables-restore, the
/// VIP on lbc, IP forwarding on: Zevenet's L4xNAT), then — kernel rules flushed, VIP removed, forwarding off — through
/// <c>userlb run</c> with each engine in turn. Namespaces removed afterwards. Both sides run on the same veths, so with
/// the same offload setting: with offloads on (lab/topo.sh's default) the kernel path forwards partial checksums and
/// GSO super-frames too, as userlb must.
/// </summary>
public static class DifferentialLab
{
    private static readonly ConcurrentDictionary<string, Lazy<DifferentialRun>> Cache = new();

    /// <summary>Why the lab cannot run here (not root, iptables missing), or null.</summary>
    public static string? MissingRequirement()
    {
        if (!LiveLab.IsRoot) return $"needs root for network namespaces (running as {Environment.UserName})";
        foreach (var tool in new[] { "iptables", "iptables-restore", "ip", "python3" })
            if (!OnPath(tool)) return $"{tool} is missing (run-tests.sh installs it with apt-get)";
        return null;
    }

    private static bool OnPath(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, tool))) return true;
        return File.Exists("/usr/sbin/" + tool) || File.Exists("/sbin/" + tool);
    }

    public static DifferentialRun RunOnce(string prefix, string farmsJson, string[] probes, string[] engines, string? offloads = null) =>
        Cache.GetOrAdd(prefix, _ => new Lazy<DifferentialRun>(() => Run(prefix, farmsJson, probes, engines, offloads))).Value;

    /// <summary>The differential lab with veth offloads <paramref name="offloads"/> ("on", "off", null: lab/topo.sh's default) for both sides.</summary>
    public static DifferentialRun Run(string prefix, string farmsJson, string[] probes, string[] engines, string? offloads = null)
    {
        using var labLock = LiveLab.LockPrefix(prefix);
        string root = LiveLab.RepoRoot();
        string work = Directory.CreateTempSubdirectory("userlb-difflab-").FullName;
        string lb = $"ip netns exec {prefix}lb";
        try
        {
            LiveLab.Sh(root, LiveLab.TopoUp(prefix, "veth", work, offloads), 60);
            string farms = Path.Combine(work, "farms.json");
            File.WriteAllText(farms, farmsJson);
            string userlb = $"dotnet {Path.Combine(AppContext.BaseDirectory, "userlb.dll")}";

            // 1. The kernel with the reference rules.
            LiveLab.Sh(root, $"{userlb} rules --config {farms} --format save > {work}/rules.save", 30);
            LiveLab.Sh(root,
                $"ip -n {prefix}lb addr add {LiveLab.Vip}/32 dev lbc && {lb} sysctl -qw net.ipv4.ip_forward=1 && " +
                $"{lb} iptables-restore --noflush < {work}/rules.save", 30);
            int firstBlock = LiveLab.FirstPortBlock(offloads);
            var kernelProbes = LiveLab.Probe(root, prefix, probes, firstBlock);
            string counters = LiveLab.Sh(root, $"{lb} iptables -t mangle -n -v -L PREROUTING; {lb} iptables -t nat -n -v -L", 30);
            var kernel = new LabRun(kernelProbes, "", counters);

            // 2. userlb on the same lab: the kernel out of the way (as lab/topo.sh leaves it for userlb).
            LiveLab.Sh(root,
                $"{lb} iptables -t mangle -F && {lb} iptables -t nat -F && ip -n {prefix}lb addr del {LiveLab.Vip}/32 dev lbc && " +
                $"{lb} sysctl -qw net.ipv4.ip_forward=0", 30);
            var runs = new Dictionary<string, LabRun>();
            foreach (var engine in engines)
                runs[engine] = LiveLab.RunUserlb(root, prefix, engine, farms, work, probes, firstPortBlock: firstBlock);
            return new DifferentialRun(kernel, runs);
        }
        finally
        {
            LiveLab.Sh(root, $"lab/topo.sh down {prefix}", 60, check: false);
            Directory.Delete(work, true);
        }
    }
}
