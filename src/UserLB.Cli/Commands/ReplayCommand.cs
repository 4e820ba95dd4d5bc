using System.Globalization;
using UserLB.Engine.Config;
using UserLB.IO.Replay;
using UserLB.Packets;

namespace UserLB.Cli.Commands;

internal static class ReplayCommand
{
    public const string Usage = """
        usage: userlb replay --config FARMS.json --in IN.pcap --out OUT.pcap [--seed N] [--trace] [--mac MAC] [--max-conns N]

        Runs the packet engine offline over a capture of the frames arriving at the LB (from clients and backends alike).
          --config     farms in nftlb's JSON format ({"farms":[...]})
          --in         libpcap or pcapng capture, Ethernet link type; each frame's timestamp is the engine's clock
          --out        receives every frame the engine transmits, in order, stamped with the time of the frame that caused it
          --seed N     makes random choices (weight scheduler, hash key, NAT port search) repeatable (default 0)
          --trace      print each frame's story: farm, backend and why, mark, DNAT/SNAT, conntrack entry, or the drop reason
          --mac MAC    the LB's own MAC (default: the destination MAC of the first frame sent to a VIP)
          --max-conns  connection table size (nf_conntrack_max, default 262144)
        Exit status: 0 once the capture is processed; 2 for a missing file, an unreadable capture or an invalid config.
        """;

    public static int Run(string[] argv)
    {
        var args = new Args(argv, ["config", "in", "out", "seed", "mac", "max-conns"], ["trace"]);
        if (args.Help) { Console.Out.WriteLine(Usage); return 0; }
        string configPath = args.Require("config");
        string inPath = args.Require("in");
        string outPath = args.Require("out");
        args.TryGetInt("seed", out int? seed);
        args.TryGetInt("max-conns", out int? maxConns);
        MacAddress? mac = null;
        if (args.Get("mac") is { } m)
        {
            if (!MacAddress.TryParse(m, out var parsed)) throw new UsageException($"option --mac: \"{m}\" is not a MAC address");
            mac = parsed;
        }
        if (!File.Exists(inPath)) throw new UsageException($"--in {inPath}: no such file");
        var config = ConfigLoader.Load(configPath);
        var result = ReplayRunner.Run(config, inPath, outPath, new ReplayOptions
        {
            Seed = seed,
            Mac = mac,
            MaxConnections = maxConns ?? 262_144,
            Trace = args.Has("trace") ? Console.Out : null,
        });
        var c = result.Counters;
        var drops = new List<string>();
        for (int i = 1; i < c.Drops.Length; i++)
            if (c.Drops[i] > 0) drops.Add(string.Create(CultureInfo.InvariantCulture, $"{((DropReason)i).Name()}={c.Drops[i]}"));
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"userlb replay: {result.FramesIn} frames in, {result.FramesOut} out (forwarded {c.Forwarded}, handled by the LB {c.Consumed} (ARP/NDP/echo), dropped {c.Dropped}{(drops.Count > 0 ? ": " + string.Join(' ', drops) : "")}; {c.NewFlows} connections; LB MAC {result.Mac})"));
        if (result.ReadError is not null) Console.Error.WriteLine($"userlb replay: warning: {result.ReadError}");
        return 0;
    }
}

internal static class ConfigLoader
{
    public static LoadBalancerConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--config {path}: {ex.Message}");
        }
        var config = ConfigParser.Parse(text);
        EngineSupport.Validate(config);
        return config;
    }
}
