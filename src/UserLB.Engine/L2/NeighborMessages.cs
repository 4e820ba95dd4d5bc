using System.Buffers.Binary;
using UserLB.Packets;

namespace UserLB.Engine.L2;

/// <summary>Builds ARP and NDP frames (RFC 826, RFC 4861) into a caller's buffer.</summary>
public static class NeighborMessages
{
    public const int ArpFrameLength = 42;
    public const int NdpFrameLength = Offsets.EthHeader + Offsets.Ip6Header + 32; // NS/NA with one link-layer option

    public const ushort ArpRequest = 1;
    public const ushort ArpReply = 2;

    public static int WriteArp(Span<byte> f, ushort op, MacAddress ethDst, MacAddress senderMac, uint senderIp, MacAddress targetMac, uint targetIp)
    {
        ethDst.Write(f);
        senderMac.Write(f[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], EtherTypes.Arp);
        var a = f[14..];
        BinaryPrimitives.WriteUInt16BigEndian(a, 1); // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(a[2..], EtherTypes.Ipv4);
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a[6..], op);
        senderMac.Write(a[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(a[14..], senderIp);
        targetMac.Write(a[18..]);
        BinaryPrimitives.WriteUInt32BigEndian(a[24..], targetIp);
        return ArpFrameLength;
    }

    /// <summary>Neighbour Solicitation (type 135) or Advertisement (136) with a source/target link-layer address option;
    /// a solicitation from the unspecified address (the engine owns no address of the family) has none (RFC 4861 §7.1.1:
    /// receivers discard it otherwise), and the target answers to all-nodes as to duplicate address detection.</summary>
    public static int WriteNdp(Span<byte> f, byte type, MacAddress ethDst, MacAddress ownMac, IpAddr src, IpAddr dst, IpAddr target, bool solicited)
    {
        bool option = !(type == IcmpTypes.V6NeighborSolicitation && src.IsZero);
        int length = option ? 32 : 24;
        ethDst.Write(f);
        ownMac.Write(f[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], EtherTypes.Ipv6);
        var ip = f[14..];
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)length);
        ip[6] = IpProtocols.Icmpv6;
        ip[7] = 255;
        src.WriteV6(ip[8..]);
        dst.WriteV6(ip[24..]);
        var icmp = ip.Slice(40, length);
        icmp.Clear();
        icmp[0] = type;
        if (type == IcmpTypes.V6NeighborAdvertisement)
            icmp[4] = (byte)(0x80 | (solicited ? 0x40 : 0) | 0x20); // R (the LB forwards: a router, RFC 4861 §7.2.4), S, O
        target.WriteV6(icmp[8..]);
        if (option)
        {
            icmp[24] = type == IcmpTypes.V6NeighborSolicitation ? (byte)1 : (byte)2; // source / target link-layer address
            icmp[25] = 1; // 8 bytes
            ownMac.Write(icmp[26..]);
        }
        ulong pseudo = Checksum.PseudoHeaderV6(ip[8..], ip[24..], IpProtocols.Icmpv6, length);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp, pseudo));
        return Offsets.EthHeader + Offsets.Ip6Header + length;
    }

    /// <summary>The solicited-node multicast address ff02::1:ffXX:XXXX of <paramref name="target"/>.</summary>
    public static IpAddr SolicitedNode(IpAddr target) => new(0xFF02_0000_0000_0000UL, 0x0000_0001_FF00_0000UL | (target.Lo & 0xFF_FFFF));

    /// <summary>Finds an NDP option of <paramref name="type"/> (1 source, 2 target link-layer address) in the options area.</summary>
    public static bool TryFindLinkLayerOption(ReadOnlySpan<byte> options, byte type, out MacAddress mac)
    {
        mac = default;
        while (options.Length >= 8)
        {
            int len = options[1] * 8;
            if (len == 0 || len > options.Length) return false;
            if (options[0] == type && len >= 8)
            {
                mac = MacAddress.Read(options[2..]);
                return true;
            }
            options = options[len..];
        }
        return false;
    }
}
