using System.Globalization;
using UserLB.Engine.Config;
using UserLB.IO.Replay;
using UserLB.Packets;

namespace UserLB.Cli.Commands;

internal static class ReplayCommand
{
    public const string Usage = """
        usage: userlb replay --config FARMS.json --in IN.pcap --out OUT.pcap [--out-format pcap|pcapng] [--events EVENTS.jsonl]
                             [--packet-events] [--timeline PAGE.html] [--seed N] [--trace] [--mac MAC] [--max-conns N]

        Runs the packet engine offline over a capture of the frames arriving at the LB (from clients and backends alike).
          --config     farms in nftlb's JSON format ({"farms":[...]})
          --in         libpcap or pcapng capture, Ethernet link type; each frame's timestamp is the engine's clock;
                       - reads standard input. A pcapng comment line "vnet: needs_csum start=34 offset=16 …" gives a
                       frame's offload state (partial checksum, GSO super-frame)
          --out        receives every frame the engine transmits, in order, stamped with the time of the frame that caused it;
                       - writes standard output
          --out-format pcap (the default; frames with offloads completed and segmented in software) or pcapng (the
                       default for a name ending in .pcapng): the input's frames on an interface "input" and the frames
                       sent on the LB port's, with directions and each frame's story as a comment; frames sent as sent,
                       offloads in a "vnet: …" comment line
          --events     write conntrack's events (NEW, UPDATE, DESTROY) as JSON lines: time, entry id, TCP state, timeout,
                       both tuples, counters, mark, farm, backend and cause (the packet's number, or the timeout); - for
                       standard output
          --packet-events  with --events: also a PACKET line per frame of a connection (its number, direction, summary,
                       verdict, NAT translation and backend), what userlb timeline needs to draw the frames
          --timeline   write the run's timeline: one self-contained HTML page, a lane per connection with its conntrack
                       states as coloured bands, its frames as ticks and its timers (as userlb timeline draws it)
          --seed N     makes random choices (weight scheduler, hash key, NAT port search) repeatable (default 0)
          --trace      print each frame's story: farm, backend and why, mark, DNAT/SNAT, conntrack entry, or the drop reason
          --mac MAC    the LB's own MAC (default: the destination MAC of the first frame sent to a VIP)
          --max-conns  connection table size (nf_conntrack_max, default 262144)
        Progress (frames/s, % of the file) is shown on standard error when it is a terminal.
        Exit status: 0 once the capture is processed (a capture cut short or corrupt is replayed up to there, with a warning);
        2 for a missing file, an unreadable capture or an invalid config.
        """;

    public static int Run(string[] argv)
    {
        var args = new Args(argv, ["config", "in", "out", "out-format", "events", "seed", "mac", "max-conns", "timeline"], ["trace", "packet-events"]);
        if (args.Help) { Console.Out.WriteLine(Usage); return 0; }
        string configPath = args.Require("config");
        string inPath = args.Require("in");
        string outPath = args.Require("out");
        string? eventsPath = args.Get("events");
        string? timelinePath = args.Get("timeline");
        if (args.Has("packet-events") && eventsPath is null) throw new UsageException("--packet-events goes with --events");
        args.TryGetInt("seed", out int? seed);
        args.TryGetInt("max-conns", out int? maxConns);
        MacAddress? mac = null;
        if (args.Get("mac") is { } m)
        {
            if (!MacAddress.TryParse(m, out var parsed)) throw new UsageException($"option --mac: \"{m}\" is not a MAC address");
            mac = parsed;
        }
        ReplayFormat format = ReplayFormats.FromPath(outPath);
        if (args.Get("out-format") is { } f && !ReplayFormats.TryParse(f, out format))
            throw new UsageException($"option --out-format: \"{f}\" is not pcap or pcapng");
        bool trace = args.Has("trace");
        int toStdout = (outPath == "-" ? 1 : 0) + (eventsPath == "-" ? 1 : 0) + (timelinePath == "-" ? 1 : 0) + (trace ? 1 : 0);
        if (toStdout > 1)
            throw new UsageException("--out -, --events -, --timeline - and --trace all write standard output: give at most one of them");
        if (inPath != "-" && !File.Exists(inPath)) throw new UsageException($"--in {inPath}: no such file");
        var config = ConfigLoader.Load(configPath);

        using var events = eventsPath is null ? null : eventsPath == "-" ? Console.OpenStandardOutput() : Create(eventsPath, "--events");
        using var timeline = timelinePath is null ? null
            : new StreamWriter(timelinePath == "-" ? Console.OpenStandardOutput() : Create(timelinePath, "--timeline"), new System.Text.UTF8Encoding(false));
        var progress = Console.IsErrorRedirected ? null : new ProgressLine(inPath == "-" ? "standard input" : inPath);
        var options = new ReplayOptions
        {
            Seed = seed,
            Mac = mac,
            MaxConnections = maxConns ?? 262_144,
            Trace = trace ? Console.Out : null,
            Format = format,
            Events = events,
            PacketEvents = args.Has("packet-events"),
            Timeline = timeline,
            Progress = progress is null ? null : progress.Show,
        };
        ReplayResult result;
        Stream? input = null, output = null;
        try
        {
            if (inPath != "-" && outPath != "-")
            {
                result = ReplayRunner.Run(config, inPath, outPath, options);
            }
            else
            {
                input = inPath == "-" ? Console.OpenStandardInput() : OpenRead(inPath);
                output = outPath == "-" ? Console.OpenStandardOutput() : Create(outPath, "--out");
                result = ReplayRunner.Run(config, input, inPath == "-" ? "standard input" : inPath, output, options);
            }
        }
        finally
        {
            progress?.Clear();
            output?.Dispose();
            input?.Dispose();
        }
        var c = result.Counters;
        var drops = new List<string>();
        for (int i = 1; i < c.Drops.Length; i++)
            if (c.Drops[i] > 0) drops.Add(string.Create(CultureInfo.InvariantCulture, $"{((DropReason)i).Name()}={c.Drops[i]}"));
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"userlb replay: {result.FramesIn} frames in, {result.FramesOut} out (forwarded {c.Forwarded}, handled by the LB {c.Consumed} (ARP/NDP/echo), dropped {c.Dropped}{(drops.Count > 0 ? ": " + string.Join(' ', drops) : "")}; {c.NewFlows} connections; LB MAC {result.Mac})"));
        if (eventsPath is not null) Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"userlb replay: {result.EventsWritten} conntrack events written to {(eventsPath == "-" ? "standard output" : eventsPath)}"));
        if (timelinePath is not null) Console.Error.WriteLine($"userlb replay: timeline written to {(timelinePath == "-" ? "standard output" : timelinePath)}");
        if (result.ReadError is not null) Console.Error.WriteLine($"userlb replay: warning: {result.ReadError}");
        return 0;
    }

    private static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);

    internal static FileStream Create(string path, string option)
    {
        try
        {
            return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 64 * 1024);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{option} {path}: {ex.Message}");
        }
    }

    /// <summary>One line on a terminal's standard error, rewritten in place: frames, % of the file, frames/s.</summary>
    private sealed class ProgressLine(string input)
    {
        private bool _shown;

        public void Show(ReplayProgress p)
        {
            string percent = p.Percent is { } pc ? string.Create(CultureInfo.InvariantCulture, $", {pc:F0}% of {input}") : "";
            Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r\x1b[2Kuserlb replay: {p.Frames} frames{percent}, {p.FramesPerSecond:F0} frames/s"));
            _shown = true;
        }

        public void Clear()
        {
            if (_shown) Console.Error.Write("\r\x1b[2K");
        }
    }
}
