using System.Globalization;
using System.Text;
using UserLB.Packets;

namespace UserLB.Engine.Conntrack;

/// <summary>conntrack's <c>-o</c> options: what a line carries besides the entry.</summary>
[Flags]
public enum ConntrackOutput
{
    None = 0,
    /// <summary><c>-o extended</c>: the layer-3 protocol first (<c>ipv4     2 </c>, <c>ipv6     10 </c>).</summary>
    Extended = 1,
    /// <summary><c>-o id</c>: the entry's id last (<c>id=N</c>).</summary>
    Id = 2,
    /// <summary><c>-o timestamp</c> (events): the event's time first, <c>[seconds.microseconds]</c> and a tab.</summary>
    Timestamp = 4,
    /// <summary><c>-o json</c> (userlb's): one JSON object per line, <see cref="ConntrackEventJson"/>'s fields.</summary>
    Json = 8,
}

/// <summary>Formats entries the way <c>conntrack -L</c> and <c>conntrack -E</c> print them (libnetfilter_conntrack's default output).</summary>
public static class ConntrackFormatter
{
    /// <summary>Parses a <c>-o</c> list (extended,id,timestamp,json); false with why for a name conntrack or userlb lacks.</summary>
    public static bool TryParseOutput(string text, out ConntrackOutput output, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        output = ConntrackOutput.None;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            switch (part)
            {
                case "extended": output |= ConntrackOutput.Extended; break;
                case "id": output |= ConntrackOutput.Id; break;
                case "timestamp": output |= ConntrackOutput.Timestamp; break;
                case "json": output |= ConntrackOutput.Json; break;
                default:
                    error = $"output \"{part}\" is not extended, id, timestamp or json";
                    return false;
            }
        }
        error = output == ConntrackOutput.None ? $"output \"{text}\" is empty"
            : (output & ConntrackOutput.Json) != 0 && output != ConntrackOutput.Json ? "output json goes alone (its lines carry the id and time)"
            : null;
        return error is null;
    }

    /// <summary>The <c>-o</c> list for <paramref name="output"/> (extended,id,timestamp,json), "" for none.</summary>
    public static string OutputText(ConntrackOutput output)
    {
        var parts = new List<string>(4);
        if ((output & ConntrackOutput.Extended) != 0) parts.Add("extended");
        if ((output & ConntrackOutput.Id) != 0) parts.Add("id");
        if ((output & ConntrackOutput.Timestamp) != 0) parts.Add("timestamp");
        if ((output & ConntrackOutput.Json) != 0) parts.Add("json");
        return string.Join(',', parts);
    }

    /// <summary>A <c>conntrack -L</c> line (<paramref name="output"/>: extended, id; <paramref name="withCounters"/>: packets= bytes=).</summary>
    public static string Line(in ConnEntry e, long nowNs, bool withCounters = true, ConntrackOutput output = ConntrackOutput.None)
    {
        var sb = new StringBuilder(200);
        var o = e.Original;
        if ((output & ConntrackOutput.Extended) != 0) AppendFamily(sb, o);
        sb.Append(CultureInfo.InvariantCulture, $"{IpProtocols.Name(o.Protocol),-8} {o.Protocol} {SecondsLeft(e, nowNs)} ");
        AppendState(sb, e);
        AppendTuple(sb, e, false);
        if (withCounters) sb.Append(CultureInfo.InvariantCulture, $" packets={e.OriginalPackets} bytes={e.OriginalBytes}");
        if (!e.SeenReply) sb.Append(" [UNREPLIED]");
        sb.Append(' ');
        AppendTuple(sb, e, true);
        if (withCounters) sb.Append(CultureInfo.InvariantCulture, $" packets={e.ReplyPackets} bytes={e.ReplyBytes}");
        if (e.Assured) sb.Append(" [ASSURED]");
        sb.Append(CultureInfo.InvariantCulture, $" mark={e.Mark} use=1");
        if ((output & ConntrackOutput.Id) != 0) sb.Append(CultureInfo.InvariantCulture, $" id={e.Id}");
        return sb.ToString();
    }

    /// <summary>
    /// A <c>conntrack -E</c> line: the event type right-aligned in 9 columns ("    [NEW] ", " [UPDATE] ", "[DESTROY] "),
    /// then the entry as the kernel's ctnetlink events carry it: NEW and UPDATE have the timeout and TCP state but no
    /// counters; DESTROY has the TCP state (current kernels add it to the event) and the counters but no timeout; the mark
    /// only when set; none has <c>use=</c>. <paramref name="output"/>: extended, id, and timestamp with
    /// <paramref name="wallNs"/> (the event's time, nanoseconds since 1970).
    /// </summary>
    public static string EventLine(ConnEventType type, in ConnEntry e, long nowNs, ConntrackOutput output = ConntrackOutput.None, long wallNs = 0)
    {
        var sb = new StringBuilder(240);
        if ((output & ConntrackOutput.Timestamp) != 0)
        {
            long s = Math.DivRem(wallNs, 1_000_000_000L, out long ns);
            sb.Append(CultureInfo.InvariantCulture, $"[{s}.{ns / 1000:D6}]\t");
        }
        sb.Append(type switch
        {
            ConnEventType.New => "    [NEW] ",
            ConnEventType.Update => " [UPDATE] ",
            _ => "[DESTROY] ",
        });
        var o = e.Original;
        bool destroy = type == ConnEventType.Destroy;
        if ((output & ConntrackOutput.Extended) != 0) AppendFamily(sb, o);
        sb.Append(CultureInfo.InvariantCulture, $"{IpProtocols.Name(o.Protocol),-8} {o.Protocol} ");
        if (!destroy) sb.Append(SecondsLeft(e, nowNs)).Append(' ');
        AppendState(sb, e);
        AppendTuple(sb, e, false);
        if (destroy) sb.Append(CultureInfo.InvariantCulture, $" packets={e.OriginalPackets} bytes={e.OriginalBytes}");
        if (!e.SeenReply) sb.Append(" [UNREPLIED]");
        sb.Append(' ');
        AppendTuple(sb, e, true);
        if (destroy) sb.Append(CultureInfo.InvariantCulture, $" packets={e.ReplyPackets} bytes={e.ReplyBytes}");
        if (e.Assured) sb.Append(" [ASSURED]");
        if (e.Mark != 0) sb.Append(CultureInfo.InvariantCulture, $" mark={e.Mark}");
        if ((output & ConntrackOutput.Id) != 0) sb.Append(CultureInfo.InvariantCulture, $" id={e.Id}");
        return sb.ToString();
    }

    /// <summary>The protocol's state as conntrack names it (TCP, SCTP), or null for protocols without one.</summary>
    public static string? StateName(in ConnEntry e) => e.Original.Protocol switch
    {
        IpProtocols.Tcp => e.TcpState.ToConntrackName(),
        IpProtocols.Sctp => e.SctpState.ToConntrackName(),
        _ => null,
    };

    private static void AppendState(StringBuilder sb, in ConnEntry e)
    {
        if (StateName(e) is { } name) sb.Append(name).Append(' ');
    }

    /// <summary>Seconds until the entry expires, rounded up (as the kernel reports its timeout).</summary>
    public static long SecondsLeft(in ConnEntry e, long nowNs) => Math.Max(0, (e.ExpiresNs - nowNs + 999_999_999) / 1_000_000_000);

    /// <summary>ICMP: the type a direction's tuple carries (the reply's is the answer to the original's query).</summary>
    public static byte IcmpTypeOf(in ConnEntry e, bool reply) =>
        reply ? IcmpTypes.ReplyType(e.Original.Protocol == IpProtocols.Icmpv6, e.IcmpType) : e.IcmpType;

    private static void AppendFamily(StringBuilder sb, in FlowTuple o) => sb.Append(o.IsV6 ? "ipv6     10 " : "ipv4     2 ");

    private static void AppendTuple(StringBuilder sb, in ConnEntry e, bool reply)
    {
        var t = reply ? e.Reply : e.Original;
        sb.Append(CultureInfo.InvariantCulture, $"src={t.Src} dst={t.Dst} ");
        if (t.Protocol is IpProtocols.Icmp or IpProtocols.Icmpv6)
            sb.Append(CultureInfo.InvariantCulture, $"type={IcmpTypeOf(e, reply)} code={e.IcmpCode} id={t.SrcPort}");
        else
            sb.Append(CultureInfo.InvariantCulture, $"sport={t.SrcPort} dport={t.DstPort}");
    }
}
