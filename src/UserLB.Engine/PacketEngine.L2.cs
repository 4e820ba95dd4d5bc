using System.Buffers.Binary;
using UserLB.Engine.Farms;
using UserLB.Engine.L2;
using UserLB.Packets;

namespace UserLB.Engine;

public sealed partial class PacketEngine
{
    private void HandleArp(Span<byte> frame, in PacketInfo p, int port, EngineSnapshot snapshot, long nowNs)
    {
        var a = frame.Slice(p.L3Offset, Offsets.ArpPacket);
        if (BinaryPrimitives.ReadUInt16BigEndian(a) != 1 || BinaryPrimitives.ReadUInt16BigEndian(a[2..]) != EtherTypes.Ipv4 || a[4] != 6 || a[5] != 4)
        {
            Drop(DropReason.ArpMalformed);
            return;
        }
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(a[6..]);
        var senderMac = MacAddress.Read(a[8..]);
        uint senderIp = BinaryPrimitives.ReadUInt32BigEndian(a[14..]);
        var targetIp = IpAddr.ReadV4(a[24..]);
        if (senderIp != 0 && _neighbors.Learn(IpAddr.FromV4(senderIp), senderMac, port, nowNs))
            FlushPending(IpAddr.FromV4(senderIp), nowNs);
        if (op == NeighborMessages.ArpRequest && snapshot.LocalAddresses.Contains(targetIp))
        {
            var own = PortMac(port);
            int len = NeighborMessages.WriteArp(_scratch.AsSpan(VlanRoom), NeighborMessages.ArpReply, senderMac, own, targetIp.V4, senderMac, senderIp);
            SendOwn(len, p, port);
            Counters.ArpRepliesSent++;
            Counters.Consumed++;
            Trace?.Step(Inv($"arp: {targetIp} is-at {own} (reply to {IpAddr.FromV4(senderIp)})"));
            return;
        }
        if (op == NeighborMessages.ArpReply)
        {
            Counters.Consumed++;
            Trace?.Step(Inv($"arp: learned {IpAddr.FromV4(senderIp)} is-at {senderMac}"));
            return;
        }
        Drop(DropReason.ArpNotForUs);
    }

    private const int VlanRoom = 4;

    /// <summary>Sends a frame the engine built at <c>_scratch[4..]</c>, adding the received frame's 802.1Q tag if it had one.</summary>
    private void SendOwn(int untaggedLength, in PacketInfo received, int port)
    {
        var buf = _scratch.AsSpan();
        if (received.HasVlan)
        {
            buf.Slice(VlanRoom, 12).CopyTo(buf);
            BinaryPrimitives.WriteUInt16BigEndian(buf[12..], EtherTypes.Vlan);
            BinaryPrimitives.WriteUInt16BigEndian(buf[14..], received.VlanTci);
            Emit(buf[..(untaggedLength + VlanRoom)], port);
        }
        else
        {
            Emit(buf.Slice(VlanRoom, untaggedLength), port);
        }
    }

    private void Emit(ReadOnlySpan<byte> frame, int port)
    {
        Counters.TxFrames++;
        Counters.TxBytes += frame.Length;
        _sink.Send(frame, port);
    }

    private void HandleNdp(Span<byte> frame, in PacketInfo p, int port, EngineSnapshot snapshot, long nowNs)
    {
        var icmp = frame.Slice(p.L4Offset, p.L4Length);
        byte hopLimit = frame[p.L3Offset + Offsets.Ip6HopLimit];
        if (p.IcmpType is IcmpTypes.V6NeighborSolicitation or IcmpTypes.V6NeighborAdvertisement)
        {
            if (icmp.Length < 24 || hopLimit != 255 || p.IcmpCode != 0)
            {
                Drop(DropReason.NdpMalformed);
                return;
            }
            var target = IpAddr.ReadV6(icmp[8..]);
            var options = icmp[24..];
            if (p.IcmpType == IcmpTypes.V6NeighborSolicitation)
            {
                bool fromUnspecified = p.Src.IsZero;
                if (!fromUnspecified && NeighborMessages.TryFindLinkLayerOption(options, 1, out var srcLl)
                    && _neighbors.Learn(p.Src, srcLl, port, nowNs))
                {
                    FlushPending(p.Src, nowNs);
                }

                if (!snapshot.LocalAddresses.Contains(target))
                {
                    Drop(DropReason.NotForUs);
                    return;
                }
                var own = PortMac(port);
                var dst = fromUnspecified ? new IpAddr(0xFF02_0000_0000_0000UL, 1) : p.Src;
                var ethDst = fromUnspecified ? MacAddress.Ipv6Multicast(1) : MacAddress.Read(frame[Offsets.EthSrc..]);
                int len = NeighborMessages.WriteNdp(_scratch.AsSpan(VlanRoom), IcmpTypes.V6NeighborAdvertisement, ethDst, own, target, dst, target, solicited: !fromUnspecified);
                SendOwn(len, p, port);
                Counters.NdpAdvertisementsSent++;
                Counters.Consumed++;
                Trace?.Step(Inv($"ndp: {target} is-at {own} (advertisement to {dst})"));
                return;
            }
            if (NeighborMessages.TryFindLinkLayerOption(options, 2, out var targetLl))
            {
                if (_neighbors.Learn(target, targetLl, port, nowNs)) FlushPending(target, nowNs);
                Trace?.Step(Inv($"ndp: learned {target} is-at {targetLl}"));
            }
            Counters.Consumed++;
            return;
        }
        // Router solicitation/advertisement, redirect: not a router's business here; absorbed.
        Counters.Consumed++;
    }

    /// <summary>Answers an echo request addressed to a VIP, as the host owning it would.</summary>
    private void AnswerEcho(Span<byte> frame, in PacketInfo p, int port)
    {
        var packet = frame[..p.PacketEnd];
        var ip = packet[p.L3Offset..];
        var icmp = packet.Slice(p.L4Offset, p.L4Length);
        // Swap MACs and addresses (a swap leaves every checksum unchanged), then change the type.
        var srcMac = MacAddress.Read(packet[Offsets.EthSrc..]);
        PortMac(port).Write(packet[Offsets.EthSrc..]);
        srcMac.Write(packet);
        if (p.IsV6)
        {
            p.Dst.WriteV6(ip[Offsets.Ip6Src..]);
            p.Src.WriteV6(ip[Offsets.Ip6Dst..]);
            ip[Offsets.Ip6HopLimit] = 64;
        }
        else
        {
            p.Dst.WriteV4(ip[Offsets.Ip4Src..]);
            p.Src.WriteV4(ip[Offsets.Ip4Dst..]);
            ushort oldTtlWord = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Ttl..]);
            ip[Offsets.Ip4Ttl] = 64;
            ushort newTtlWord = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Ttl..]);
            ushort hc = BinaryPrimitives.ReadUInt16BigEndian(ip[Offsets.Ip4Checksum..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[Offsets.Ip4Checksum..], Checksum.Update16(hc, oldTtlWord, newTtlWord));
        }
        ushort oldTypeWord = BinaryPrimitives.ReadUInt16BigEndian(icmp);
        icmp[0] = p.IsV6 ? IcmpTypes.V6EchoReply : IcmpTypes.EchoReply;
        ushort newTypeWord = BinaryPrimitives.ReadUInt16BigEndian(icmp);
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(icmp[Offsets.IcmpChecksum..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[Offsets.IcmpChecksum..], Checksum.Update16(check, oldTypeWord, newTypeWord));
        Emit(packet, port);
        Counters.EchoRepliesSent++;
        Counters.Consumed++;
        Trace?.Step(Inv($"icmp: echo request to {p.Dst} answered"));
    }
}
