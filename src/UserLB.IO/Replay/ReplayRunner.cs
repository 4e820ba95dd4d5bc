using System.Globalization;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.PcapFiles;
using UserLB.Packets;

namespace UserLB.IO.Replay;

public sealed record ReplayOptions
{
    public int? Seed { get; init; }
    /// <summary>The LB's own MAC. Null: the destination MAC of the first frame sent to a VIP, else the farm's ether-addr, else a default.</summary>
    public MacAddress? Mac { get; init; }
    public int MaxConnections { get; init; } = 262_144;
    public TextWriter? Trace { get; init; }
}

public sealed record ReplayResult(long FramesIn, long FramesOut, EngineCounters Counters, MacAddress Mac, string? ReadError);

/// <summary>
/// Offline replay: the capture's frames are what arrives at the LB, each frame's timestamp is the engine's clock, and every
/// frame the engine transmits is written to the output stamped with the time of the frame that caused it.
/// "Just another I/O engine", over capture files.
/// </summary>
public static class ReplayRunner
{
    public static ReplayResult Run(LoadBalancerConfig config, string inPath, string outPath, ReplayOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        EngineSupport.Validate(config);
        var snapshot = EngineSnapshot.Build(config, new IdRegistry(), null, 1);
        using var reader = PcapReader.Open(inPath);
        if (reader.LinkType != LinkTypes.Ethernet)
            throw new InvalidDataException($"{inPath}: link type {LinkTypes.Describe(reader.LinkType)} is not supported; capture on an Ethernet interface (tcpdump -i IFACE, not -i any)");
        var mac = options.Mac ?? InferOwnMac(inPath, snapshot) ?? FarmEtherAddr(config) ?? EngineOptions.DefaultMac;
        using var writer = PcapWriter.Create(outPath, LinkTypes.Ethernet, reader.NanosecondResolution);
        var sink = new CaptureSink(writer);
        var engine = new PacketEngine(new EngineOptions
        {
            Seed = options.Seed ?? 0,
            MaxConnections = options.MaxConnections,
            PortMacs = [mac],
            AcceptAnyDestinationMac = true,
        }, sink);
        engine.Apply(snapshot);
        if (options.Trace is { } tw)
        {
            engine.Trace = new TextTrace(tw);
            tw.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# userlb replay: {config.Farms.Length} farm(s), LB MAC {mac}, seed {options.Seed ?? 0}"));
        }
        long frames = 0;
        while (reader.TryReadNext(out var record))
        {
            frames++;
            sink.NowNs = record.TimestampNanos;
            if (record.LinkType != LinkTypes.Ethernet) continue;
            engine.Process(record.MutableData, 0, record.TimestampNanos);
        }
        writer.Flush();
        options.Trace?.Flush();
        return new ReplayResult(frames, sink.Written, engine.Counters, mac, reader.Error);
    }

    /// <summary>The LB's MAC as the capture shows it: the destination of the first unicast IP frame addressed to a VIP.</summary>
    private static MacAddress? InferOwnMac(string path, EngineSnapshot snapshot)
    {
        using var reader = PcapReader.Open(path);
        while (reader.TryReadNext(out var record))
        {
            if (PacketParser.Parse(record.Data, out var p) != DropReason.None || p.Kind != FrameKind.Ip) continue;
            var dst = MacAddress.Read(record.Data);
            if (!dst.IsMulticast && snapshot.LocalAddresses.Contains(p.Dst)) return dst;
        }
        return null;
    }

    private static MacAddress? FarmEtherAddr(LoadBalancerConfig config)
    {
        foreach (var f in config.Farms)
            if (MacAddress.TryParse(f.EtherAddr, out var m)) return m;
        return null;
    }

    private sealed class CaptureSink(PcapWriter writer) : IFrameSink
    {
        public long NowNs;
        public long Written;

        public void Send(ReadOnlySpan<byte> frame, int port)
        {
            writer.Write(NowNs, frame);
            Written++;
        }
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
