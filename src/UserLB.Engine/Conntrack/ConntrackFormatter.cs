using System.Globalization;
using System.Text;
using UserLB.Packets;

namespace UserLB.Engine.Conntrack;

/// <summary>Formats entries the way <c>conntrack -L</c> prints them.</summary>
public static class ConntrackFormatter
{
    public static string Line(in ConnEntry e, long nowNs, bool withCounters = true)
    {
        var sb = new StringBuilder(200);
        var o = e.Original;
        long secondsLeft = Math.Max(0, (e.ExpiresNs - nowNs + 999_999_999) / 1_000_000_000);
        string proto = IpProtocols.Name(o.Protocol);
        sb.Append(CultureInfo.InvariantCulture, $"{proto,-8} {o.Protocol} {secondsLeft} ");
        if (o.Protocol == IpProtocols.Tcp) sb.Append(e.TcpState.ToConntrackName()).Append(' ');
        AppendTuple(sb, o, false);
        if (withCounters) sb.Append(CultureInfo.InvariantCulture, $" packets={e.OriginalPackets} bytes={e.OriginalBytes}");
        if (!e.SeenReply) sb.Append(" [UNREPLIED]");
        sb.Append(' ');
        AppendTuple(sb, e.Reply, true);
        if (withCounters) sb.Append(CultureInfo.InvariantCulture, $" packets={e.ReplyPackets} bytes={e.ReplyBytes}");
        if (e.Assured) sb.Append(" [ASSURED]");
        sb.Append(CultureInfo.InvariantCulture, $" mark={e.Mark} use=1");
        return sb.ToString();
    }

    /// <summary>
    /// A <c>conntrack -E</c> line: the event type right-aligned in 9 columns ("    [NEW] ", " [UPDATE] ", "[DESTROY] "),
    /// then the entry. As the kernel's ctnetlink events carry them: NEW and UPDATE have the timeout and TCP state but no
    /// counters; DESTROY has the counters but no timeout or state; none has <c>use=</c>.
    /// </summary>
    public static string EventLine(ConnEventType type, in ConnEntry e, long nowNs)
    {
        var sb = new StringBuilder(220);
        sb.Append(type switch
        {
            ConnEventType.New => "    [NEW] ",
            ConnEventType.Update => " [UPDATE] ",
            _ => "[DESTROY] ",
        });
        var o = e.Original;
        bool destroy = type == ConnEventType.Destroy;
        sb.Append(CultureInfo.InvariantCulture, $"{IpProtocols.Name(o.Protocol),-8} {o.Protocol} ");
        if (!destroy)
        {
            long secondsLeft = Math.Max(0, (e.ExpiresNs - nowNs + 999_999_999) / 1_000_000_000);
            sb.Append(secondsLeft).Append(' ');
            if (o.Protocol == IpProtocols.Tcp) sb.Append(e.TcpState.ToConntrackName()).Append(' ');
        }
        AppendTuple(sb, o, false);
        if (destroy) sb.Append(CultureInfo.InvariantCulture, $" packets={e.OriginalPackets} bytes={e.OriginalBytes}");
        if (!e.SeenReply) sb.Append(" [UNREPLIED]");
        sb.Append(' ');
        AppendTuple(sb, e.Reply, true);
        if (destroy) sb.Append(CultureInfo.InvariantCulture, $" packets={e.ReplyPackets} bytes={e.ReplyBytes}");
        if (e.Assured) sb.Append(" [ASSURED]");
        sb.Append(CultureInfo.InvariantCulture, $" mark={e.Mark}");
        return sb.ToString();
    }

    private static void AppendTuple(StringBuilder sb, in FlowTuple t, bool reply)
    {
        sb.Append(CultureInfo.InvariantCulture, $"src={t.Src} dst={t.Dst} ");
        if (t.Protocol is IpProtocols.Icmp or IpProtocols.Icmpv6)
        {
            bool v6 = t.Protocol == IpProtocols.Icmpv6;
            int type = v6 ? (reply ? 129 : 128) : (reply ? 0 : 8);
            sb.Append(CultureInfo.InvariantCulture, $"type={type} code=0 id={t.SrcPort}");
        }
        else
        {
            sb.Append(CultureInfo.InvariantCulture, $"sport={t.SrcPort} dport={t.DstPort}");
        }
    }
}
