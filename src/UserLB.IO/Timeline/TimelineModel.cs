using System.Globalization;
using UserLB.Engine.Conntrack;

namespace UserLB.IO.Timeline;

/// <summary>A stretch of a connection's life in one state: from <see cref="StartNs"/> to <see cref="EndNs"/>, with the timeout it was given.</summary>
public sealed record StateBand(string State, long StartNs, long EndNs, long TimeoutSeconds);

/// <summary>How a connection's lane ends: destroyed (by a packet or its timer), or alive at the end of the events with its deadline.</summary>
public sealed record LaneEnd(long TimeNs, bool Destroyed, bool ByTimer, long DeadlineNs);

/// <summary>One connection: its names, its state bands in order, its frames and how it ends.</summary>
public sealed record Lane(
    long Id, string Proto, string Title, string Translation, string? Farm, string? Backend,
    IReadOnlyList<StateBand> Bands, IReadOnlyList<PacketRecord> Packets, LaneEnd End);

/// <summary>What the timeline page draws: the lanes, one per connection in order of creation, and the time they span.</summary>
public sealed record TimelineModel(IReadOnlyList<Lane> Lanes, long StartNs, long EndNs, bool HasPackets)
{
    /// <summary>Reads an events file (conntrack events and PACKET lines); a bad line is an <see cref="InvalidDataException"/> naming it.</summary>
    public static TimelineModel Read(TextReader reader, string name)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var events = new List<ConnEventRecord>();
        var packets = new List<PacketRecord>();
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? error;
            if (PacketLine.IsPacketLine(line))
            {
                if (PacketLine.TryParse(line, lineNumber, out var p, out error)) { packets.Add(p!); continue; }
            }
            else if (ConntrackEventReader.TryParse(line, lineNumber, out var e, out error))
            {
                events.Add(e!);
                continue;
            }
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{name} line {lineNumber}: {error}"));
        }
        return Build(events, packets);
    }

    /// <summary>The lanes of these events and frames: a lane per connection id, bands from its NEW/UPDATE/DESTROY events.</summary>
    public static TimelineModel Build(IReadOnlyList<ConnEventRecord> events, IReadOnlyList<PacketRecord> packets)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(packets);
        long start = long.MaxValue, end = long.MinValue;
        foreach (var e in events) (start, end) = (Math.Min(start, e.TimeNs), Math.Max(end, e.TimeNs));
        foreach (var p in packets) (start, end) = (Math.Min(start, p.TimeNs), Math.Max(end, p.TimeNs));
        if (start > end) (start, end) = (0, 0);

        var byId = new Dictionary<long, List<ConnEventRecord>>();
        var order = new List<long>();
        foreach (var e in events)
        {
            if (!byId.TryGetValue(e.Id, out var list))
            {
                byId[e.Id] = list = [];
                order.Add(e.Id);
            }
            list.Add(e);
        }
        var framesById = new Dictionary<long, List<PacketRecord>>();
        foreach (var p in packets)
        {
            if (!framesById.TryGetValue(p.Id, out var list)) framesById[p.Id] = list = [];
            list.Add(p);
        }
        var lanes = new List<Lane>(order.Count);
        foreach (long id in order) lanes.Add(LaneOf(byId[id], framesById.GetValueOrDefault(id) ?? [], end));
        return new TimelineModel(lanes, start, end, packets.Count > 0);
    }

    private static Lane LaneOf(List<ConnEventRecord> events, List<PacketRecord> packets, long endNs)
    {
        var first = events[0];
        var bands = new List<StateBand>();
        LaneEnd? laneEnd = null;
        ConnEventRecord? last = null;
        foreach (var e in events)
        {
            if (last is not null) bands.Add(new StateBand(StateOf(last), last.TimeNs, e.TimeNs, last.Timeout));
            if (e.Event == "DESTROY")
            {
                laneEnd = new LaneEnd(e.TimeNs, true, e.CauseTimer is not null, e.TimeNs);
                last = null;
                break;
            }
            last = e;
        }
        if (last is not null)
        {
            bands.Add(new StateBand(StateOf(last), last.TimeNs, endNs, last.Timeout));
            laneEnd = new LaneEnd(endNs, false, false, last.TimeNs + last.Timeout * 1_000_000_000L);
        }
        var o = first.Original;
        var r = first.Reply;
        string title = string.Create(CultureInfo.InvariantCulture,
            $"#{first.Id} {first.Proto} {Endpoint(o.Src, o.Sport)} → {Endpoint(o.Dst, o.Dport)}");
        string nat = string.Create(CultureInfo.InvariantCulture, $"DNAT to {Endpoint(r.Src, r.Sport)}")
            + (r.Dst != o.Src ? string.Create(CultureInfo.InvariantCulture, $", SNAT to {Endpoint(r.Dst, r.Dport)}") : "");
        long? seqOffset = null;
        foreach (var e in events)
            if (e.SeqOffset is { } offset) seqOffset = offset;
        if (seqOffset is { } shift) nat += string.Create(CultureInfo.InvariantCulture, $"; SYN proxy: backend seq + {shift}");
        string? farm = first.Farm, backend = first.Backend;
        return new Lane(first.Id, first.Proto, title, nat, farm, backend, bands, packets, laneEnd!);
    }

    /// <summary>A band's name: the TCP state, else conntrack's status (UNREPLIED, REPLIED, ASSURED).</summary>
    public static string StateOf(ConnEventRecord e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.State ?? (e.Assured ? "ASSURED" : e.SeenReply ? "REPLIED" : "UNREPLIED");
    }

    private static string Endpoint(string ip, int port) => ip.Contains(':', StringComparison.Ordinal)
        ? string.Create(CultureInfo.InvariantCulture, $"[{ip}]:{port}")
        : string.Create(CultureInfo.InvariantCulture, $"{ip}:{port}");
}
