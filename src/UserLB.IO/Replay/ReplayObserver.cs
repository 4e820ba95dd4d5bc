using System.Buffers;
using System.Globalization;
using UserLB.Engine;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.IO.Timeline;
using UserLB.Packets;

namespace UserLB.IO.Replay;

/// <summary>A conntrack event during one frame, with what changed, from its leading separator on: " SYN_SENT, timeout 120 s", ", timeout 30 s", " (timeout, expired at …)" (for the frame's story).</summary>
internal readonly record struct FrameEvent(ConnEventType Type, uint Id, string Change, ConnEventCause Cause);

/// <summary>What replay knows of a connection from its NEW event: farm and backend names and its translations.</summary>
internal sealed class ConnInfo
{
    public required string? Farm { get; init; }
    public required string? Backend { get; init; }
    /// <summary>"DNAT to 192.168.1.10:443" or with ", SNAT to 192.168.101.250:40001".</summary>
    public required string Original { get; init; }
    /// <summary>What the reply direction's rewrite restores: "source back to VIP:port[, destination back to client:port]".</summary>
    public required string Reply { get; init; }
    /// <summary>The TCP or SCTP state as conntrack names it (null for other protocols).</summary>
    public string? State { get; set; }
    public bool SeenReply { get; set; }
    public bool Assured { get; set; }
}

/// <summary>
/// Watches one replay: the engine's per-frame story (<see cref="IPacketTrace"/>, passed on to <c>--trace</c>'s writer)
/// and the connection table's events (<see cref="IConntrackEvents"/>), which it writes as JSON lines with their cause
/// (the capture's packet number, or the timeout) when an events stream is given, and keeps per frame for the pcapng
/// comments.
/// </summary>
internal sealed class ReplayObserver : IPacketTrace, IConntrackEvents
{
    private const int MaxConnectionsKept = 1 << 20;
    private readonly IPacketTrace? _inner;
    private readonly Stream? _events;
    private readonly Stream? _timeline;
    private readonly bool _packetEvents;
    private readonly Func<EngineSnapshot> _snapshot;
    private readonly ArrayBufferWriter<byte> _line = new(512);
    private readonly Dictionary<uint, ConnInfo> _connections = [];
    /// <summary>Connections destroyed during the current frame: the frame's PACKET line still names their translation.</summary>
    private readonly Dictionary<uint, ConnInfo> _destroyed = [];

    /// <param name="inner">--trace's writer, or null.</param>
    /// <param name="events">receives the events as JSON lines (and PACKET lines when <paramref name="packetEvents"/>), or null.</param>
    /// <param name="collectStory">keep each frame's steps and events (pcapng comments and PACKET lines need them).</param>
    /// <param name="snapshot">the engine's farms, for names.</param>
    /// <param name="timeline">receives every event and PACKET line, for the timeline page, or null.</param>
    /// <param name="packetEvents">write a PACKET line per frame of a connection to <paramref name="events"/>.</param>
    public ReplayObserver(IPacketTrace? inner, Stream? events, bool collectStory, Func<EngineSnapshot> snapshot, Stream? timeline = null, bool packetEvents = false)
    {
        _inner = inner;
        _events = events;
        _timeline = timeline;
        _packetEvents = packetEvents && events is not null;
        CollectStory = collectStory || _packetEvents || timeline is not null;
        _snapshot = snapshot;
    }

    /// <summary>Whether frames' stories are wanted (then the engine's trace must be attached).</summary>
    public bool WantsPackets => _packetEvents || _timeline is not null;

    /// <summary>Keep each frame's steps and events (pcapng comments need them).</summary>
    public bool CollectStory { get; }

    /// <summary>The capture's number of the frame being processed (1 = its first).</summary>
    public long Packet { get; private set; }
    public string? Summary { get; private set; }
    public List<string> Steps { get; } = [];
    public List<FrameEvent> Events { get; } = [];
    public long EventsWritten { get; private set; }

    public void BeginFrame(long packet)
    {
        Packet = packet;
        Summary = null;
        Steps.Clear();
        Events.Clear();
        _destroyed.Clear();
    }

    public ConnInfo? Connection(uint id) => _connections.GetValueOrDefault(id);

    void IPacketTrace.Frame(long frameNumber, long nowNs, string summary)
    {
        Summary = summary;
        _inner?.Frame(frameNumber, nowNs, summary);
    }

    void IPacketTrace.Step(string text)
    {
        if (CollectStory) Steps.Add(text);
        _inner?.Step(text);
    }

    public void OnEvent(ConnEventType type, in ConnEntry entry, long nowNs)
    {
        var cause = ConnEventCause.Of(type, entry, nowNs, Packet);
        string? oldState = null;
        string change;
        ConnInfo? info;
        if (type == ConnEventType.New)
        {
            info = Describe(entry);
            if (_connections.Count < MaxConnectionsKept) _connections[entry.Id] = info;
            change = StateText(entry);
        }
        else
        {
            _connections.TryGetValue(entry.Id, out info);
            if (info is not null) oldState = info.State;
            change = type == ConnEventType.Update ? UpdateText(info, entry) : "";
            if (type == ConnEventType.Destroy && _connections.Remove(entry.Id, out var gone)) _destroyed[entry.Id] = gone;
        }
        if (info is not null)
        {
            info.State = ConntrackFormatter.StateName(entry);
            info.SeenReply = entry.SeenReply;
            info.Assured = entry.Assured;
        }
        if (type != ConnEventType.Destroy)
            change += Inv($", timeout {Math.Max(0, (entry.ExpiresNs - nowNs + 999_999_999) / 1_000_000_000)} s");
        if (cause.Timeout) change += Inv($" (timeout, expired at {ReplayStory.Time(cause.ExpiredNs)})");
        if (CollectStory) Events.Add(new FrameEvent(type, entry.Id, change, cause));
        if (_events is null && _timeline is null) return;
        _line.Clear();
        ConntrackEventJson.Write(_line, type, entry, nowNs, cause, new ConnEventContext(info?.Farm, info?.Backend, oldState));
        _line.Write("\n"u8);
        _timeline?.Write(_line.WrittenSpan);
        if (_events is null) return;
        _events.Write(_line.WrittenSpan);
        EventsWritten++;
    }

    /// <summary>
    /// After a frame: its PACKET line (<see cref="PacketLine"/>) when the frame belongs to a connection, for
    /// <c>--packet-events</c> and the timeline.
    /// </summary>
    public void EndFrame(long nowNs, int length)
    {
        if (!WantsPackets || !ReplayStory.TryConnectionOf(this, out uint id, out bool reply)) return;
        var info = Connection(id) ?? _destroyed.GetValueOrDefault(id);
        _line.Clear();
        PacketLine.Write(_line, nowNs, Packet, id, reply, Summary ?? "", length, ReplayStory.Verdict(this, out string? drop), drop,
            info is null ? null : reply ? info.Reply : info.Original, info?.Farm, info?.Backend);
        _line.Write("\n"u8);
        _timeline?.Write(_line.WrittenSpan);
        if (_packetEvents) _events!.Write(_line.WrittenSpan);
    }

    private static string StateText(in ConnEntry e) =>
        ConntrackFormatter.StateName(e) is { } name ? " " + name : "";

    private static string UpdateText(ConnInfo? before, in ConnEntry e)
    {
        var parts = new List<string>(3);
        if (ConntrackFormatter.StateName(e) is { } state)
            parts.Add(before?.State is { } old && old != state ? old + " → " + state : state);
        if (e.SeenReply && before is { SeenReply: false }) parts.Add("first reply");
        if (e.Assured && before is { Assured: false }) parts.Add("ASSURED");
        return parts.Count == 0 ? "" : " " + string.Join(", ", parts);
    }

    /// <summary>The connection's names and translations, from its entry: the reply tuple says where each direction goes.</summary>
    private ConnInfo Describe(in ConnEntry e)
    {
        var snapshot = _snapshot();
        string? farm = null;
        foreach (var f in snapshot.Farms)
            if (f.Id == e.FarmId) { farm = f.Name; break; }
        var o = e.Original;
        var r = e.Reply;
        bool snat = (e.Status & ConnStatus.SrcNat) != 0;
        string original = "DNAT to " + Endpoint(r.Src, r.SrcPort, o.Protocol);
        if (snat) original += ", SNAT to " + Endpoint(r.Dst, r.DstPort, o.Protocol);
        string reply = "source back to " + Endpoint(o.Dst, o.DstPort, o.Protocol);
        if (snat) reply += ", destination back to " + Endpoint(o.Src, o.SrcPort, o.Protocol);
        return new ConnInfo
        {
            Farm = farm,
            Backend = snapshot.Backend(e.BackendId)?.Name,
            Original = original,
            Reply = reply,
            State = ConntrackFormatter.StateName(e),
            SeenReply = e.SeenReply,
            Assured = e.Assured,
        };
    }

    internal static string Endpoint(IpAddr ip, ushort port, byte protocol) =>
        protocol is IpProtocols.Icmp or IpProtocols.Icmpv6 ? ip.ToString()
        : ip.IsV4 ? Inv($"{ip}:{port}") : Inv($"[{ip}]:{port}");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
