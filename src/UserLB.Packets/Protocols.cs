namespace UserLB.Packets;

public static class EtherTypes
{
    public const ushort Ipv4 = 0x0800;
    public const ushort Arp = 0x0806;
    public const ushort Vlan = 0x8100;
    public const ushort QinQ = 0x88A8;
    public const ushort Ipv6 = 0x86DD;
}

public static class IpProtocols
{
    public const byte HopByHop = 0;
    public const byte Icmp = 1;
    /// <summary>IPv4 in IPv4 (RFC 2003).</summary>
    public const byte IpIp = 4;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    /// <summary>IPv6 in IPv4 (RFC 4213's 6in4, a sit device).</summary>
    public const byte Ipv6Encap = 41;
    public const byte Ipv6Routing = 43;
    public const byte Ipv6Fragment = 44;
    public const byte Esp = 50;
    public const byte Ah = 51;
    public const byte Icmpv6 = 58;
    public const byte Ipv6NoNext = 59;
    public const byte Ipv6DestOpts = 60;
    public const byte Sctp = 132;
    public const byte Mobility = 135;
    public const byte Hip = 139;
    public const byte Shim6 = 140;

    public static string Name(byte protocol) => protocol switch
    {
        Tcp => "tcp",
        Udp => "udp",
        Icmp => "icmp",
        Icmpv6 => "icmpv6",
        Sctp => "sctp",
        _ => "unknown",
    };
}

public static class TcpFlags
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Psh = 0x08;
    public const byte Ack = 0x10;
    public const byte Urg = 0x20;
}

/// <summary>Byte offsets of the fields the engine reads and rewrites.</summary>
public static class Offsets
{
    public const int EthDst = 0;
    public const int EthSrc = 6;
    public const int EthType = 12;
    public const int EthHeader = 14;
    public const int VlanHeader = 4;

    public const int Ip4Tos = 1;
    public const int Ip4TotalLength = 2;
    public const int Ip4Flags = 6;
    public const int Ip4Ttl = 8;
    public const int Ip4Protocol = 9;
    public const int Ip4Checksum = 10;
    public const int Ip4Src = 12;
    public const int Ip4Dst = 16;
    public const int Ip4MinHeader = 20;

    public const int Ip6PayloadLength = 4;
    public const int Ip6NextHeader = 6;
    public const int Ip6HopLimit = 7;
    public const int Ip6Src = 8;
    public const int Ip6Dst = 24;
    public const int Ip6Header = 40;

    public const int L4SrcPort = 0;
    public const int L4DstPort = 2;
    public const int TcpFlags = 13;
    public const int TcpChecksum = 16;
    public const int TcpMinHeader = 20;
    public const int UdpLength = 4;
    public const int UdpChecksum = 6;
    public const int UdpHeader = 8;
    public const int IcmpChecksum = 2;
    public const int IcmpId = 4;
    public const int IcmpHeader = 8;

    public const int ArpPacket = 28;
}

public static class IcmpTypes
{
    public const byte EchoReply = 0;
    public const byte DestUnreachable = 3;
    public const byte SourceQuench = 4;
    public const byte Redirect = 5;
    public const byte EchoRequest = 8;
    public const byte TimeExceeded = 11;
    public const byte ParameterProblem = 12;

    public const byte V6DestUnreachable = 1;
    public const byte V6PacketTooBig = 2;
    public const byte V6TimeExceeded = 3;
    public const byte V6ParameterProblem = 4;
    public const byte V6EchoRequest = 128;
    public const byte V6EchoReply = 129;
    public const byte V6RouterSolicitation = 133;
    public const byte V6RouterAdvertisement = 134;
    public const byte V6NeighborSolicitation = 135;
    public const byte V6NeighborAdvertisement = 136;

    public static bool IsError(bool v6, byte type) => v6
        ? type is V6DestUnreachable or V6PacketTooBig or V6TimeExceeded or V6ParameterProblem
        : type is DestUnreachable or SourceQuench or Redirect or TimeExceeded or ParameterProblem;

    public static bool IsEchoRequest(bool v6, byte type) => v6 ? type == V6EchoRequest : type == EchoRequest;

    /// <summary>The type of the answer to a query (the kernel's <c>invmap</c> in nf_conntrack_proto_icmp{,v6}.c): echo,
    /// timestamp, information and address-mask requests (IPv4), echo and node-information queries (IPv6); the type
    /// itself for any other.</summary>
    public static byte ReplyType(bool v6, byte type) => (byte)(v6
        ? type switch { V6EchoRequest => V6EchoReply, V6EchoReply => V6EchoRequest, 139 => 140, 140 => 139, _ => type }
        : type switch { EchoRequest => EchoReply, EchoReply => EchoRequest, 13 => 14, 14 => 13, 15 => 16, 16 => 15, 17 => 18, 18 => 17, _ => type });
}
