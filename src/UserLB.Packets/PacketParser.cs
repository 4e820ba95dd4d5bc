using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace UserLB.Packets;

/// <summary>
/// Parses Ethernet (+ one 802.1Q/802.1ad tag), ARP, IPv4 (with options), IPv6 (extension headers skipped),
/// TCP, UDP, SCTP, ICMP and ICMPv6. Every length is checked; nothing throws; a bad frame returns its drop reason.
/// </summary>
public static class PacketParser
{
    /// <summary>Largest frame taken as a real frame; anything longer is a GSO/GRO super-frame from an offloading veth.</summary>
    public const int MaxFrameLength = 9216 + 18;

    /// <summary>Largest super-frame a virtio-net header can describe: a 64 KB IP packet behind Ethernet and one VLAN tag.</summary>
    public const int MaxGsoFrameLength = 65535 + Offsets.Ip6Header + Offsets.EthHeader + Offsets.VlanHeader;

    private const int MaxIpv6Extensions = 8;

    /// <summary>Parses a frame that came without offload state (a full checksum, no super-frame).</summary>
    public static DropReason Parse(ReadOnlySpan<byte> frame, out PacketInfo info) => ParseFrame(frame, MaxFrameLength, out info);

    /// <summary>
    /// Parses a frame and checks its offload state against it (<see cref="OffloadCheck"/>); a GSO super-frame may be up
    /// to <see cref="MaxGsoFrameLength"/>. <paramref name="offload"/> is kept in <see cref="PacketInfo.Offload"/>.
    /// </summary>
    public static DropReason Parse(ReadOnlySpan<byte> frame, in VnetHeader offload, out PacketInfo info) =>
        offload.IsPlain ? ParseFrame(frame, MaxFrameLength, out info) : ParseOffloaded(frame, offload, out info);

    private static DropReason ParseOffloaded(ReadOnlySpan<byte> frame, in VnetHeader offload, out PacketInfo info)
    {
        var reason = ParseFrame(frame, offload.IsGso ? MaxGsoFrameLength : MaxFrameLength, out info);
        if (reason != DropReason.None || info.Kind != FrameKind.Ip) return reason;
        info.Offload = offload;
        return OffloadCheck.Validate(frame.Length, info);
    }

    /// <summary>Parses a frame that may be a super-frame seen without its offload state (up to <see cref="MaxGsoFrameLength"/>).</summary>
    public static DropReason ParseAnySize(ReadOnlySpan<byte> frame, out PacketInfo info) => ParseFrame(frame, MaxGsoFrameLength, out info);

    private static DropReason ParseFrame(ReadOnlySpan<byte> frame, int maxFrame, out PacketInfo info)
    {
        info = default;
        if (frame.Length < Offsets.EthHeader) return DropReason.FrameTruncated;
        int offset = Offsets.EthHeader;
        ushort etherType = ReadUInt16(ref MemoryMarshal.GetReference(frame), Offsets.EthType);
        if (etherType is EtherTypes.Vlan or EtherTypes.QinQ)
        {
            if (frame.Length < offset + Offsets.VlanHeader) return DropReason.VlanTruncated;
            info.HasVlan = true;
            info.VlanTci = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + 2)..]);
            offset += Offsets.VlanHeader;
        }
        info.EtherType = etherType;
        info.L3Offset = offset;
        switch (etherType)
        {
            case EtherTypes.Ipv4:
                info.Kind = FrameKind.Ip;
                return ParseIpv4(frame, offset, maxFrame, ref info);
            case EtherTypes.Ipv6:
                info.Kind = FrameKind.Ip;
                info.IsV6 = true;
                return ParseIpv6(frame, offset, maxFrame, ref info);
            case EtherTypes.Arp:
                info.Kind = FrameKind.Arp;
                return frame.Length < offset + Offsets.ArpPacket ? DropReason.ArpMalformed : DropReason.None;
            default:
                return DropReason.UnsupportedEtherType;
        }
    }

    private static DropReason ParseIpv4(ReadOnlySpan<byte> frame, int l3, int maxFrame, ref PacketInfo info)
    {
        if ((uint)l3 > (uint)frame.Length || frame.Length - l3 < Offsets.Ip4MinHeader) return DropReason.Ipv4Truncated;
        // The fixed 20-byte header is in the frame (checked just above): its fields are read without further checks.
        int ipLength = frame.Length - l3;
        ref byte ip = ref Unsafe.Add(ref MemoryMarshal.GetReference(frame), l3);
        byte vihl = ip;
        if (vihl >> 4 != 4) return DropReason.Ipv4BadVersion;
        int ihl = (vihl & 0xF) * 4;
        if (ihl < Offsets.Ip4MinHeader || ihl > ipLength) return DropReason.Ipv4BadHeaderLength;
        int total = ReadUInt16(ref ip, Offsets.Ip4TotalLength);
        if (total == 0 && frame.Length > maxFrame) return DropReason.GsoSuperFrame;
        if (total < ihl) return DropReason.Ipv4BadTotalLength;
        if (total > ipLength) return frame.Length > maxFrame ? DropReason.GsoSuperFrame : DropReason.Ipv4BadTotalLength;
        if (l3 + total > maxFrame) return DropReason.GsoSuperFrame;
        info.L3HeaderLength = ihl;
        info.PacketEnd = l3 + total;
        info.Protocol = Unsafe.Add(ref ip, Offsets.Ip4Protocol);
        info.Src = IpAddr.FromV4(ReadUInt32(ref ip, Offsets.Ip4Src));
        info.Dst = IpAddr.FromV4(ReadUInt32(ref ip, Offsets.Ip4Dst));
        ushort fragment = ReadUInt16(ref ip, Offsets.Ip4Flags);
        if ((fragment & 0x3FFF) != 0) return DropReason.Ipv4Fragment; // MF set or offset != 0
        info.L4Offset = l3 + ihl;
        info.L4Length = total - ihl;
        return ParseL4(frame, ref info);
    }

    private static DropReason ParseIpv6(ReadOnlySpan<byte> frame, int l3, int maxFrame, ref PacketInfo info)
    {
        if (frame.Length < l3 + Offsets.Ip6Header) return DropReason.Ipv6Truncated;
        var ip = frame[l3..];
        if (ip[0] >> 4 != 6) return DropReason.Ipv6BadVersion;
        int payload = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip6PayloadLength..]);
        if (payload == 0 && frame.Length > maxFrame) return DropReason.GsoSuperFrame; // jumbogram / GSO
        if (Offsets.Ip6Header + payload > ip.Length)
            return frame.Length > maxFrame ? DropReason.GsoSuperFrame : DropReason.Ipv6BadPayloadLength;
        if (l3 + Offsets.Ip6Header + payload > maxFrame) return DropReason.GsoSuperFrame;
        info.PacketEnd = l3 + Offsets.Ip6Header + payload;
        info.Src = IpAddr.ReadV6(ip[Offsets.Ip6Src..]);
        info.Dst = IpAddr.ReadV6(ip[Offsets.Ip6Dst..]);
        var reason = SkipIpv6Extensions(frame[..info.PacketEnd], l3, out int l4, out byte next);
        if (reason != DropReason.None) return reason;
        info.Protocol = next;
        info.L3HeaderLength = l4 - l3;
        info.L4Offset = l4;
        info.L4Length = info.PacketEnd - l4;
        return ParseL4(frame, ref info);
    }

    /// <summary>Walks the IPv6 extension header chain starting at the fixed header at <paramref name="l3"/>.</summary>
    internal static DropReason SkipIpv6Extensions(ReadOnlySpan<byte> packet, int l3, out int l4Offset, out byte protocol)
    {
        protocol = packet[l3 + Offsets.Ip6NextHeader];
        int offset = l3 + Offsets.Ip6Header;
        for (int n = 0; ; n++)
        {
            switch (protocol)
            {
                case IpProtocols.HopByHop:
                case IpProtocols.Ipv6Routing:
                case IpProtocols.Ipv6DestOpts:
                case IpProtocols.Mobility:
                case IpProtocols.Hip:
                case IpProtocols.Shim6:
                    if (n >= MaxIpv6Extensions) { l4Offset = offset; return DropReason.Ipv6ExtensionChainTooLong; }
                    if (packet.Length < offset + 8) { l4Offset = offset; return DropReason.Ipv6ExtensionTruncated; }
                    protocol = packet[offset];
                    offset += (packet[offset + 1] + 1) * 8;
                    break;
                case IpProtocols.Ah:
                    if (n >= MaxIpv6Extensions) { l4Offset = offset; return DropReason.Ipv6ExtensionChainTooLong; }
                    if (packet.Length < offset + 8) { l4Offset = offset; return DropReason.Ipv6ExtensionTruncated; }
                    protocol = packet[offset];
                    offset += (packet[offset + 1] + 2) * 4;
                    break;
                case IpProtocols.Ipv6Fragment:
                    l4Offset = offset;
                    return packet.Length < offset + 8 ? DropReason.Ipv6ExtensionTruncated : DropReason.Ipv6Fragment;
                default:
                    l4Offset = offset;
                    return offset > packet.Length ? DropReason.Ipv6ExtensionTruncated : DropReason.None;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason ParseL4(ReadOnlySpan<byte> frame, ref PacketInfo info)
    {
        var l4 = frame[info.L4Offset..info.PacketEnd];
        switch (info.Protocol)
        {
            case IpProtocols.Tcp:
            {
                if (l4.Length < Offsets.TcpMinHeader) return DropReason.L4Truncated;
                // The 20-byte header is in the segment (checked just above).
                ref byte tcp = ref MemoryMarshal.GetReference(l4);
                int doff = (Unsafe.Add(ref tcp, 12) >> 4) * 4;
                if (doff < Offsets.TcpMinHeader || doff > l4.Length) return DropReason.TcpBadHeaderLength;
                info.SrcPort = ReadUInt16(ref tcp, Offsets.L4SrcPort);
                info.DstPort = ReadUInt16(ref tcp, Offsets.L4DstPort);
                info.TcpFlags = (byte)(Unsafe.Add(ref tcp, Offsets.TcpFlags) & 0x3F);
                info.TransportHeaderLength = doff;
                return DropReason.None;
            }
            case IpProtocols.Udp:
            {
                if (l4.Length < Offsets.UdpHeader) return DropReason.L4Truncated;
                int len = BinaryPrimitives.ReadUInt16BigEndian(l4[Offsets.UdpLength..]);
                if (len != l4.Length && !(info.IsV6 && len == 0)) return DropReason.UdpBadLength;
                info.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(l4);
                info.DstPort = BinaryPrimitives.ReadUInt16BigEndian(l4[2..]);
                info.TransportHeaderLength = Offsets.UdpHeader;
                return DropReason.None;
            }
            case IpProtocols.Sctp:
            {
                if (l4.Length < 12) return DropReason.L4Truncated;
                info.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(l4);
                info.DstPort = BinaryPrimitives.ReadUInt16BigEndian(l4[2..]);
                return DropReason.None;
            }
            case IpProtocols.Icmp:
            case IpProtocols.Icmpv6:
            {
                if ((info.Protocol == IpProtocols.Icmpv6) != info.IsV6) return DropReason.UnsupportedProtocol;
                if (l4.Length < Offsets.IcmpHeader) return DropReason.L4Truncated;
                info.IcmpType = l4[0];
                info.IcmpCode = l4[1];
                ushort id = BinaryPrimitives.ReadUInt16BigEndian(l4[Offsets.IcmpId..]);
                info.SrcPort = id;
                info.DstPort = id;
                return DropReason.None;
            }
            default:
                return DropReason.None; // other protocols parse; the engine decides (no farm takes them today)
        }
    }

    /// <summary>A big-endian 16-bit field at <paramref name="offset"/> from <paramref name="at"/>; the caller has checked it is in the frame.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ReadUInt16(ref byte at, int offset) =>
        BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref at, offset)));

    /// <summary>A big-endian 32-bit field at <paramref name="offset"/> from <paramref name="at"/>; the caller has checked it is in the frame.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadUInt32(ref byte at, int offset) =>
        BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref at, offset)));

    /// <summary>
    /// Parses the IP header (and first 8 bytes of L4) embedded in an ICMP error. The embedded packet is usually truncated,
    /// so its total length is not checked against the buffer; only the bytes actually needed are.
    /// </summary>
    public static DropReason ParseEmbedded(ReadOnlySpan<byte> buffer, int offset, bool v6, out PacketInfo info)
    {
        info = default;
        info.Kind = FrameKind.Ip;
        info.IsV6 = v6;
        info.L3Offset = offset;
        var ip = buffer[offset..];
        int l4;
        if (!v6)
        {
            if (ip.Length < Offsets.Ip4MinHeader || ip[0] >> 4 != 4) return DropReason.IcmpMalformed;
            int ihl = (ip[0] & 0xF) * 4;
            if (ihl < Offsets.Ip4MinHeader || ip.Length < ihl + 8) return DropReason.IcmpMalformed;
            // A quoted header with a bad checksum is garbage: relaying it would forward a frame with a wrong checksum.
            if (!Checksum.Verifies(Checksum.Sum(ip[..ihl]))) return DropReason.IcmpMalformed;
            info.L3HeaderLength = ihl;
            info.Protocol = ip[Offsets.Ip4Protocol];
            info.Src = IpAddr.ReadV4(ip[Offsets.Ip4Src..]);
            info.Dst = IpAddr.ReadV4(ip[Offsets.Ip4Dst..]);
            if ((BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Flags..]) & 0x1FFF) != 0) return DropReason.IcmpMalformed;
            l4 = offset + ihl;
        }
        else
        {
            if (ip.Length < Offsets.Ip6Header + 8 || ip[0] >> 4 != 6) return DropReason.IcmpMalformed;
            info.Src = IpAddr.ReadV6(ip[Offsets.Ip6Src..]);
            info.Dst = IpAddr.ReadV6(ip[Offsets.Ip6Dst..]);
            var reason = SkipIpv6Extensions(buffer, offset, out l4, out byte next);
            if (reason != DropReason.None || buffer.Length < l4 + 8) return DropReason.IcmpMalformed;
            info.Protocol = next;
            info.L3HeaderLength = l4 - offset;
        }
        info.L4Offset = l4;
        info.PacketEnd = buffer.Length;
        info.L4Length = buffer.Length - l4;
        var l4span = buffer[l4..];
        switch (info.Protocol)
        {
            case IpProtocols.Tcp:
            case IpProtocols.Udp:
            case IpProtocols.Sctp:
                info.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(l4span);
                info.DstPort = BinaryPrimitives.ReadUInt16BigEndian(l4span[2..]);
                return DropReason.None;
            case IpProtocols.Icmp:
            case IpProtocols.Icmpv6:
                info.IcmpType = l4span[0];
                info.IcmpCode = l4span[1];
                info.SrcPort = info.DstPort = BinaryPrimitives.ReadUInt16BigEndian(l4span[Offsets.IcmpId..]);
                // An error about an error is never answered (RFC 1122); the engine drops it.
                return IcmpTypes.IsError(v6, info.IcmpType) ? DropReason.IcmpMalformed : DropReason.None;
            default:
                return DropReason.UnsupportedProtocol;
        }
    }
}
