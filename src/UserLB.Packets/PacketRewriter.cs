using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace UserLB.Packets;

/// <summary>
/// In-place NAT rewrites with RFC 1624 incremental checksum updates, as nf_nat_proto.c does: the L4 checksum is updated
/// for the pseudo-header change and the port change, then the IPv4 header checksum for the address change.
/// The same code serves the header embedded in an ICMP error (where the L4 checksum may lie beyond the quoted bytes).
/// </summary>
public static class PacketRewriter
{
    /// <summary>Rewrites the source address and port (the identifier for ICMP echo).</summary>
    public static void SetSource(Span<byte> buffer, ref PacketInfo info, IpAddr address, ushort port)
    {
        if (!address.Equals(info.Src))
        {
            ChangeAddress(buffer, info, info.IsV6 ? Offsets.Ip6Src : Offsets.Ip4Src, info.Src, address);
            info.Src = address;
        }
        if (port != info.SrcPort)
        {
            ChangePort(buffer, ref info, Offsets.L4SrcPort, info.SrcPort, port);
            info.SrcPort = port;
        }
    }

    /// <summary>Rewrites the destination address and port (the identifier for ICMP echo).</summary>
    public static void SetDestination(Span<byte> buffer, ref PacketInfo info, IpAddr address, ushort port)
    {
        if (!address.Equals(info.Dst))
        {
            ChangeAddress(buffer, info, info.IsV6 ? Offsets.Ip6Dst : Offsets.Ip4Dst, info.Dst, address);
            info.Dst = address;
        }
        if (port != info.DstPort)
        {
            ChangePort(buffer, ref info, Offsets.L4DstPort, info.DstPort, port);
            info.DstPort = port;
        }
    }

    /// <summary>
    /// Rewrites both endpoints of a TCP or UDP packet at once (the established-flow NAT): one RFC 1624 update of the L4
    /// checksum for the addresses (pseudo-header) and ports together, one of the IPv4 header checksum for the addresses.
    /// The bytes are those of <see cref="SetSource"/> then <see cref="SetDestination"/> (the ones'-complement sum has
    /// one representation once it is non-zero, whatever the order of the terms). Other protocols: use those two.
    /// </summary>
    public static void RewriteTcpUdp(Span<byte> buffer, ref PacketInfo info, IpAddr src, ushort srcPort, IpAddr dst, ushort dstPort)
    {
        bool v4 = !info.IsV6;
        bool srcChanged = !src.Equals(info.Src), dstChanged = !dst.Equals(info.Dst);
        if (!srcChanged && !dstChanged && srcPort == info.SrcPort && dstPort == info.DstPort) return;
        uint oldAddr = 0, newAddr = 0;
        if (srcChanged) { oldAddr += info.Src.WordSum(v4); newAddr += src.WordSum(v4); }
        if (dstChanged) { oldAddr += info.Dst.WordSum(v4); newAddr += dst.WordSum(v4); }
        var l4 = buffer.Slice(info.L4Offset, Offsets.UdpHeader);
        bool udp = info.Protocol == IpProtocols.Udp;
        int field = udp ? Offsets.UdpChecksum : Offsets.TcpChecksum;
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(buffer[(info.L4Offset + field)..]);
        if (info.Offload.NeedsChecksum)
        {
            // A partial checksum: only the pseudo-header seed changes; the ports are summed when it is completed.
            if (srcChanged || dstChanged)
                BinaryPrimitives.WriteUInt16BigEndian(buffer[(info.L4Offset + field)..], Checksum.UpdateSeed(check, oldAddr, newAddr));
        }
        else if (!(udp && check == 0 && v4))
        {
            check = Checksum.UpdateSum(check, oldAddr + info.SrcPort + info.DstPort, newAddr + srcPort + dstPort);
            if (udp && check == 0) check = 0xFFFF;
            BinaryPrimitives.WriteUInt16BigEndian(buffer[(info.L4Offset + field)..], check);
        }
        BinaryPrimitives.WriteUInt16BigEndian(l4, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(l4[2..], dstPort);
        var ip = buffer[info.L3Offset..];
        if (v4)
        {
            src.WriteV4(ip[Offsets.Ip4Src..]);
            dst.WriteV4(ip[Offsets.Ip4Dst..]);
            if (srcChanged || dstChanged)
            {
                ushort hc = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Checksum..]);
                BinaryPrimitives.WriteUInt16BigEndian(ip[Offsets.Ip4Checksum..], Checksum.UpdateSum(hc, oldAddr, newAddr));
            }
        }
        else
        {
            if (srcChanged) src.WriteV6(ip[Offsets.Ip6Src..]);
            if (dstChanged) dst.WriteV6(ip[Offsets.Ip6Dst..]);
        }
        info.Src = src;
        info.Dst = dst;
        info.SrcPort = srcPort;
        info.DstPort = dstPort;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int L4ChecksumFieldOffset(in PacketInfo info, Span<byte> buffer)
    {
        int field = info.Protocol switch
        {
            IpProtocols.Tcp => Offsets.TcpChecksum,
            IpProtocols.Udp => Offsets.UdpChecksum,
            IpProtocols.Icmp or IpProtocols.Icmpv6 => Offsets.IcmpChecksum,
            _ => -1,
        };
        if (field < 0) return -1;
        int at = info.L4Offset + field;
        return at + 2 <= buffer.Length ? at : -1; // an ICMP error may quote fewer bytes than the field's offset
    }

    private static void ChangeAddress(Span<byte> buffer, in PacketInfo info, int fieldOffset, IpAddr oldAddress, IpAddr newAddress)
    {
        bool v4 = !info.IsV6;
        uint oldSum = oldAddress.WordSum(v4);
        uint newSum = newAddress.WordSum(v4);
        var ip = buffer[info.L3Offset..];
        // L4 first (pseudo-header), as nf_nat does; ICMPv4 has no pseudo-header.
        if (info.Protocol is IpProtocols.Tcp or IpProtocols.Udp || info.Protocol == IpProtocols.Icmpv6)
        {
            int at = L4ChecksumFieldOffset(info, buffer);
            if (at >= 0)
            {
                ushort check = BinaryPrimitives.ReadUInt16BigEndian(buffer[at..]);
                if (info.Offload.NeedsChecksum)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(buffer[at..], Checksum.UpdateSeed(check, oldSum, newSum));
                }
                else if (!(info.Protocol == IpProtocols.Udp && check == 0 && v4))
                {
                    check = Checksum.UpdateSum(check, oldSum, newSum);
                    if (info.Protocol == IpProtocols.Udp && check == 0) check = 0xFFFF;
                    BinaryPrimitives.WriteUInt16BigEndian(buffer[at..], check);
                }
            }
        }
        if (v4)
        {
            newAddress.WriteV4(ip[fieldOffset..]);
            ushort hc = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Checksum..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[Offsets.Ip4Checksum..], Checksum.UpdateSum(hc, oldSum, newSum));
        }
        else
        {
            newAddress.WriteV6(ip[fieldOffset..]);
        }
    }

    private static void ChangePort(Span<byte> buffer, ref PacketInfo info, int portOffset, ushort oldPort, ushort newPort)
    {
        switch (info.Protocol)
        {
            case IpProtocols.Tcp:
            case IpProtocols.Udp:
            {
                BinaryPrimitives.WriteUInt16BigEndian(buffer[(info.L4Offset + portOffset)..], newPort);
                int at = L4ChecksumFieldOffset(info, buffer);
                if (at < 0 || info.Offload.NeedsChecksum) return; // a partial checksum sums the ports when completed
                ushort check = BinaryPrimitives.ReadUInt16BigEndian(buffer[at..]);
                if (info.Protocol == IpProtocols.Udp && check == 0 && !info.IsV6) return;
                check = Checksum.Update16(check, oldPort, newPort);
                if (info.Protocol == IpProtocols.Udp && check == 0) check = 0xFFFF;
                BinaryPrimitives.WriteUInt16BigEndian(buffer[at..], check);
                return;
            }
            case IpProtocols.Icmp:
            case IpProtocols.Icmpv6:
            {
                // Echo identifier: one field stands for both "ports"; write it once.
                if (portOffset != Offsets.L4SrcPort) { info.SrcPort = newPort; }
                else { info.DstPort = newPort; }
                int idAt = info.L4Offset + Offsets.IcmpId;
                ushort current = BinaryPrimitives.ReadUInt16BigEndian(buffer[idAt..]);
                if (current == newPort) return;
                BinaryPrimitives.WriteUInt16BigEndian(buffer[idAt..], newPort);
                int at = L4ChecksumFieldOffset(info, buffer);
                if (at < 0) return;
                ushort check = BinaryPrimitives.ReadUInt16BigEndian(buffer[at..]);
                BinaryPrimitives.WriteUInt16BigEndian(buffer[at..], Checksum.Update16(check, current, newPort));
                return;
            }
            case IpProtocols.Sctp:
            {
                BinaryPrimitives.WriteUInt16BigEndian(buffer[(info.L4Offset + portOffset)..], newPort);
                // CRC32c has no incremental form; SCTP NAT recomputes it over the packet (only when the port changes).
                if (info.L4Offset + info.L4Length <= buffer.Length && info.L4Length >= 12)
                    Crc32C.UpdateSctp(buffer.Slice(info.L4Offset, info.L4Length));
                return;
            }
            default:
                return;
        }
    }

    /// <summary>Decrements the IPv4 TTL / IPv6 hop limit as a router does (ip_decrease_ttl). False when it would expire.</summary>
    public static bool DecrementTtl(Span<byte> frame, in PacketInfo info)
    {
        var ip = frame[info.L3Offset..];
        if (info.IsV6)
        {
            byte hop = ip[Offsets.Ip6HopLimit];
            if (hop <= 1) return false;
            ip[Offsets.Ip6HopLimit] = (byte)(hop - 1);
            return true;
        }
        byte ttl = ip[Offsets.Ip4Ttl];
        if (ttl <= 1) return false;
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Ttl..]);
        ip[Offsets.Ip4Ttl] = (byte)(ttl - 1);
        ushort newWord = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Ttl..]);
        ushort hc = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Checksum..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[Offsets.Ip4Checksum..], Checksum.Update16(hc, oldWord, newWord));
        return true;
    }

    /// <summary>Recomputes an ICMP/ICMPv6 checksum in full (needed after the quoted packet inside an error changed).</summary>
    public static void RecomputeIcmpChecksum(Span<byte> frame, in PacketInfo info)
    {
        var l4 = frame.Slice(info.L4Offset, info.L4Length);
        l4[Offsets.IcmpChecksum] = 0;
        l4[Offsets.IcmpChecksum + 1] = 0;
        ulong initial = info.IsV6 ? ChecksumVerifier.PseudoHeaderSum(frame, info) : 0;
        BinaryPrimitives.WriteUInt16BigEndian(l4[Offsets.IcmpChecksum..], Checksum.Compute(l4, initial));
    }
}
