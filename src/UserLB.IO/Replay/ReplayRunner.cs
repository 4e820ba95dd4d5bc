using System.Diagnostics;
using System.Globalization;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.PcapFiles;
using UserLB.Packets;

namespace UserLB.IO.Replay;

/// <summary>The output file's format.</summary>
public enum ReplayFormat
{
    /// <summary>Classic libpcap: the frames the engine sends, as the wire would carry them.</summary>
    Pcap,

    /// <summary>pcapng: the input's frames and the frames sent, on named interfaces, with directions and each frame's story.</summary>
    PcapNg,
}

public static class ReplayFormats
{
    /// <summary>pcapng for a name ending in .pcapng, else classic pcap.</summary>
    public static ReplayFormat FromPath(string path) =>
        path.EndsWith(".pcapng", StringComparison.OrdinalIgnoreCase) ? ReplayFormat.PcapNg : ReplayFormat.Pcap;

    public static bool TryParse(string text, out ReplayFormat format)
    {
        switch (text)
        {
            case "pcap": format = ReplayFormat.Pcap; return true;
            case "pcapng": format = ReplayFormat.PcapNg; return true;
            default: format = default; return false;
        }
    }
}

/// <summary>How far a replay has come: frames and bytes read, the input's size when known, the time it took.</summary>
public readonly record struct ReplayProgress(long Frames, long BytesRead, long? TotalBytes, TimeSpan Elapsed)
{
    public double? Percent => TotalBytes is > 0 ? 100.0 * BytesRead / TotalBytes.Value : null;
    public double FramesPerSecond => Elapsed.TotalSeconds > 0 ? Frames / Elapsed.TotalSeconds : 0;
}

public sealed record ReplayOptions
{
    public int? Seed { get; init; }
    /// <summary>The LB's own MAC. Null: the destination MAC of the first frame sent to a VIP, else the farm's ether-addr, else a default.</summary>
    public MacAddress? Mac { get; init; }
    public int MaxConnections { get; init; } = 262_144;
    public TextWriter? Trace { get; init; }
    /// <summary>The output's format; null: by the output file's extension (.pcapng), classic pcap for a stream.</summary>
    public ReplayFormat? Format { get; init; }
    /// <summary>Receives the conntrack events as JSON lines (<see cref="Engine.Conntrack.ConntrackEventJson"/>), or null.</summary>
    public Stream? Events { get; init; }
    /// <summary>Also write a PACKET line per frame of a connection to <see cref="Events"/> (<see cref="Timeline.PacketLine"/>).</summary>
    public bool PacketEvents { get; init; }
    /// <summary>Receives the timeline page (<see cref="Timeline.TimelinePage"/>) of the run's connections, or null.</summary>
    public TextWriter? Timeline { get; init; }
    /// <summary>Called every <see cref="ProgressInterval"/> while replaying, and once at the end.</summary>
    public Action<ReplayProgress>? Progress { get; init; }
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(500);
}

public sealed record ReplayResult(long FramesIn, long FramesOut, EngineCounters Counters, MacAddress Mac, string? ReadError)
{
    /// <summary>Conntrack events written to <see cref="ReplayOptions.Events"/>.</summary>
    public long EventsWritten { get; init; }
    public ReplayFormat Format { get; init; }
}

/// <summary>
/// Offline replay: the capture's frames are what arrives at the LB, each frame's timestamp is the engine's clock, and every
/// frame the engine transmits is written to the output stamped with the time of the frame that caused it.
/// "Just another I/O engine", over capture files.
/// </summary>
public static class ReplayRunner
{
    /// <summary>Replays the capture at <paramref name="inPath"/> into <paramref name="outPath"/> (format: the options', else by extension).</summary>
    public static ReplayResult Run(LoadBalancerConfig config, string inPath, string outPath, ReplayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(outPath);
        using var input = new FileStream(inPath, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
        FileStream? output = null;
        try
        {
            // The output file is created once the input is known to be a capture.
            return Run(config, input, inPath,
                () => output = new FileStream(outPath, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.Read, BufferSize = 0 }),
                options with { Format = options.Format ?? ReplayFormats.FromPath(outPath) });
        }
        finally
        {
            output?.Dispose();
        }
    }

    /// <summary>Replays the capture read from <paramref name="input"/> (a file or a pipe) into <paramref name="output"/>; neither is closed.</summary>
    public static ReplayResult Run(LoadBalancerConfig config, Stream input, string inputName, Stream output, ReplayOptions options)
    {
        ArgumentNullException.ThrowIfNull(output);
        return Run(config, input, inputName, () => output, options);
    }

    private static ReplayResult Run(LoadBalancerConfig config, Stream input, string inputName, Func<Stream> openOutput, ReplayOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        EngineSupport.Validate(config);
        var snapshot = EngineSnapshot.Build(config, new IdRegistry(), null, 1);
        long? totalBytes = input.CanSeek ? input.Length - input.Position : null;
        ReplayInput? lookAhead = null;
        var inferred = options.Mac is null ? ReplayInput.InferOwnMac(input, inputName, snapshot, out lookAhead) : null;
        using var reader = lookAhead ?? new ReplayInput(new PcapReader(input, inputName, leaveOpen: true));
        if (reader.Reader.LinkType != LinkTypes.Ethernet)
            throw new InvalidDataException($"{inputName}: link type {LinkTypes.Describe(reader.Reader.LinkType)} is not supported; capture on an Ethernet interface (tcpdump -i IFACE, not -i any)");
        var mac = options.Mac ?? inferred ?? FarmEtherAddr(config) ?? EngineOptions.DefaultMac;
        var format = options.Format ?? ReplayFormat.Pcap;
        bool pcapng = format == ReplayFormat.PcapNg;
        bool nanos = reader.Reader.NanosecondResolution;

        PacketEngine? engine = null;
        using var timeline = options.Timeline is null ? null : new MemoryStream();
        var observer = options.Trace is not null || pcapng || options.Events is not null || timeline is not null
            ? new ReplayObserver(options.Trace is { } tw ? new TextTrace(tw) : null, options.Events, pcapng, () => engine!.Snapshot, timeline, options.PacketEvents)
            : null;
        var output = openOutput();
        using IReplayOutput sink = pcapng
            ? new PcapNgReplayOutput(new PcapNgWriter(output, nanos, leaveOpen: true), observer!, PortNames(config), $"frames arriving at the LB, read from {inputName}")
            : new PcapReplayOutput(new PcapWriter(output, LinkTypes.Ethernet, nanos, leaveOpen: true));
        engine = new PacketEngine(new EngineOptions
        {
            Seed = options.Seed ?? 0,
            MaxConnections = options.MaxConnections,
            PortMacs = [mac],
            AcceptAnyDestinationMac = true,
        }, sink);
        engine.Apply(snapshot);
        if (options.Trace is not null || pcapng || observer?.WantsPackets == true) engine.Trace = observer;
        if (observer is not null) engine.Table.Events = observer;
        options.Trace?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# userlb replay: {config.Farms.Length} farm(s), LB MAC {mac}, seed {options.Seed ?? 0}"));

        long frames = 0;
        string? error = null;
        var clock = Stopwatch.StartNew();
        var nextProgress = options.ProgressInterval;
        byte[]? received = pcapng ? new byte[PcapReader.MaxCaptureLength] : null;
        try
        {
            while (reader.TryReadNext(out var record))
            {
                if (!ReplayInput.TryGetOffload(record.Comments, out var offload, out string? why))
                {
                    error = string.Create(CultureInfo.InvariantCulture, $"{inputName}: record #{frames + 1}: {why}; replay stopped there");
                    break;
                }
                frames++;
                if (record.LinkType != LinkTypes.Ethernet) continue;
                observer?.BeginFrame(frames);
                sink.BeginFrame(record.TimestampNanos);
                int length = record.Data.Length;
                if (received is not null) record.Data.CopyTo(received);
                engine.Process(record.MutableData, 0, record.TimestampNanos, offload);
                sink.EndFrame(frames, received is null ? [] : received.AsSpan(0, length), record.Data, offload);
                observer?.EndFrame(record.TimestampNanos, length);
                if (options.Progress is not null && (frames & 1023) == 0 && clock.Elapsed >= nextProgress)
                {
                    options.Progress(new ReplayProgress(frames, reader.Reader.BytesRead, totalBytes, clock.Elapsed));
                    nextProgress = clock.Elapsed + options.ProgressInterval;
                }
            }
        }
        finally
        {
            // Whatever happened, what was written so far reaches the files.
            sink.Flush();
            options.Events?.Flush();
            options.Trace?.Flush();
            if (timeline is not null) WriteTimeline(timeline, options.Timeline!, inputName);
        }
        options.Progress?.Invoke(new ReplayProgress(frames, reader.Reader.BytesRead, totalBytes, clock.Elapsed));
        return new ReplayResult(frames, sink.Written, engine.Counters, mac, error ?? reader.Reader.Error)
        {
            EventsWritten = observer?.EventsWritten ?? 0,
            Format = format,
        };
    }

    /// <summary>The timeline page of the events and frames gathered in <paramref name="lines"/> (JSON lines).</summary>
    private static void WriteTimeline(MemoryStream lines, TextWriter output, string inputName)
    {
        lines.Position = 0;
        using var reader = new StreamReader(lines, leaveOpen: true);
        output.Write(Timeline.TimelinePage.Render(Timeline.TimelineModel.Read(reader, "timeline"), inputName));
        output.Flush();
    }

    /// <summary>
    /// The name of replay's one LB port in a pcapng output: the interfaces the farms name (iface, oface), joined by '+'
    /// when they name several (replay runs them all as one port); "port0" when they name none.
    /// </summary>
    internal static IReadOnlyList<string> PortNames(LoadBalancerConfig config)
    {
        var names = new List<string>();
        foreach (var f in config.Farms)
        {
            foreach (var name in new[] { f.Iface, f.Oface })
                if (!string.IsNullOrEmpty(name) && !names.Contains(name)) names.Add(name);
        }

        return [names.Count == 0 ? "port0" : string.Join('+', names)];
    }

    private static MacAddress? FarmEtherAddr(LoadBalancerConfig config)
    {
        foreach (var f in config.Farms)
            if (MacAddress.TryParse(f.EtherAddr, out var m)) return m;
        return null;
    }
}

/// <summary>Writes the engine's per-frame story as text.</summary>
public sealed class TextTrace(TextWriter writer) : IPacketTrace
{
    public void Frame(long frameNumber, long nowNs, string summary)
    {
        long s = Math.DivRem(nowNs, 1_000_000_000L, out long ns);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"#{frameNumber} {s}.{ns / 1000:D6} {summary}"));
    }

    public void Step(string text)
    {
        writer.Write("    ");
        writer.WriteLine(text);
    }
}
