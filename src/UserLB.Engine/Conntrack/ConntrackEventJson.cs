using System.Buffers;
using System.Globalization;
using System.Text.Json;
using UserLB.Packets;

namespace UserLB.Engine.Conntrack;

/// <summary>What made a conntrack event happen: a packet (its number in the capture, when known) or the entry's timeout.</summary>
public readonly record struct ConnEventCause(long Packet, bool Timeout, long ExpiredNs)
{
    /// <summary>The packet numbered <paramref name="packet"/> (1 = the capture's first frame; 0 = a packet of unknown number).</summary>
    public static ConnEventCause ByPacket(long packet) => new(packet, false, 0);

    /// <summary>The entry's timeout ran out at <paramref name="expiredNs"/>, noticed while packet <paramref name="noticedAt"/> was processed (0: unknown).</summary>
    public static ConnEventCause ByTimeout(long expiredNs, long noticedAt) => new(noticedAt, true, expiredNs);

    /// <summary>The cause of an event as the table reports it: DESTROY of an entry whose time ran out is the timer's doing.</summary>
    public static ConnEventCause Of(ConnEventType type, in ConnEntry entry, long nowNs, long packet) =>
        type == ConnEventType.Destroy && entry.ExpiresNs <= nowNs ? ByTimeout(entry.ExpiresNs, packet) : ByPacket(packet);
}

/// <summary>Names that go with an event for a reader: the farm and backend of the entry, the (TCP or SCTP) state before an UPDATE.</summary>
public readonly record struct ConnEventContext(string? Farm, string? Backend, string? OldState);

/// <summary>
/// Conntrack events as data: one JSON object per event, for <c>userlb replay --events FILE.jsonl</c> (and a live
/// instance's event stream). Fields: event (NEW, UPDATE, DESTROY), time (seconds, 6 decimals) and time_ns (the capture's
/// clock), id, proto, state and old_state (TCP, SCTP), timeout (seconds left), original and reply (tuples with their
/// packets and bytes), seen_reply, assured, mark, farm, backend, cause ({"packet": N} or {"timer": "timeout",
/// "expired": seconds, "packet": N} — the packet during which the expiry was noticed).
/// </summary>
public static class ConntrackEventJson
{
    private static readonly JsonWriterOptions Options = new() { Indented = false, SkipValidation = false };

    /// <summary>The event as one line of JSON (no newline).</summary>
    public static string Line(ConnEventType type, in ConnEntry e, long nowNs, ConnEventCause cause, ConnEventContext context = default)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        Write(buffer, type, e, nowNs, cause, context);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes the event as one line of UTF-8 JSON (no newline) to <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, ConnEventType type, in ConnEntry e, long nowNs, ConnEventCause cause, ConnEventContext context = default) =>
        WriteObject(output, type, e, nowNs, cause, context);

    /// <summary>An entry of a listing (<c>conntrack -L -o json</c>) as one line of JSON: an event's fields without
    /// <c>event</c>, <c>old_state</c> and <c>cause</c>; <c>time</c> is the listing's.</summary>
    public static string EntryLine(in ConnEntry e, long nowNs, ConnEventContext context = default)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        WriteObject(buffer, null, e, nowNs, default, context);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteObject(IBufferWriter<byte> output, ConnEventType? type, in ConnEntry e, long nowNs, ConnEventCause cause, ConnEventContext context)
    {
        using var w = new Utf8JsonWriter(output, Options);
        var o = e.Original;
        w.WriteStartObject();
        if (type is { } t) w.WriteString("event", Name(t));
        w.WriteNumber("time", Seconds(nowNs));
        w.WriteNumber("time_ns", nowNs);
        w.WriteNumber("id", e.Id);
        w.WriteString("proto", IpProtocols.Name(o.Protocol));
        if (ConntrackFormatter.StateName(e) is { } state) w.WriteString("state", state);
        if (context.OldState is { } old && type == ConnEventType.Update) w.WriteString("old_state", old);
        w.WriteNumber("timeout", ConntrackFormatter.SecondsLeft(e, nowNs));
        WriteTuple(w, "original", e, false, e.OriginalPackets, e.OriginalBytes);
        WriteTuple(w, "reply", e, true, e.ReplyPackets, e.ReplyBytes);
        w.WriteBoolean("seen_reply", e.SeenReply);
        w.WriteBoolean("assured", e.Assured);
        w.WriteNumber("mark", e.Mark);
        if ((e.Status & ConnStatus.SeqAdjust) != 0)
        {
            // SYN proxy (nf_conntrack_seqadj): added to the backend's sequence numbers, and timestamps, on their way to the client.
            w.WriteNumber("seq_offset", e.SeqOffset);
            w.WriteNumber("ts_offset", e.TsOffset);
        }
        if (context.Farm is not null) w.WriteString("farm", context.Farm);
        if (context.Backend is not null) w.WriteString("backend", context.Backend);
        if (type is not null)
        {
            w.WriteStartObject("cause");
            if (cause.Timeout)
            {
                w.WriteString("timer", "timeout");
                w.WriteNumber("expired", Seconds(cause.ExpiredNs));
            }
            if (cause.Packet > 0) w.WriteNumber("packet", cause.Packet);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    public static string Name(ConnEventType type) => type switch
    {
        ConnEventType.New => "NEW",
        ConnEventType.Update => "UPDATE",
        _ => "DESTROY",
    };

    private static void WriteTuple(Utf8JsonWriter w, string name, in ConnEntry e, bool reply, ulong packets, ulong bytes)
    {
        var t = reply ? e.Reply : e.Original;
        w.WriteStartObject(name);
        w.WriteString("src", t.Src.ToString());
        w.WriteString("dst", t.Dst.ToString());
        if (t.Protocol is IpProtocols.Icmp or IpProtocols.Icmpv6)
        {
            w.WriteNumber("type", ConntrackFormatter.IcmpTypeOf(e, reply));
            w.WriteNumber("code", e.IcmpCode);
            w.WriteNumber("icmp_id", t.SrcPort);
        }
        else
        {
            w.WriteNumber("sport", t.SrcPort);
            w.WriteNumber("dport", t.DstPort);
        }
        w.WriteNumber("packets", packets);
        w.WriteNumber("bytes", bytes);
        w.WriteEndObject();
    }

    /// <summary>Seconds with six decimals, written exactly (a decimal, not a double).</summary>
    private static decimal Seconds(long ns) => decimal.Round(ns / 1_000_000_000m, 6, MidpointRounding.ToZero);

    internal static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
