using UserLB.Cli.Api.Nftlb;
using UserLB.Engine.Config;
using UserLB.IO.Live;
using UserLB.IO.Routes;

namespace UserLB.Cli.Commands;

/// <summary>
/// <c>userlb check --config FILE</c>: what <c>userlb run</c> would make of a configuration, without running it: the
/// file parsed, the engine's support check (<see cref="EngineSupport"/>), the interfaces named, the farms that would
/// be stored but not placed, and the keys accepted but not acted on. Exit 0: runnable (warnings allowed); 1: errors.
/// </summary>
internal static class CheckCommand
{
    public const string Usage = """
        usage: userlb check --config FARMS.json [--engine afpacket|pcap|tap] [--iface IF[,IF...]]

        Checks a configuration as userlb run would load it, and prints one line per finding:
          error:    the file does not parse, a value cannot run in the engine, or an interface does not exist
          warning:  a farm would be stored but not placed (no iface), a key is accepted but does nothing here, or
                    this process lacks CAP_NET_RAW (userlb run as this user could not open the interfaces)
        and a last line with the counts. Exit status 0 when userlb run would start with it (warnings allowed), 1 when
        it would not, 2 for a usage error. --engine tap: missing interfaces are TAP devices userlb run creates.
        --iface: as userlb run's (interfaces to own; a farm without iface runs on the first).
        """;

    /// <summary>nftlb farm keys UserLB accepts, keeps and prints but does not act on (their nftlb default aside), and why.</summary>
    internal static readonly (string Key, string Why)[] InertFarmKeys =
    [
        ("helper", "no conntrack helpers (ftp, sip, ...) in the engine"),
        ("log", "no per-packet logging: userlb conntrack -E and replay --trace show connections"),
        ("log-prefix", "no per-packet logging"),
        ("log-rtlimit", "no per-packet logging"),
        ("rst-rtlimit", "not enforced yet"),
        ("rst-rtlimit-burst", "not enforced yet"),
        ("rst-rtlimit-log-prefix", "no per-packet logging"),
        ("new-rtlimit-log-prefix", "no per-packet logging"),
        ("est-connlimit-log-prefix", "no per-packet logging"),
        ("tcp-strict-log-prefix", "no per-packet logging"),
        ("queue", "no NFQUEUE: packets are not handed to another program"),
        ("verdict", "limits drop; there is no other verdict"),
        ("flow-offload", "no kernel flowtable (the engine's fast path is always on)"),
        ("intra-connect", "no kernel routing between backends"),
        ("fqdn", "names are not resolved"),
        ("iether-addr", "the interfaces' own MAC addresses are used"),
        ("oether-addr", "the interfaces' own MAC addresses are used"),
        ("responsettl", "not used by the engine"),
    ];

    /// <summary>nftlb backend keys UserLB keeps without acting on them, and why.</summary>
    internal static readonly (string Key, string Why)[] InertBackendKeys =
    [
        ("est-connlimit-log-prefix", "no per-packet logging"),
        ("oface", "a backend leaves through its farm's oface"),
    ];

    public static int Run(string[] argv) => Run(argv, Console.Out);

    /// <summary>Runs the check, writing its findings to <paramref name="output"/>; returns the exit status.
    /// <paramref name="status"/>: this process's <c>/proc/self/status</c> (its capabilities); null reads it.</summary>
    internal static int Run(string[] argv, TextWriter output, string? status = null, RouteTable? routes = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        var args = new Args(argv, ["config", "engine", "iface"], [], new Dictionary<string, string>(StringComparer.Ordinal) { ["c"] = "config" });
        if (args.Help) { output.WriteLine(Usage); return 0; }
        string path = args.Require("config");
        string engine = args.Get("engine") ?? "afpacket";
        if (engine is not ("afpacket" or "pcap" or "tap")) throw new UsageException($"option --engine: \"{engine}\" is not afpacket, pcap or tap");
        var extra = (args.Get("iface") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var findings = Check(path, engine, extra, routes ?? RouteWatcher.Dump(out _) ?? ProcRoutes.Read());
        if (engine != "tap" && MissingNetRaw(status ?? ReadStatus())) findings.Add((false, "this process has no CAP_NET_RAW: userlb run as this user cannot open raw sockets (root, or AmbientCapabilities=CAP_NET_RAW)"));
        foreach (var (error, text) in findings) output.WriteLine((error ? "error: " : "warning: ") + text);
        int errors = findings.Count(f => f.Error);
        output.WriteLine($"{path}: {errors} error(s), {findings.Count - errors} warning(s)");
        return errors > 0 ? 1 : 0;
    }

    /// <summary>The findings for <paramref name="path"/>: (true, text) for an error, (false, text) for a warning. Farms without
    /// <c>iface</c> or <c>oface</c> are placed by <paramref name="routes"/> as <c>userlb run</c> places them.</summary>
    internal static List<(bool Error, string Text)> Check(string path, string engine, IReadOnlyList<string> ifaces, RouteTable? routes = null)
    {
        var findings = new List<(bool, string)>();
        LoadBalancerConfig config;
        ConfigFile file;
        try
        {
            file = ConfigLoader.Split(File.ReadAllText(path));
            config = file.Config;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            findings.Add((true, $"cannot read {path}: {ex.Message}"));
            return findings;
        }
        catch (ConfigException ex)
        {
            findings.Add((true, ex.Message));
            return findings;
        }
        var unsupported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var farm in config.Farms)
        {
            try
            {
                EngineSupport.Validate(new LoadBalancerConfig { Farms = [farm] });
            }
            catch (ConfigException ex)
            {
                findings.Add((true, ex.Message));
                unsupported.Add(farm.Name);
            }
        }
        routes ??= RouteTable.Empty;
        List<string> names;
        string? defaultIface;
        try
        {
            (names, defaultIface) = RunRoutes.Opened(string.Join(',', ifaces), config, routes, engine); // what userlb run would open
        }
        catch (UsageException ex)
        {
            findings.Add((true, ex.Message));
            return findings;
        }
        if (engine != "tap")
        {
            foreach (var n in names)
            {
                try
                {
                    Interfaces.MacOf(n);
                }
                catch (InvalidOperationException ex)
                {
                    findings.Add((true, ex.Message));
                }
            }
        }
        NftlbState state;
        NftlbPlacement placement;
        try
        {
            state = file.Objects(); // the API's objects: what userlb run serves and places
            placement = new NftlbProjection(names, defaultIface, engine != "tap" ? () => routes : null).Place(state);
        }
        catch (Exception ex) when (ex is ConfigException or NftlbException or UsageException)
        {
            findings.Add((true, ex.Message));
            return findings;
        }
        foreach (var (farm, reason) in placement.Unplaced)
            if (!unsupported.Contains(farm)) findings.Add((false, $"farm \"{farm}\" would be stored but not placed: {reason}"));
        foreach (var what in placement.NotEnforced) findings.Add((false, "stored but not enforced: " + what));
        foreach (var f in state.Farms)
        {
            Inert(findings, $"farm \"{f.Name}\"", f, InertFarmKeys, NftlbKeys.Farm);
            foreach (var b in f.Backends) Inert(findings, $"farm \"{f.Name}\", backend \"{b.Name}\"", b, InertBackendKeys, NftlbKeys.Backend);
        }
        return findings;
    }

    /// <summary>Whether a <c>/proc/PID/status</c> text shows an effective capability set without CAP_NET_RAW (bit 13).</summary>
    internal static bool MissingNetRaw(string? status)
    {
        foreach (var line in (status ?? "").Split('\n'))
        {
            if (!line.StartsWith("CapEff:", StringComparison.Ordinal)) continue;
            return !ulong.TryParse(line.AsSpan(7).Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out ulong caps)
                || (caps & (1UL << 13)) == 0;
        }
        return false; // no capability line (not Linux): nothing to say
    }

    private static string? ReadStatus()
    {
        try
        {
            return File.ReadAllText("/proc/self/status");
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void Inert(List<(bool, string)> findings, string where, NftlbObject o, (string Key, string Why)[] inert, NftlbKey[] keys)
    {
        foreach (var (key, why) in inert)
        {
            if (!o.Values.TryGetValue(key, out var value) || value.Trim().Length == 0) continue;
            if (NftlbKeys.Find(keys, key) is { } k && k.Default.Trim() == value.Trim()) continue;
            findings.Add((false, $"{where}, key \"{key}\": \"{value.Trim()}\" is accepted but does nothing here ({why})"));
        }
    }
}
