using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// The established flow's usual packet, forwarded in one straight pass: a TCP ACK (with or without PSH/URG) of an
/// ESTABLISHED, ASSURED flow that has seen its reply, or a UDP datagram of a flow that has seen its reply (and is ASSURED
/// once it counts as a stream), whose next hop for this direction is cached. Everything
/// <see cref="ExistingFlow"/> would compute for it is constant for the entry and prepared once per direction when the
/// next hop is cached (<see cref="PrepareFastPath"/>): the new addresses and ports are the other tuple's, and the RFC 1624
/// addends of the L4 checksum (NAT) and of the IPv4 header checksum (NAT and the TTL decrement together) are folded
/// into one 16-bit addend each. The bytes written are those of <see cref="ExistingFlow"/>: a ones'-complement sum
/// folded with end-around carry is the same whatever the grouping of its terms (Fold(Fold(a) + b) = Fold(a + b)).
/// Anything else (another state or flag, tracing, an unprepared direction, TTL ≤ 1) returns false before any change,
/// and <see cref="ExistingFlow"/> handles the packet.
/// </summary>
public sealed partial class PacketEngine
{
    private const byte FastValid = 1;
    private const byte FastL4Changes = 2;
    private const byte FastV6 = 4;
    private const byte FastFlagsMask = 7;

    /// <summary>
    /// Prepares the established-path rewrite of one direction of a TCP or UDP flow (see <see cref="TryForwardEstablished"/>):
    /// the same sums <see cref="PacketRewriter.RewriteTcpUdp"/> and <see cref="PacketRewriter.DecrementTtl"/> compute
    /// for a packet of this direction, whose addresses and ports are this direction's tuple. Left unprepared when a field
    /// the entry does not translate differs from the other tuple's (not an entry the NAT built; the general path copes).
    /// </summary>
    private static void PrepareFastPath(ref ConnEntry e, bool reply, bool v6)
    {
        int shift = reply ? 4 : 0;
        e.FastFlags = (byte)(e.FastFlags & ~(FastFlagsMask << shift));
        if (e.Original.Protocol is not (IpProtocols.Tcp or IpProtocols.Udp)) return;
        if ((e.Status & ConnStatus.SeqAdjust) != 0) return; // SYN-proxied: sequence numbers shifted on the general path
        ref readonly var from = ref reply ? ref e.Reply : ref e.Original;
        ref readonly var to = ref reply ? ref e.Original : ref e.Reply;
        bool srcNat = (e.Status & (reply ? ConnStatus.DstNat : ConnStatus.SrcNat)) != 0;
        bool dstNat = (e.Status & (reply ? ConnStatus.SrcNat : ConnStatus.DstNat)) != 0;
        // The fast path writes the other tuple's fields unconditionally: where the entry does not translate, they must be
        // this direction's own (as NewFlow and ImportConnections build them).
        if (!srcNat && (to.Dst != from.Src || to.DstPort != from.SrcPort)) return;
        if (!dstNat && (to.Src != from.Dst || to.SrcPort != from.DstPort)) return;
        bool v4 = !v6;
        bool srcChanged = to.Dst != from.Src, dstChanged = to.Src != from.Dst;
        bool anyChange = srcChanged || dstChanged || to.DstPort != from.SrcPort || to.SrcPort != from.DstPort;
        uint oldAddr = 0, newAddr = 0;
        if (srcChanged) { oldAddr += from.Src.WordSum(v4); newAddr += to.Dst.WordSum(v4); }
        if (dstChanged) { oldAddr += from.Dst.WordSum(v4); newAddr += to.Src.WordSum(v4); }
        // RewriteTcpUdp: UpdateSum(check, old, new) = ~Fold(~check + ~Fold(old) + new); the addend is ~Fold(old) + new.
        ulong l4 = (ulong)(ushort)~Checksum.Fold(oldAddr + from.SrcPort + from.DstPort) + newAddr + to.DstPort + to.SrcPort;
        // IPv4 header: the address update (when an address changes), then DecrementTtl's Update16 of the TTL/protocol
        // word, whose addend ~(ttl << 8 | proto) + ((ttl - 1) << 8 | proto) is 0xFEFF for every TTL > 1.
        ulong ip = 0xFEFF;
        if (srcChanged || dstChanged) ip += (ulong)(ushort)~Checksum.Fold(oldAddr) + newAddr;
        if (reply)
        {
            e.FastL4Reply = Checksum.Fold(l4);
            e.FastIpReply = Checksum.Fold(ip);
        }
        else
        {
            e.FastL4Original = Checksum.Fold(l4);
            e.FastIpOriginal = Checksum.Fold(ip);
        }
        int bits = FastValid | (anyChange ? FastL4Changes : 0) | (v6 ? FastV6 : 0);
        e.FastFlags |= (byte)(bits << shift);
    }

    /// <summary>Forwards the usual packet of an established TCP or UDP flow (see the class summary); false, with nothing
    /// changed, when the packet or the entry is not that case.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryForwardEstablished(Span<byte> frame, in PacketInfo p, long nowNs, int index, bool reply)
    {
        ref var e = ref _table[index];
        int flags = (e.FastFlags >> (reply ? 4 : 0)) & FastFlagsMask;
        bool udp = p.Protocol == IpProtocols.Udp;
        // Frames with offloads (a partial checksum, a super-frame: per byte, not per frame) take the general path.
        if ((flags & FastValid) == 0 || ((flags & FastV6) != 0) != p.IsV6 || !p.Offload.IsPlain
            || e.NeighborVersion != _neighbors.Version || e.NeighborVersion == 0)
        {
            return false;
        }

        long expires;
        if (!udp)
        {
            // ACK, optionally PSH/URG, no SYN/FIN/RST: tcp_valid_flags accepts it, and ESTABLISHED stays ESTABLISHED.
            if (e.TcpState != TcpState.Established || (p.TcpFlags & 0x17) != 0x10
                || (e.Status & (ConnStatus.SeenReply | ConnStatus.Assured)) != (ConnStatus.SeenReply | ConnStatus.Assured))
            {
                return false;
            }

            expires = nowNs + _tcpEstablishedTimeoutNs;
        }
        else
        {
            // ExistingFlow's UDP update once the reply was seen: the stream timeout and ASSURED after 2 s, else the
            // plain timeout; a flow about to become ASSURED (an event) takes the general path.
            if ((e.Status & ConnStatus.SeenReply) == 0) return false;
            bool stream = nowNs - e.CreatedNs > ConntrackTimeouts.UdpStreamAfterNs;
            if (stream && (e.Status & ConnStatus.Assured) == 0) return false;
            expires = nowNs + (stream ? _udpStreamTimeoutNs : _udpTimeoutNs);
        }
        ulong mac = reply ? e.NextHopMacReply.Value : e.NextHopMacOriginal.Value;
        int l3 = p.L3Offset, l4 = p.L4Offset, end = p.PacketEnd;
        if (mac == 0 || (uint)end > (uint)frame.Length || l4 + (udp ? Offsets.UdpHeader : Offsets.TcpMinHeader) > end
            || l4 - l3 < (p.IsV6 ? Offsets.Ip6Header : Offsets.Ip4MinHeader) || l3 < Offsets.EthHeader)
        {
            return false;
        }

        ref byte f = ref MemoryMarshal.GetReference(frame);
        ref byte ip = ref Unsafe.Add(ref f, l3);
        ref byte ttl = ref Unsafe.Add(ref ip, p.IsV6 ? Offsets.Ip6HopLimit : Offsets.Ip4Ttl);
        if (ttl <= 1) return false;

        // TCP: ESTABLISHED → ESTABLISHED, ASSURED and SEEN_REPLY already set (no event), the seen-reply timeout.
        e.ExpiresNs = expires;
        Account(ref e, reply, p);

        ref readonly var to = ref reply ? ref e.Original : ref e.Reply;
        ref byte transport = ref Unsafe.Add(ref f, l4);
        if ((flags & FastL4Changes) != 0)
        {
            ref byte field = ref Unsafe.Add(ref transport, udp ? Offsets.UdpChecksum : Offsets.TcpChecksum);
            ushort check = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref field));
            // RewriteTcpUdp: an IPv4 UDP datagram without a checksum keeps none; a UDP result of 0 is sent as 0xFFFF.
            if (!(udp && check == 0 && !p.IsV6))
            {
                ushort addend = reply ? e.FastL4Reply : e.FastL4Original;
                check = (ushort)~Checksum.Fold((ulong)(ushort)~check + addend);
                if (udp && check == 0) check = 0xFFFF;
                Unsafe.WriteUnaligned(ref field, BinaryPrimitives.ReverseEndianness(check));
            }
        }
        Unsafe.WriteUnaligned(ref transport, BinaryPrimitives.ReverseEndianness((uint)to.DstPort << 16 | to.SrcPort));
        if (p.IsV6)
        {
            WriteV6(ref Unsafe.Add(ref ip, Offsets.Ip6Src), to.Dst);
            WriteV6(ref Unsafe.Add(ref ip, Offsets.Ip6Dst), to.Src);
            ttl--;
        }
        else
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref ip, Offsets.Ip4Src), BinaryPrimitives.ReverseEndianness((uint)to.Dst.Lo));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref ip, Offsets.Ip4Dst), BinaryPrimitives.ReverseEndianness((uint)to.Src.Lo));
            ttl--;
            ref byte field = ref Unsafe.Add(ref ip, Offsets.Ip4Checksum);
            ushort hc = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref field));
            ushort addend = reply ? e.FastIpReply : e.FastIpOriginal;
            Unsafe.WriteUnaligned(ref field, BinaryPrimitives.ReverseEndianness((ushort)~Checksum.Fold((ulong)(ushort)~hc + addend)));
        }

        Transmit(frame[..end], new MacAddress(mac), reply ? e.NextHopPortReply : e.NextHopPortOriginal, default);
        Counters.Forwarded++;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteV6(ref byte at, IpAddr a)
    {
        Unsafe.WriteUnaligned(ref at, BinaryPrimitives.ReverseEndianness(a.Hi));
        Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, 8), BinaryPrimitives.ReverseEndianness(a.Lo));
    }
}
