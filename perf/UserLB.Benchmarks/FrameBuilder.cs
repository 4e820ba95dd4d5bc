using System.Buffers.Binary;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>Minimal IPv4/IPv6 TCP frame builder for benchmarks (checksums computed in full once).</summary>
internal static class FrameBuilder
{
    public static byte[] Tcp(MacAddress src, MacAddress dst, IpAddr sip, IpAddr dip, ushort sport, ushort dport, byte flags, int payload = 0)
    {
        bool v6 = !sip.IsV4;
        int l3 = v6 ? 40 : 20, l4 = 20 + payload;
        var f = new byte[14 + l3 + l4];
        dst.Write(f);
        src.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), v6 ? EtherTypes.Ipv6 : EtherTypes.Ipv4);
        var ip = f.AsSpan(14);
        if (v6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4);
            ip[6] = IpProtocols.Tcp;
            ip[7] = 64;
            sip.WriteV6(ip[8..]);
            dip.WriteV6(ip[24..]);
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(l3 + l4));
            ip[8] = 64;
            ip[9] = IpProtocols.Tcp;
            sip.WriteV4(ip[12..]);
            dip.WriteV4(ip[16..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        }
        var tcp = ip[l3..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], dport);
        tcp[12] = 0x50;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        ulong pseudo = v6 ? Checksum.PseudoHeaderV6(ip[8..], ip[24..], IpProtocols.Tcp, l4) : Checksum.PseudoHeaderV4(ip[12..], ip[16..], IpProtocols.Tcp, l4);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum.Compute(tcp[..l4], pseudo));
        return f;
    }
}
