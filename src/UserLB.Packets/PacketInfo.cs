namespace UserLB.Packets;

public enum FrameKind : byte
{
    Ip,
    Arp,
}

/// <summary>
/// Offsets and fields of one parsed frame. A plain struct of integers: the frame itself stays in the caller's span,
/// and the engine rewrites it in place using these offsets.
/// </summary>
public struct PacketInfo
{
    public FrameKind Kind;
    public bool IsV6;
    public bool HasVlan;
    public byte Protocol;
    public byte TcpFlags;
    public byte IcmpType;
    public byte IcmpCode;
    public ushort VlanTci;
    public ushort EtherType;
    /// <summary>Offset of the IP (or ARP) header in the frame.</summary>
    public int L3Offset;
    /// <summary>IPv4 header length, or 40 + the IPv6 extension headers skipped.</summary>
    public int L3HeaderLength;
    /// <summary>Offset of the transport header.</summary>
    public int L4Offset;
    /// <summary>Transport header + payload length (from the IP length fields, not the frame: trailing padding excluded).</summary>
    public int L4Length;
    /// <summary>End of the IP packet in the frame (L3Offset + IP total length).</summary>
    public int PacketEnd;
    public IpAddr Src;
    public IpAddr Dst;
    /// <summary>TCP/UDP/SCTP ports; for ICMP echo, SrcPort = DstPort = the identifier.</summary>
    public ushort SrcPort;
    public ushort DstPort;

    public readonly int IpLength => PacketEnd - L3Offset;
    public readonly bool IsIcmp => Protocol is IpProtocols.Icmp or IpProtocols.Icmpv6;
    public readonly bool HasPorts => Protocol is IpProtocols.Tcp or IpProtocols.Udp or IpProtocols.Sctp;
}
