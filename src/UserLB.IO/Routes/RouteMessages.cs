using System.Runtime.InteropServices;
using UserLB.Packets;

namespace UserLB.IO.Routes;

/// <summary>What a buffer of netlink messages ended with.</summary>
public enum NetlinkStatus
{
    /// <summary>The dump goes on in the next buffer.</summary>
    More,

    /// <summary>NLMSG_DONE: the dump is whole.</summary>
    Done,

    /// <summary>NLMSG_ERROR with an error code, or a message cut short.</summary>
    Error,
}

/// <summary>
/// rtnetlink's route messages (rtnetlink(7)) as bytes: the RTM_GETROUTE dump request, and the RTM_NEWROUTE replies parsed
/// into <see cref="RouteEntry"/> — unicast routes of the main table, their RTA_DST, RTA_OIF, RTA_GATEWAY (or each
/// next hop of RTA_MULTIPATH) and RTA_PRIORITY. Netlink is in the host's byte order; addresses in network order.
/// </summary>
public static class RouteMessages
{
    internal const int NlmsgHeader = 16, RtmsgLength = 12, RtnexthopLength = 8;
    internal const ushort NLMSG_ERROR = 2, NLMSG_DONE = 3, RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_NEWROUTE = 24, RTM_DELROUTE = 25, RTM_GETROUTE = 26;
    internal const ushort NLM_F_REQUEST = 1, NLM_F_DUMP = 0x300;
    internal const ushort RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PRIORITY = 6, RTA_MULTIPATH = 9, RTA_TABLE = 15;
    internal const byte AF_INET = 2, AF_INET6 = 10, RT_TABLE_MAIN = 254, RTN_UNICAST = 1;
    internal const uint RTNH_F_DEAD = 1, RTNH_F_LINKDOWN = 16;

    /// <summary>Writes a dump request for every family's routes into <paramref name="buffer"/>; returns its length.</summary>
    public static int WriteDumpRequest(Span<byte> buffer, uint sequence) => WriteDumpRequest(buffer, RTM_GETROUTE, sequence);

    /// <summary>Writes a dump request of <paramref name="type"/> (RTM_GETROUTE, RTM_GETNEIGH) for every family, with a
    /// zeroed 12-byte family header (rtmsg, ndmsg); returns its length.</summary>
    internal static int WriteDumpRequest(Span<byte> buffer, ushort type, uint sequence)
    {
        const int length = NlmsgHeader + RtmsgLength;
        var b = buffer[..length];
        b.Clear();
        Write(b, (uint)length);
        Write(b[4..], type);
        Write(b[6..], (ushort)(NLM_F_REQUEST | NLM_F_DUMP));
        Write(b[8..], sequence);
        return length; // family AF_UNSPEC: IPv4 and IPv6
    }

    /// <summary>
    /// Adds the unicast main-table routes of the messages in <paramref name="buffer"/> to <paramref name="into"/>, naming
    /// interfaces by index through <paramref name="nameOf"/> (routes of unknown interfaces, of <c>lo</c>, dead or on a link
    /// that is down are left out). Returns whether the dump ended; <paramref name="error"/> is NLMSG_ERROR's code.
    /// </summary>
    public static NetlinkStatus Parse(ReadOnlySpan<byte> buffer, Func<int, string?> nameOf, List<RouteEntry> into, out int error)
    {
        ArgumentNullException.ThrowIfNull(nameOf);
        ArgumentNullException.ThrowIfNull(into);
        NetlinkStatus status;
        while (TryNext(ref buffer, out ushort type, out var body, out status, out error))
            if (type == RTM_NEWROUTE) ParseRoute(body, nameOf, into);
        return status;
    }

    /// <summary>
    /// Reads the next message of <paramref name="buffer"/> and moves past it: true with its type and body; false at the
    /// end of the buffer (<paramref name="status"/> More), at NLMSG_DONE (Done), or at an NLMSG_ERROR with an error or a
    /// message cut short (Error; <paramref name="error"/> the code, or -1). Acknowledgements are skipped.
    /// </summary>
    internal static bool TryNext(ref ReadOnlySpan<byte> buffer, out ushort type, out ReadOnlySpan<byte> body, out NetlinkStatus status, out int error)
    {
        error = 0;
        status = NetlinkStatus.More;
        while (buffer.Length >= NlmsgHeader)
        {
            int len = (int)Read32(buffer);
            if (len < NlmsgHeader || len > buffer.Length) break;
            type = Read16(buffer[4..]);
            body = buffer[NlmsgHeader..len];
            buffer = buffer[Math.Min(Align(len), buffer.Length)..];
            if (type == NLMSG_DONE)
            {
                status = NetlinkStatus.Done;
                return false;
            }
            if (type != NLMSG_ERROR) return true;
            error = body.Length >= 4 ? (int)Read32(body) : -1;
            if (error != 0)
            {
                status = NetlinkStatus.Error;
                return false;
            }
        }
        type = 0;
        body = default;
        if (buffer.Length > 0) // a message cut short
        {
            error = -1;
            status = NetlinkStatus.Error;
        }
        return false;
    }

    /// <summary>True when the message at the start of <paramref name="buffer"/> is one a watcher re-reads the table for
    /// (a route or link added, changed or deleted).</summary>
    public static bool IsChange(ReadOnlySpan<byte> buffer) =>
        buffer.Length >= NlmsgHeader && Read16(buffer[4..]) is RTM_NEWROUTE or RTM_DELROUTE or RTM_NEWLINK or RTM_DELLINK;

    private static void ParseRoute(ReadOnlySpan<byte> body, Func<int, string?> nameOf, List<RouteEntry> into)
    {
        if (body.Length < RtmsgLength) return;
        byte family = body[0], dstLen = body[1], table = body[4], type = body[7];
        uint flags = Read32(body[8..]);
        if (family is not (AF_INET or AF_INET6) || type != RTN_UNICAST) return;
        bool v4 = family == AF_INET;
        if (dstLen > (v4 ? 32 : 128)) return;
        var dst = v4 ? IpAddr.FromV4(0) : default;
        IpAddr? gateway = null;
        int oif = 0;
        uint metric = 0, tableId = table;
        ReadOnlySpan<byte> multipath = default;
        var attrs = body[RtmsgLength..];
        while (attrs.Length >= 4)
        {
            int alen = Read16(attrs);
            if (alen < 4 || alen > attrs.Length) return;
            var data = attrs[4..alen];
            switch (Read16(attrs[2..]) & 0x3FFF)
            {
                case RTA_DST when data.Length == (v4 ? 4 : 16): dst = Address(data, v4); break;
                case RTA_GATEWAY when data.Length == (v4 ? 4 : 16): gateway = Address(data, v4); break;
                case RTA_OIF when data.Length == 4: oif = (int)Read32(data); break;
                case RTA_PRIORITY when data.Length == 4: metric = Read32(data); break;
                case RTA_TABLE when data.Length == 4: tableId = Read32(data); break;
                case RTA_MULTIPATH: multipath = data; break;
            }
            attrs = attrs[Math.Min(Align(alen), attrs.Length)..];
        }
        if (tableId != RT_TABLE_MAIN) return;
        if (multipath.IsEmpty)
        {
            Add(into, dst, dstLen, oif, gateway, metric, flags, nameOf);
            return;
        }
        while (multipath.Length >= RtnexthopLength) // struct rtnexthop { u16 len; u8 flags; u8 hops; s32 ifindex; } + attributes
        {
            int hlen = Read16(multipath);
            if (hlen < RtnexthopLength || hlen > multipath.Length) return;
            IpAddr? hopGateway = null;
            var hattrs = multipath[RtnexthopLength..hlen];
            while (hattrs.Length >= 4)
            {
                int alen = Read16(hattrs);
                if (alen < 4 || alen > hattrs.Length) break;
                if (Read16(hattrs[2..]) == RTA_GATEWAY && alen - 4 == (v4 ? 4 : 16)) hopGateway = Address(hattrs[4..alen], v4);
                hattrs = hattrs[Math.Min(Align(alen), hattrs.Length)..];
            }
            Add(into, dst, dstLen, (int)Read32(multipath[4..]), hopGateway, metric, flags | multipath[2], nameOf);
            multipath = multipath[Math.Min(Align(hlen), multipath.Length)..];
        }
    }

    private static void Add(List<RouteEntry> into, IpAddr dst, int dstLen, int oif, IpAddr? gateway, uint metric, uint flags, Func<int, string?> nameOf)
    {
        if ((flags & (RTNH_F_DEAD | RTNH_F_LINKDOWN)) != 0 || oif <= 0) return;
        if (nameOf(oif) is not { Length: > 0 } name || name == "lo") return;
        into.Add(new RouteEntry(dst, dstLen, name, gateway, metric));
    }

    private static IpAddr Address(ReadOnlySpan<byte> data, bool v4) => v4 ? IpAddr.ReadV4(data) : IpAddr.ReadV6(data);

    private static int Align(int n) => (n + 3) & ~3;

    private static uint Read32(ReadOnlySpan<byte> b) => MemoryMarshal.Read<uint>(b);

    private static ushort Read16(ReadOnlySpan<byte> b) => MemoryMarshal.Read<ushort>(b);

    private static void Write(Span<byte> b, uint v) => MemoryMarshal.Write(b, in v);

    private static void Write(Span<byte> b, ushort v) => MemoryMarshal.Write(b, in v);
}
