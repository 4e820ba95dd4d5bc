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
    /// <summary>The frame's offload state (virtio-net header): a partial checksum, a GSO super-frame; plain by default.</summary>
    public VnetHeader Offload;

    public readonly int IpLength => PacketEnd - L3Offset;
    public readonly bool IsIcmp => Protocol is IpProtocols.Icmp or IpProtocols.Icmpv6;
    public readonly bool HasPorts => Protocol is IpProtocols.Tcp or IpProtocols.Udp or IpProtocols.Sctp;

    /// <summary>The packets a GSO super-frame stands for (its payload in segments of the GSO size); 1 for any other frame.</summary>
    public readonly int Segments => Offload.GsoSize == 0 || Offload.GsoType == 0 ? 1 : SegmentsOf(Offload.GsoSize);

    /// <summary>The IP bytes the frame stands for: a super-frame's payload plus the headers each segment repeats.</summary>
    public readonly long WireBytes => Offload.GsoSize == 0 || Offload.GsoType == 0 ? IpLength : IpLength + (long)(SegmentsOf(Offload.GsoSize) - 1) * HeaderBytes;

    /// <summary>IP and transport header bytes (the part each segment of a super-frame repeats).</summary>
    private readonly int HeaderBytes => L4Offset - L3Offset + TransportHeaderLength;

    /// <summary>The transport header's length: TCP's data offset, UDP's 8 bytes; 0 for other protocols.</summary>
    public int TransportHeaderLength;

    private readonly int SegmentsOf(int gsoSize)
    {
        int payload = PacketEnd - L4Offset - TransportHeaderLength;
        return payload <= gsoSize ? 1 : (payload + gsoSize - 1) / gsoSize;
    }
}
