using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace UserLB.Packets;

/// <summary>Arrival checks as conntrack does with nf_conntrack_checksum=1: a full sum, once per received frame.</summary>
public static class ChecksumVerifier
{
    public static bool Ipv4HeaderValid(ReadOnlySpan<byte> frame, in PacketInfo info)
    {
        var header = frame.Slice(info.L3Offset, info.L3HeaderLength);
        if (header.Length != Offsets.Ip4MinHeader) return Checksum.Verifies(Checksum.Sum(header));
        // No options (nearly every packet): five 32-bit words, byte order irrelevant to a ones'-complement sum.
        ulong sum = (ulong)BinaryPrimitives.ReadUInt32LittleEndian(header) + BinaryPrimitives.ReadUInt32LittleEndian(header[4..])
            + BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) + BinaryPrimitives.ReadUInt32LittleEndian(header[12..])
            + BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
        return Checksum.Verifies(sum);
    }

    /// <summary>The pseudo-header sum of the packet's L4 segment (IPv4 or IPv6).</summary>
    public static ulong PseudoHeaderSum(ReadOnlySpan<byte> frame, in PacketInfo info)
    {
        var ip = frame[info.L3Offset..];
        return info.IsV6
            ? Checksum.PseudoHeaderV6(ip[Offsets.Ip6Src..], ip[Offsets.Ip6Dst..], info.Protocol, info.L4Length)
            : Checksum.PseudoHeaderV4(ip[Offsets.Ip4Src..], ip[Offsets.Ip4Dst..], info.Protocol, info.L4Length);
    }

    /// <summary>
    /// The pseudo-header sum from the addresses the parser read (so <paramref name="info"/> must describe this frame as
    /// <see cref="PacketParser.Parse(ReadOnlySpan{byte}, in VnetHeader, out PacketInfo)"/> left it): 32-bit halves instead of 16-bit words, which is the same sum modulo
    /// 0xFFFF (2^16 ≡ 1), never 0 (the protocol is in it), so it folds and verifies exactly as
    /// <see cref="PseudoHeaderSum"/> does, without reading the addresses from the frame again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ParsedPseudoHeaderSum(in PacketInfo info)
    {
        ulong sum = (ulong)info.Protocol + (uint)info.L4Length + (uint)info.Src.Lo + (uint)info.Dst.Lo;
        if (info.IsV6)
            sum += (info.Src.Lo >> 32) + (info.Dst.Lo >> 32) + (info.Src.Hi >> 32) + (uint)info.Src.Hi + (info.Dst.Hi >> 32) + (uint)info.Dst.Hi;
        return sum;
    }

    /// <summary>Verifies the transport checksum of a frame as <see cref="PacketParser.Parse(ReadOnlySpan{byte}, in VnetHeader, out PacketInfo)"/> described it in
    /// <paramref name="info"/> (the addresses are taken from there). Recognises a CHECKSUM_PARTIAL frame (tx offload on
    /// a veth): the field then holds only the folded pseudo-header sum.</summary>
    public static DropReason VerifyL4(ReadOnlySpan<byte> frame, in PacketInfo info)
    {
        var l4 = frame.Slice(info.L4Offset, info.L4Length);
        switch (info.Protocol)
        {
            case IpProtocols.Tcp:
            case IpProtocols.Udp:
            {
                int field = info.Protocol == IpProtocols.Tcp ? Offsets.TcpChecksum : Offsets.UdpChecksum;
                ushort stored = BinaryPrimitives.ReadUInt16BigEndian(l4[field..]);
                if (info.Protocol == IpProtocols.Udp && stored == 0)
                    return info.IsV6 ? DropReason.L4BadChecksum : DropReason.None; // IPv4: no checksum; IPv6: mandatory
                ulong pseudo = ParsedPseudoHeaderSum(info);
                if (Checksum.Verifies(Checksum.Sum(l4, pseudo))) return DropReason.None;
                return stored == Checksum.Fold(pseudo) ? DropReason.PartialChecksumOffload : DropReason.L4BadChecksum;
            }
            case IpProtocols.Icmp:
                return Checksum.Verifies(Checksum.Sum(l4)) ? DropReason.None : DropReason.L4BadChecksum;
            case IpProtocols.Icmpv6:
                return Checksum.Verifies(Checksum.Sum(l4, ParsedPseudoHeaderSum(info))) ? DropReason.None : DropReason.L4BadChecksum;
            case IpProtocols.Sctp:
                return Crc32C.VerifySctp(l4) ? DropReason.None : DropReason.L4BadChecksum;
            default:
                return DropReason.None;
        }
    }
}
