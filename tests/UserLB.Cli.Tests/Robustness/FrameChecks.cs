using System.Buffers.Binary;
using UserLB.Packets;

namespace UserLB.Cli.Tests.Robustness;

/// <summary>Plain, full checksum computations: verify what the engine sends, and repair mutants.</summary>
internal static class FrameChecks
{
    private static uint Sum(ReadOnlySpan<byte> data, uint sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return sum;
    }

    private static uint Pseudo(ReadOnlySpan<byte> src, ReadOnlySpan<byte> dst, byte proto, int length) =>
        Sum(dst, Sum(src, 0)) + proto + (uint)(length >> 16) + (uint)(length & 0xFFFF);

    /// <summary>Locates the IP header and the L4 segment; false when the frame is not a well-formed IP frame.</summary>
    private static bool Locate(ReadOnlySpan<byte> frame, out int ipAt, out bool v6, out int l4At, out int l4Len, out byte proto)
    {
        ipAt = 14; v6 = false; l4At = 0; l4Len = 0; proto = 0;
        if (frame.Length < 14) return false;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (type == 0x8100)
        {
            if (frame.Length < 18) return false;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
            ipAt = 18;
        }
        var ip = frame[ipAt..];
        if (type == EtherTypes.Ipv4)
        {
            if (ip.Length < 20 || ip[0] >> 4 != 4) return false;
            int hl = (ip[0] & 0xF) * 4, total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            if (hl < 20 || total < hl || total > ip.Length) return false;
            if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0) return false; // fragment
            proto = ip[9]; l4At = ipAt + hl; l4Len = total - hl;
            return true;
        }
        if (type == EtherTypes.Ipv6)
        {
            if (ip.Length < 40 || ip[0] >> 4 != 6) return false;
            int total = 40 + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            if (total > ip.Length) return false;
            v6 = true;
            byte next = ip[6];
            int at = 40;
            for (int hops = 0; hops < 16; hops++)
            {
                if (next is 0 or 60 or 43 or 135 or 51 or 44)
                {
                    if (at + 8 > total) return false;
                    int extLen = next == 44 ? 8 : next == 51 ? (ip[at + 1] + 2) * 4 : (ip[at + 1] + 1) * 8;
                    if (next == 43 && ip[at + 3] != 0)
                    {
                        // Routing header with segments left: the pseudo-header uses the final destination; not checked here.
                        proto = 0; l4At = ipAt + at; l4Len = 0;
                        return true;
                    }
                    if (next == 44 && (BinaryPrimitives.ReadUInt16BigEndian(ip[(at + 2)..]) & 0xFFF9) != 0) return false; // a real fragment
                    next = ip[at];
                    at += extLen;
                    continue;
                }
                proto = next; l4At = ipAt + at; l4Len = total - at;
                return at <= total;
            }
            return false;
        }
        return false;
    }

    /// <summary>Null when every checksum of an IP frame is right; <paramref name="checkedIt"/> says whether there was one.</summary>
    public static string? Check(ReadOnlySpan<byte> frame, out bool checkedIt)
    {
        checkedIt = false;
        if (frame.Length >= 14 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x0806) return null; // ARP
        if (frame.Length >= 18 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x8100
            && BinaryPrimitives.ReadUInt16BigEndian(frame[16..]) == 0x0806)
        {
            return null; // ARP in a VLAN
        }

        if (!Locate(frame, out int ipAt, out bool v6, out int l4At, out int l4Len, out byte proto)) return "sent a frame that is not well-formed IP";
        var ip = frame[ipAt..];
        if (!v6 && Sum(ip[..((ip[0] & 0xF) * 4)], 0) != 0xFFFF) return "IPv4 header checksum wrong";
        var l4 = frame.Slice(l4At, l4Len);
        ReadOnlySpan<byte> src = v6 ? ip.Slice(8, 16) : ip.Slice(12, 4), dst = v6 ? ip.Slice(24, 16) : ip.Slice(16, 4);
        switch (proto)
        {
            case IpProtocols.Tcp when l4.Length >= 20:
            case IpProtocols.Udp when l4.Length >= 8:
                checkedIt = true;
                if (proto == IpProtocols.Udp && !v6 && BinaryPrimitives.ReadUInt16BigEndian(l4[6..]) == 0) return null;
                return Sum(l4, Pseudo(src, dst, proto, l4.Length)) == 0xFFFF ? null : IpProtocols.Name(proto) + " checksum wrong";
            case IpProtocols.Icmp when l4.Length >= 8:
            case IpProtocols.Icmpv6 when l4.Length >= 8:
                checkedIt = true;
                uint initial = proto == IpProtocols.Icmpv6 ? Pseudo(src, dst, proto, l4.Length) : 0;
                if (Sum(l4, initial) != 0xFFFF) return "ICMP checksum wrong";
                if (IcmpTypes.IsError(v6, l4[0]) && !v6 && l4.Length >= 28)
                {
                    var quoted = l4[8..];
                    int qhl = (quoted[0] & 0xF) * 4;
                    if (quoted[0] >> 4 == 4 && qhl >= 20 && qhl <= quoted.Length && Sum(quoted[..qhl], 0) != 0xFFFF) return "quoted IPv4 header checksum wrong";
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>Recomputes the IPv4 header and L4 checksums of a mutant, where its headers can be located.</summary>
    public static void RepairChecksums(Span<byte> frame)
    {
        if (frame.Length < 34) return;
        int ipAt = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x8100 ? 18 : 14;
        if (frame.Length < ipAt + 20) return;
        var ip = frame[ipAt..];
        if (ip[0] >> 4 == 4)
        {
            int hl = (ip[0] & 0xF) * 4;
            if (hl >= 20 && hl <= ip.Length)
            {
                ip[10] = 0; ip[11] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~Sum(ip[..hl], 0));
            }
        }
        if (!Locate(frame, out _, out bool v6, out int l4At, out int l4Len, out byte proto)) return;
        var l4 = frame.Slice(l4At, l4Len);
        ReadOnlySpan<byte> src = v6 ? ip.Slice(8, 16) : ip.Slice(12, 4), dst = v6 ? ip.Slice(24, 16) : ip.Slice(16, 4);
        int at;
        uint initial;
        switch (proto)
        {
            case IpProtocols.Tcp when l4.Length >= 20: at = 16; initial = Pseudo(src, dst, proto, l4.Length); break;
            case IpProtocols.Udp when l4.Length >= 8:
                if (!v6 && BinaryPrimitives.ReadUInt16BigEndian(l4[6..]) == 0) return;
                at = 6; initial = Pseudo(src, dst, proto, l4.Length); break;
            case IpProtocols.Icmp when l4.Length >= 4: at = 2; initial = 0; break;
            case IpProtocols.Icmpv6 when l4.Length >= 4: at = 2; initial = Pseudo(src, dst, proto, l4.Length); break;
            default: return;
        }
        l4[at] = 0; l4[at + 1] = 0;
        ushort sum = (ushort)~Sum(l4, initial);
        if (proto == IpProtocols.Udp && sum == 0) sum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(l4[at..], sum);
    }
}
