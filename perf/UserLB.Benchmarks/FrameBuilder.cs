using System.Buffers.Binary;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>Minimal IPv4/IPv6 TCP and UDP frame builder for benchmarks (checksums computed in full once).</summary>
internal static class FrameBuilder
{
    public static byte[] Tcp(MacAddress src, MacAddress dst, IpAddr sip, IpAddr dip, ushort sport, ushort dport, byte flags, int payload = 0)
    {
        var f = Ip(src, dst, sip, dip, IpProtocols.Tcp, 20 + payload, out int l3);
        var ip = f.AsSpan(14);
        var tcp = ip[l3..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], dport);
        tcp[12] = 0x50;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum.Compute(tcp, PseudoHeader(ip, sip, IpProtocols.Tcp, tcp.Length)));
        return f;
    }

    public static byte[] Udp(MacAddress src, MacAddress dst, IpAddr sip, IpAddr dip, ushort sport, ushort dport, int payload = 0)
    {
        var f = Ip(src, dst, sip, dip, IpProtocols.Udp, 8 + payload, out int l3);
        var ip = f.AsSpan(14);
        var udp = ip[l3..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], dport);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udp.Length);
        ushort check = Checksum.Compute(udp, PseudoHeader(ip, sip, IpProtocols.Udp, udp.Length));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], check == 0 ? (ushort)0xFFFF : check);
        return f;
    }

    private static ulong PseudoHeader(Span<byte> ip, IpAddr sip, byte protocol, int l4) => sip.IsV4
        ? Checksum.PseudoHeaderV4(ip[12..], ip[16..], protocol, l4)
        : Checksum.PseudoHeaderV6(ip[8..], ip[24..], protocol, l4);

    /// <summary>Ethernet + IP header for an L4 segment of <paramref name="l4"/> bytes (left zero); <paramref name="l3"/>: the IP header's length.</summary>
    private static byte[] Ip(MacAddress src, MacAddress dst, IpAddr sip, IpAddr dip, byte protocol, int l4, out int l3)
    {
        bool v6 = !sip.IsV4;
        l3 = v6 ? 40 : 20;
        var f = new byte[14 + l3 + l4];
        dst.Write(f);
        src.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), v6 ? EtherTypes.Ipv6 : EtherTypes.Ipv4);
        var ip = f.AsSpan(14);
        if (v6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4);
            ip[6] = protocol;
            ip[7] = 64;
            sip.WriteV6(ip[8..]);
            dip.WriteV6(ip[24..]);
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(l3 + l4));
            ip[8] = 64;
            ip[9] = protocol;
            sip.WriteV4(ip[12..]);
            dip.WriteV4(ip[16..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        }
        return f;
    }
}
