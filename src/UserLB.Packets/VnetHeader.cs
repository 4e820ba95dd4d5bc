using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace UserLB.Packets;

/// <summary>
/// The offload state of one frame, as <c>struct virtio_net_hdr</c> carries it between the kernel and a packet socket
/// (<c>PACKET_VNET_HDR</c>) or a TAP (<c>IFF_VNET_HDR</c>): a partial checksum the kernel or the peer completes
/// (<see cref="NeedsChecksum"/>, the kernel's CHECKSUM_PARTIAL), a checksum already verified (<see cref="DataValid"/>,
/// CHECKSUM_UNNECESSARY), and a GSO/GRO super-frame standing for segments of <see cref="GsoSize"/> payload bytes.
/// The default value is a plain frame with a full checksum. Little-endian on the wire (the modern virtio layout).
/// </summary>
public readonly partial record struct VnetHeader(byte Flags, byte GsoType, ushort HdrLen, ushort GsoSize, ushort CsumStart, ushort CsumOffset)
{
    /// <summary>sizeof(struct virtio_net_hdr).</summary>
    public const int Length = 10;

    public const byte FlagNeedsChecksum = 1; // VIRTIO_NET_HDR_F_NEEDS_CSUM
    public const byte FlagDataValid = 2;     // VIRTIO_NET_HDR_F_DATA_VALID

    public const byte GsoNone = 0;    // VIRTIO_NET_HDR_GSO_NONE
    public const byte GsoTcpV4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
    public const byte GsoUdp = 3;     // VIRTIO_NET_HDR_GSO_UDP (UFO: fragmentation, not taken)
    public const byte GsoTcpV6 = 4;   // VIRTIO_NET_HDR_GSO_TCPV6
    public const byte GsoUdpL4 = 5;   // VIRTIO_NET_HDR_GSO_UDP_L4 (UDP segmentation)
    public const byte GsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN: the super-frame carries CWR, set on its first segment only

    /// <summary>The L4 checksum field holds only the pseudo-header sum; it is completed from <see cref="CsumStart"/> on.</summary>
    public bool NeedsChecksum => (Flags & FlagNeedsChecksum) != 0;

    /// <summary>The kernel verified the checksum already.</summary>
    public bool DataValid => (Flags & FlagDataValid) != 0;

    /// <summary>The segmentation type without the ECN bit.</summary>
    public byte GsoKind => (byte)(GsoType & ~GsoEcn);

    /// <summary>A super-frame the kernel segments on the way out.</summary>
    public bool IsGso => GsoType != GsoNone;

    /// <summary>Neither a partial checksum nor a super-frame: nothing to complete or segment.</summary>
    public bool IsPlain => Flags == 0 && GsoType == 0;

    /// <summary>Reads the header from its 10 little-endian bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VnetHeader Read(ReadOnlySpan<byte> b) => new(b[0], b[1],
        BinaryPrimitives.ReadUInt16LittleEndian(b[2..]), BinaryPrimitives.ReadUInt16LittleEndian(b[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[6..]), BinaryPrimitives.ReadUInt16LittleEndian(b[8..]));

    /// <summary>Writes the header as its 10 little-endian bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(Span<byte> b)
    {
        b[0] = Flags;
        b[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(b[2..], HdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(b[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(b[6..], CsumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(b[8..], CsumOffset);
    }

    /// <summary>A partial checksum over the transport segment at <paramref name="l4Offset"/>, its field at <paramref name="fieldOffset"/>.</summary>
    public static VnetHeader Partial(int l4Offset, int fieldOffset) =>
        new(FlagNeedsChecksum, GsoNone, 0, 0, (ushort)l4Offset, (ushort)fieldOffset);

    /// <summary>What leaves with a forwarded frame: the same offloads, less DATA_VALID (a receive-side flag only).</summary>
    public VnetHeader ForTransmit() => DataValid ? this with { Flags = (byte)(Flags & ~FlagDataValid) } : this;

    /// <summary>For traces and test failures: "needs_csum start=34 offset=16 gso=tcpv4 size=1448 hdr_len=66".</summary>
    public override string ToString()
    {
        if (IsPlain) return "plain";
        var s = new System.Text.StringBuilder();
        if (NeedsChecksum) s.Append(System.Globalization.CultureInfo.InvariantCulture, $"needs_csum start={CsumStart} offset={CsumOffset}");
        if (DataValid) s.Append(s.Length > 0 ? " " : "").Append("data_valid");
        if (IsGso)
        {
            string kind = GsoKind switch { GsoTcpV4 => "tcpv4", GsoTcpV6 => "tcpv6", GsoUdpL4 => "udp_l4", GsoUdp => "udp", _ => "type" + GsoKind };
            s.Append(s.Length > 0 ? " " : "").Append(System.Globalization.CultureInfo.InvariantCulture, $"gso={kind}{((GsoType & GsoEcn) != 0 ? "+ecn" : "")} size={GsoSize}");
        }
        if (HdrLen != 0) s.Append(System.Globalization.CultureInfo.InvariantCulture, $" hdr_len={HdrLen}");
        return s.ToString();
    }
}
