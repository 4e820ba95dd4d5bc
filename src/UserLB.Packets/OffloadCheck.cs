namespace UserLB.Packets;

/// <summary>
/// Checks a frame's virtio-net header against the packet it came with, as virtio_net_hdr_to_skb and the GSO handlers
/// would before trusting it: a header the engine cannot keep true on the way out is a counted drop, never a wrong
/// checksum on the wire.
/// </summary>
public static class OffloadCheck
{
    /// <summary>DropReason.None when <paramref name="info"/>'s <see cref="PacketInfo.Offload"/> fits its packet.</summary>
    public static DropReason Validate(int frameLength, in PacketInfo info)
    {
        var h = info.Offload;
        if (h.HdrLen > frameLength) return DropReason.VnetBadHdrLen;
        bool tcp = info.Protocol == IpProtocols.Tcp, udp = info.Protocol == IpProtocols.Udp;
        if (h.NeedsChecksum)
        {
            // The engine adjusts the seed in the transport checksum field for address changes; it must be that field.
            int field = tcp ? Offsets.TcpChecksum : udp ? Offsets.UdpChecksum : -1;
            if (field < 0 || h.CsumStart != info.L4Offset || h.CsumOffset != field || h.CsumStart + h.CsumOffset + 2 > info.PacketEnd)
                return DropReason.VnetBadChecksumStart;
        }
        if (!h.IsGso) return (h.GsoType & VnetHeader.GsoEcn) != 0 ? DropReason.VnetEcnUnsupported : DropReason.None;
        byte kind = h.GsoKind;
        if ((h.GsoType & VnetHeader.GsoEcn) != 0 && kind is not (VnetHeader.GsoTcpV4 or VnetHeader.GsoTcpV6))
            return DropReason.VnetEcnUnsupported;
        bool matches = kind switch
        {
            VnetHeader.GsoTcpV4 => tcp && !info.IsV6,
            VnetHeader.GsoTcpV6 => tcp && info.IsV6,
            VnetHeader.GsoUdpL4 => udp,
            _ => false, // UFO (IP fragmentation) and unknown types
        };
        if (!matches) return DropReason.VnetGsoMismatch;
        if (h.GsoSize == 0) return DropReason.VnetGsoSizeZero;
        return h.NeedsChecksum ? DropReason.None : DropReason.VnetGsoWithoutChecksum;
    }
}
