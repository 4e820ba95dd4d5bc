using System.Buffers.Binary;

namespace UserLB.Packets;

/// <summary>Receives each frame <see cref="SoftwareOffload"/> emits (a struct implementing it avoids allocation).</summary>
public interface IFrameEmitter
{
    /// <summary>Takes one finished frame; the span is valid only during the call (every segment reuses the scratch buffer).</summary>
    void Emit(ReadOnlySpan<byte> frame);
}

/// <summary>
/// What the kernel does for a device without offloads, for output ports that cannot hand a virtio-net header to the
/// kernel (pcap_inject, capture files): completes a CHECKSUM_PARTIAL transport checksum (<c>skb_checksum_help</c>) and
/// cuts a GSO super-frame into wire-sized segments (<c>tcp_gso_segment</c>, <c>__udp_gso_segment</c>,
/// <c>inet_gso_segment</c>, <c>ipv6_gso_segment</c>). Every length is checked; nothing throws on a bad frame.
/// </summary>
public static class SoftwareOffload
{
    /// <summary>The largest IP MTU taken: a 9216-byte jumbo frame.</summary>
    public const int MaxMtu = 9216;

    /// <summary>The smallest IP MTU taken: RFC 791's 576, room for the largest IPv4 and TCP headers (60 + 60 bytes) and payload.</summary>
    public const int MinMtu = 576;

    /// <summary>The largest frame a segment can be (Ethernet + VLAN + 9216-byte jumbo): size of scratch buffers.</summary>
    public const int MaxSegmentFrame = Offsets.EthHeader + Offsets.VlanHeader + MaxMtu;

    private const byte TcpCwr = 0x80;
    private const int Ip4Id = 4;
    private const int TcpSeq = 4;
    private const int TcpDataOffset = 12;

    /// <summary>
    /// Completes a NEEDS_CSUM frame's transport checksum in place (<c>skb_checksum_help</c>): sums from
    /// <see cref="VnetHeader.CsumStart"/> to the IP packet's end <paramref name="packetEnd"/> with the field's seed (the
    /// folded pseudo-header sum) included and writes the complement at CsumStart + CsumOffset; a result of 0 is written
    /// as 0xFFFF as the kernel does for every protocol (UDP reads 0 as "no checksum", TCP reads both the same).
    /// Returns true with nothing done when the frame has no partial checksum; false, frame untouched, when the
    /// checksum fields or <paramref name="packetEnd"/> do not fit in the frame.
    /// </summary>
    public static bool CompleteChecksum(Span<byte> frame, int packetEnd, in VnetHeader offload)
    {
        if (!offload.NeedsChecksum) return true;
        int start = offload.CsumStart, field = start + offload.CsumOffset;
        // Two ushorts cannot overflow an int; field + 2 <= packetEnd also puts start inside the packet.
        if ((uint)packetEnd > (uint)frame.Length || field + sizeof(ushort) > packetEnd) return false;
        ushort check = Checksum.Finish(Checksum.Sum(frame[start..packetEnd]));
        Checksum.WriteField(frame, field, check == 0 ? (ushort)0xFFFF : check);
        return true;
    }

    /// <summary>
    /// Emits the frame as the kernel's software GSO would for an egress of IP MTU <paramref name="mtu"/>: a frame that
    /// is not GSO is emitted once, whole (its checksum completed when NEEDS_CSUM; one larger than the MTU unchanged, for
    /// the caller's send to fail and count); a GSO super-frame is cut into segments of at most
    /// min(GsoSize, mtu - IP header - L4 header) payload bytes, each a full frame with its own IP length, IPv4 id
    /// (id, id+1, …) and header checksum, TCP sequence number, flags (CWR on the first only, FIN and PSH on the last
    /// only) and full checksum, or UDP length and full checksum. Returns <see cref="DropReason.None"/>, or why the
    /// frame is dropped with nothing emitted. <paramref name="scratch"/> holds each segment in turn and must be at
    /// least <see cref="MaxSegmentFrame"/> bytes. Does not allocate.
    /// </summary>
    public static DropReason Emit<TEmitter>(Span<byte> frame, in VnetHeader offload, int mtu, Span<byte> scratch, ref TEmitter emitter)
        where TEmitter : IFrameEmitter, allows ref struct
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scratch.Length, MaxSegmentFrame, nameof(scratch));
        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, MinMtu);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(mtu, MaxMtu);
        if (offload.IsGso) return Segment(frame, offload, mtu, scratch, ref emitter);
        if (offload.NeedsChecksum)
        {
            var reason = CompleteInFrame(frame, offload);
            if (reason != DropReason.None) return reason;
        }
        emitter.Emit(frame);
        return DropReason.None;
    }

    /// <summary>Completes the partial checksum of a frame that is not GSO: over its IP packet, or the whole frame if not IP.</summary>
    private static DropReason CompleteInFrame(Span<byte> frame, in VnetHeader offload)
    {
        if (offload.HdrLen > frame.Length) return DropReason.VnetBadHdrLen; // af_packet rejects a header hint beyond the frame
        var reason = ParseEthernet(frame, out int l3, out ushort etherType);
        if (reason != DropReason.None) return reason;
        int packetEnd = frame.Length; // skb_checksum_help sums to the end of what it is given
        if (etherType is EtherTypes.Ipv4 or EtherTypes.Ipv6)
        {
            reason = ParseIp(frame, l3, etherType == EtherTypes.Ipv6, gso: false, out _, out packetEnd, out _);
            if (reason != DropReason.None) return reason;
        }
        return CompleteChecksum(frame, packetEnd, offload) ? DropReason.None : DropReason.VnetBadChecksumStart;
    }

    /// <summary>Validates a super-frame as virtio_net_hdr_to_skb and the GSO handlers do, then emits its segments.</summary>
    private static DropReason Segment<TEmitter>(ReadOnlySpan<byte> frame, in VnetHeader offload, int mtu, Span<byte> scratch, ref TEmitter emitter)
        where TEmitter : IFrameEmitter, allows ref struct
    {
        if (offload.HdrLen > frame.Length) return DropReason.VnetBadHdrLen;
        byte kind = offload.GsoKind;
        bool udp = kind == VnetHeader.GsoUdpL4;
        // UFO (GsoUdp, IP fragmentation) and unknown types are not segmentation we do.
        if (kind is not (VnetHeader.GsoTcpV4 or VnetHeader.GsoTcpV6 or VnetHeader.GsoUdpL4)) return DropReason.VnetGsoMismatch;
        if (offload.GsoSize == 0) return DropReason.VnetGsoSizeZero;
        if (udp)
        {
            // virtio_net_hdr_to_skb: UDP_L4 takes no ECN bit and must carry a partial checksum.
            if ((offload.GsoType & VnetHeader.GsoEcn) != 0) return DropReason.VnetEcnUnsupported;
            if (!offload.NeedsChecksum) return DropReason.VnetGsoWithoutChecksum;
        }

        var reason = ParseEthernet(frame, out int l3, out ushort etherType);
        if (reason != DropReason.None) return reason;
        bool v6 = etherType == EtherTypes.Ipv6;
        if (!v6 && etherType != EtherTypes.Ipv4) return DropReason.VnetGsoMismatch;
        if ((kind == VnetHeader.GsoTcpV4 && v6) || (kind == VnetHeader.GsoTcpV6 && !v6)) return DropReason.VnetGsoMismatch;
        reason = ParseIp(frame, l3, v6, gso: true, out int l4, out int packetEnd, out byte protocol);
        if (reason != DropReason.None) return reason;
        if (v6 && IsIpv6Extension(protocol)) return DropReason.UnsupportedProtocol; // the IPv6 payload length then covers more than the L4 segment
        if (protocol != (udp ? IpProtocols.Udp : IpProtocols.Tcp)) return DropReason.VnetGsoMismatch;

        int l4Header, field;
        if (udp)
        {
            if (packetEnd - l4 < Offsets.UdpHeader) return DropReason.L4Truncated;
            l4Header = Offsets.UdpHeader;
            field = Offsets.UdpChecksum;
        }
        else
        {
            if (packetEnd - l4 < Offsets.TcpMinHeader) return DropReason.L4Truncated;
            l4Header = (frame[l4 + TcpDataOffset] >> 4) * 4;
            if (l4Header < Offsets.TcpMinHeader || l4Header > packetEnd - l4) return DropReason.TcpBadHeaderLength;
            field = Offsets.TcpChecksum;
        }
        // tcp_gso_segment / __udp_gso_segment: a partial checksum must start at the transport header, on its checksum field.
        if (offload.NeedsChecksum && (offload.CsumStart != l4 || offload.CsumOffset != field)) return DropReason.VnetBadChecksumStart;

        int ipHeader = l4 - l3, headers = l4 + l4Header;
        // MinMtu leaves room for the largest headers, so every segment carries at least one payload byte.
        int mss = Math.Min(offload.GsoSize, mtu - ipHeader - l4Header);
        var ip = frame[l3..];
        ulong pseudo = v6
            ? Checksum.PseudoHeaderV6(ip[Offsets.Ip6Src..], ip[Offsets.Ip6Dst..], protocol, 0)
            : Checksum.PseudoHeaderV4(ip[Offsets.Ip4Src..], ip[Offsets.Ip4Dst..], protocol, 0);
        ushort id = v6 ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(ip[Ip4Id..]);
        uint seq = udp ? 0 : BinaryPrimitives.ReadUInt32BigEndian(frame[(l4 + TcpSeq)..]);
        byte flags = udp ? (byte)0 : frame[l4 + Offsets.TcpFlags];

        // Every header field that differs between segments is rewritten for each one, so the headers are copied once.
        frame[..headers].CopyTo(scratch);
        var segIp = scratch[l3..l4];
        for (int offset = headers; ; offset += mss)
        {
            int chunk = Math.Min(mss, packetEnd - offset);
            bool first = offset == headers, last = offset + chunk == packetEnd;
            frame.Slice(offset, chunk).CopyTo(scratch[headers..]);
            int l4Length = l4Header + chunk;
            if (v6)
            {
                BinaryPrimitives.WriteUInt16BigEndian(segIp[Offsets.Ip6PayloadLength..], (ushort)l4Length); // no extension headers
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(segIp[Offsets.Ip4TotalLength..], (ushort)(ipHeader + l4Length));
                BinaryPrimitives.WriteUInt16BigEndian(segIp[Ip4Id..], id++); // inet_gso_segment: id, id+1, … (wraps)
                Checksum.WriteField(segIp, Offsets.Ip4Checksum, 0);
                Checksum.WriteField(segIp, Offsets.Ip4Checksum, Checksum.Compute(segIp));
            }
            var seg = scratch.Slice(l4, l4Length);
            if (udp)
            {
                BinaryPrimitives.WriteUInt16BigEndian(seg[Offsets.UdpLength..], (ushort)l4Length);
                Checksum.WriteField(seg, Offsets.UdpChecksum, 0);
                ushort check = Checksum.Compute(seg, pseudo + (uint)l4Length);
                Checksum.WriteField(seg, Offsets.UdpChecksum, check == 0 ? (ushort)0xFFFF : check); // 0 would mean "no checksum"
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(seg[TcpSeq..], seq + (uint)(offset - headers));
                byte f = flags;
                if (!first) f &= unchecked((byte)~TcpCwr);                     // tcp_gso_segment: CWR stays on the first segment only
                if (!last) f &= unchecked((byte)~(TcpFlags.Fin | TcpFlags.Psh)); // FIN and PSH belong to the last byte
                seg[Offsets.TcpFlags] = f;
                Checksum.WriteField(seg, Offsets.TcpChecksum, 0);
                Checksum.WriteField(seg, Offsets.TcpChecksum, Checksum.Compute(seg, pseudo + (uint)l4Length));
            }
            emitter.Emit(scratch[..(headers + chunk)]);
            if (last) return DropReason.None;
        }
    }

    /// <summary>Ethernet with at most one 802.1Q/802.1ad tag: where the L3 header starts and its EtherType.</summary>
    private static DropReason ParseEthernet(ReadOnlySpan<byte> frame, out int l3, out ushort etherType)
    {
        l3 = Offsets.EthHeader;
        etherType = 0;
        if (frame.Length < Offsets.EthHeader) return DropReason.FrameTruncated;
        etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[Offsets.EthType..]);
        if (etherType is not (EtherTypes.Vlan or EtherTypes.QinQ)) return DropReason.None;
        if (frame.Length < Offsets.EthHeader + Offsets.VlanHeader) return DropReason.VlanTruncated;
        etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(Offsets.EthHeader + 2)..]);
        l3 = Offsets.EthHeader + Offsets.VlanHeader;
        return DropReason.None;
    }

    /// <summary>
    /// The IPv4 header (with options) or IPv6 fixed header at <paramref name="l3"/>: where the next header starts, where
    /// the IP packet ends and its protocol. For a super-frame a zero length means "to the end of the frame" (BIG TCP
    /// leaves it 0 above 64 KB), and an IPv4 fragment is refused (segments cannot be fragments).
    /// </summary>
    private static DropReason ParseIp(ReadOnlySpan<byte> frame, int l3, bool v6, bool gso, out int l4, out int packetEnd, out byte protocol)
    {
        l4 = packetEnd = 0;
        protocol = 0;
        var ip = frame[l3..];
        if (v6)
        {
            if (ip.Length < Offsets.Ip6Header) return DropReason.Ipv6Truncated;
            if (ip[0] >> 4 != 6) return DropReason.Ipv6BadVersion;
            int payload = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip6PayloadLength..]);
            if (payload == 0 && gso) payload = ip.Length - Offsets.Ip6Header;
            if (payload > ip.Length - Offsets.Ip6Header) return DropReason.Ipv6BadPayloadLength;
            l4 = l3 + Offsets.Ip6Header;
            packetEnd = l4 + payload;
            protocol = ip[Offsets.Ip6NextHeader];
            return DropReason.None;
        }
        if (ip.Length < Offsets.Ip4MinHeader) return DropReason.Ipv4Truncated;
        if (ip[0] >> 4 != 4) return DropReason.Ipv4BadVersion;
        int ihl = (ip[0] & 0xF) * 4;
        if (ihl < Offsets.Ip4MinHeader || ihl > ip.Length) return DropReason.Ipv4BadHeaderLength;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4TotalLength..]);
        if (total == 0 && gso) total = ip.Length;
        if (total < ihl || total > ip.Length) return DropReason.Ipv4BadTotalLength;
        if (gso && (BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Flags..]) & 0x3FFF) != 0) return DropReason.Ipv4Fragment; // MF or an offset
        l4 = l3 + ihl;
        packetEnd = l3 + total;
        protocol = ip[Offsets.Ip4Protocol];
        return DropReason.None;
    }

    /// <summary>The IPv6 extension headers (and fragment header) that may sit between the fixed header and TCP/UDP.</summary>
    private static bool IsIpv6Extension(byte nextHeader) => nextHeader is IpProtocols.HopByHop or IpProtocols.Ipv6Routing
        or IpProtocols.Ipv6Fragment or IpProtocols.Ipv6DestOpts or IpProtocols.Ah or IpProtocols.Mobility or IpProtocols.Hip
        or IpProtocols.Shim6;
}
