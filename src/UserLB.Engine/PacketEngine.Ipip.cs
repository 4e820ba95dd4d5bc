using System.Buffers.Binary;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// Layer-3 direct server return (<c>"mode": "dsr"</c> with a backend's <c>"tunnel": "ipip"</c>), as Katran and GLB do
/// it: the client's IPv4 packet, untouched, inside an outer IPv4 header (protocol 4, RFC 2003) from the farm's or
/// backend's <c>source-addr</c> to the backend, whose kernel decapsulates it (an <c>ipip</c> device) and answers the
/// client directly from the VIP. The outer header adds 20 bytes: a packet that would then exceed the egress MTU is
/// answered with ICMP fragmentation needed (the MTU less 20) when it has DF set — the client's TCP lowers its segment
/// size — and is sent as outer fragments when it has not. Super-frames are cut to segments that fit first.
/// </summary>
public sealed partial class PacketEngine
{
    /// <summary>The outer IPv4 header's length (no options).</summary>
    public const int IpipOverhead = Offsets.Ip4MinHeader;

    private readonly byte[] _ipipFrame = new byte[Offsets.EthHeader + IpipOverhead + PacketParser.MaxGsoFrameLength];
    private byte[]? _ipipScratch;
    private ushort _ipipId;

    /// <summary>The egress IP MTU of <paramref name="port"/> (<see cref="EngineOptions.PortMtus"/>, else 1500).</summary>
    public int PortMtu(int port) => (uint)port < (uint)_options.PortMtus.Count ? _options.PortMtus[port] : 1500;

    private void SendIpip(Span<byte> frame, ref PacketInfo p, ref ConnEntry e, BackendRuntime backend, long nowNs)
    {
        var nextHop = _options.Gateway is { } gw && gw.IsV4 ? gw : backend.Address;
        bool known = _neighbors.TryGet(nextHop, out var mac, out int port);
        if (!known) port = Math.Max(0, EgressPort(e.FarmId));
        int mtu = PortMtu(port);
        var send = new IpipSend(this, backend.TunnelSource, backend.Address, nextHop, known ? mac : default, port, mtu, e.FarmId, backend.Id, nowNs);
        if (p.Offload.IsGso)
        {
            if (!known)
            {
                Trace?.Step(Inv($"ipip: next hop {nextHop} unresolved: super-frame dropped"));
                DropFlow(DropReason.NeighborUnresolved, e.FarmId, backend.Id);
                return;
            }
            // Segments that fit the egress once encapsulated, each sent on its own.
            var scratch = _ipipScratch ??= new byte[SoftwareOffload.MaxSegmentFrame];
            int inner = Math.Clamp(mtu - IpipOverhead, SoftwareOffload.MinMtu, SoftwareOffload.MaxMtu);
            var reason = SoftwareOffload.Emit(frame[..p.PacketEnd], p.Offload, inner, scratch, ref send);
            if (reason != DropReason.None) DropFlow(reason, e.FarmId, backend.Id);
            else Counters.Forwarded++;
            return;
        }
        if (!SoftwareOffload.CompleteChecksum(frame, p.PacketEnd, p.Offload))
        {
            DropFlow(DropReason.VnetBadChecksumStart, e.FarmId, backend.Id);
            return;
        }
        var packet = frame.Slice(p.L3Offset, p.IpLength);
        if (packet.Length + IpipOverhead > mtu && (p.IsV6 || (packet[Offsets.Ip4Flags] & 0x40) != 0))
        {
            Trace?.Step(Inv($"ipip: {packet.Length} + {IpipOverhead} bytes exceed the MTU {mtu} and DF is set: fragmentation needed"));
            FragmentationNeeded(frame, p, mtu - IpipOverhead);
            DropFlow(DropReason.FragmentationNeeded, e.FarmId, backend.Id);
            return;
        }
        if (Trace is not null) Trace.Step(Inv($"ipip: outer {backend.TunnelSource} > {backend.Address} proto 4 via {nextHop}{(known ? Inv($" {mac} port{port}") : " (unresolved)")}"));
        if (send.Encapsulate(packet, single: true)) Counters.Forwarded++;
    }

    /// <summary>Builds the outer header(s) in front of <paramref name="packet"/> and sends (or queues) the frame(s).
    /// Returns true when sent or queued as one frame, false when dropped (counted) or queued waiting.</summary>
    private bool EncapsulateOut(ReadOnlySpan<byte> packet, in IpipSend s, bool single)
    {
        var buf = _ipipFrame.AsSpan();
        BinaryPrimitives.WriteUInt16BigEndian(buf[Offsets.EthType..], EtherTypes.Ipv4);
        byte tos = packet[0] >> 4 == 4 ? packet[Offsets.Ip4Tos] : (byte)(BinaryPrimitives.ReadUInt16BigEndian(packet) >> 4);
        bool df = packet[0] >> 4 == 6 || (packet[Offsets.Ip4Flags] & 0x40) != 0;
        byte proto = packet[0] >> 4 == 6 ? IpProtocols.Ipv6Encap : IpProtocols.IpIp;
        int room = s.Mtu - IpipOverhead;
        if (packet.Length <= room)
            return EmitOuter(buf, packet, 0, packet.Length, false, df, tos, proto, s, single);
        if (s.Mac.IsZero)
        {
            DropFlow(DropReason.NeighborUnresolved, s.FarmId, s.BackendId); // fragments are not queued
            return false;
        }
        // DF clear: the outer packet is fragmented (RFC 2003 §5.1), every fragment but the last a multiple of 8 bytes.
        int chunk = room & ~7;
        for (int off = 0; off < packet.Length; off += chunk)
        {
            int len = Math.Min(chunk, packet.Length - off);
            EmitOuter(buf, packet, off, len, off + len < packet.Length, false, tos, proto, s, single: false);
        }
        return true;
    }

    private bool EmitOuter(Span<byte> buf, ReadOnlySpan<byte> packet, int offset, int length, bool more, bool df, byte tos, byte proto, in IpipSend s, bool single)
    {
        var outer = buf.Slice(Offsets.EthHeader, IpipOverhead);
        outer[0] = 0x45;
        outer[Offsets.Ip4Tos] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(outer[Offsets.Ip4TotalLength..], (ushort)(IpipOverhead + length));
        if (offset == 0) _ipipId++;
        BinaryPrimitives.WriteUInt16BigEndian(outer[4..], _ipipId);
        BinaryPrimitives.WriteUInt16BigEndian(outer[Offsets.Ip4Flags..], (ushort)((df ? 0x4000 : 0) | (more ? 0x2000 : 0) | (offset >> 3)));
        outer[Offsets.Ip4Ttl] = 64;
        outer[Offsets.Ip4Protocol] = proto;
        BinaryPrimitives.WriteUInt16BigEndian(outer[Offsets.Ip4Checksum..], 0);
        s.Source.WriteV4(outer[Offsets.Ip4Src..]);
        s.Destination.WriteV4(outer[Offsets.Ip4Dst..]);
        BinaryPrimitives.WriteUInt16BigEndian(outer[Offsets.Ip4Checksum..], Checksum.Compute(outer));
        packet.Slice(offset, length).CopyTo(buf[(Offsets.EthHeader + IpipOverhead)..]);
        var frame = buf[..(Offsets.EthHeader + IpipOverhead + length)];
        if (!s.Mac.IsZero)
        {
            Transmit(frame, s.Mac, s.Port, default);
            return true;
        }
        if (!single)
        {
            DropFlow(DropReason.NeighborUnresolved, s.FarmId, s.BackendId);
            return false;
        }
        // Queued whole, as one frame of the received one (the accounting counts it as waiting for a neighbour).
        bool solicit = _neighbors.Enqueue(s.NextHop, frame, s.Port, s.NowNs, out bool queued);
        if (!queued) DropFlow(DropReason.NeighborUnresolved, s.FarmId, s.BackendId);
        if (solicit) Solicit(s.NextHop, s.Source, -1, Volatile.Read(ref _snapshot));
        return false;
    }

    /// <summary>Answers a packet too large once encapsulated: ICMP destination unreachable, fragmentation needed, with
    /// <paramref name="mtu"/> as the next-hop MTU (RFC 1191), from the address it was sent to, quoting its IP header and
    /// first 8 payload bytes; out to the MAC it came from, through the port the client was learned on.</summary>
    private void FragmentationNeeded(ReadOnlySpan<byte> frame, in PacketInfo p, int mtu)
    {
        if (p.IsV6 || !_neighbors.TryGet(p.Src, out _, out int port)) return;
        var ip = frame[p.L3Offset..p.PacketEnd];
        int quote = Math.Min(ip.Length, (p.L4Offset - p.L3Offset) + 8);
        var buf = _scratch.AsSpan(VlanRoom);
        MacAddress.Read(frame[Offsets.EthSrc..]).Write(buf);
        PortMac(port).Write(buf[Offsets.EthSrc..]);
        BinaryPrimitives.WriteUInt16BigEndian(buf[Offsets.EthType..], EtherTypes.Ipv4);
        var outer = buf[Offsets.EthHeader..];
        int total = Offsets.Ip4MinHeader + Offsets.IcmpHeader + quote;
        outer[..Offsets.Ip4MinHeader].Clear();
        outer[0] = 0x45;
        outer[Offsets.Ip4Tos] = 0xC0;
        BinaryPrimitives.WriteUInt16BigEndian(outer[Offsets.Ip4TotalLength..], (ushort)total);
        outer[Offsets.Ip4Ttl] = 64;
        outer[Offsets.Ip4Protocol] = IpProtocols.Icmp;
        p.Dst.WriteV4(outer[Offsets.Ip4Src..]);
        p.Src.WriteV4(outer[Offsets.Ip4Dst..]);
        BinaryPrimitives.WriteUInt16BigEndian(outer[Offsets.Ip4Checksum..], Checksum.Compute(outer[..Offsets.Ip4MinHeader]));
        var icmp = outer.Slice(Offsets.Ip4MinHeader, Offsets.IcmpHeader + quote);
        icmp[0] = 3; // destination unreachable
        icmp[1] = 4; // fragmentation needed and DF set
        BinaryPrimitives.WriteUInt32BigEndian(icmp[2..], 0); // checksum and unused
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)mtu);
        ip[..quote].CopyTo(icmp[Offsets.IcmpHeader..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
        SendOwn(Offsets.EthHeader + total, p, port);
    }

    /// <summary>One IP-in-IP send: the outer addresses, the next hop (its MAC, zero when unresolved) and the egress; as
    /// an <see cref="IFrameEmitter"/> it encapsulates each segment <see cref="SoftwareOffload.Emit"/> cuts.</summary>
    private readonly struct IpipSend(PacketEngine engine, IpAddr source, IpAddr destination, IpAddr nextHop, MacAddress mac, int port, int mtu, int farmId, int backendId, long nowNs) : IFrameEmitter
    {
        public IpAddr Source => source;
        public IpAddr Destination => destination;
        public IpAddr NextHop => nextHop;
        public MacAddress Mac => mac;
        public int Port => port;
        public int Mtu => mtu;
        public int FarmId => farmId;
        public int BackendId => backendId;
        public long NowNs => nowNs;

        public bool Encapsulate(ReadOnlySpan<byte> packet, bool single) => engine.EncapsulateOut(packet, this, single);

        /// <summary>A segment as a whole frame: its IP packet starts after the Ethernet header (and 802.1Q tag).</summary>
        public void Emit(ReadOnlySpan<byte> frame)
        {
            int l3 = BinaryPrimitives.ReadUInt16BigEndian(frame[Offsets.EthType..]) == EtherTypes.Vlan ? Offsets.EthHeader + Offsets.VlanHeader : Offsets.EthHeader;
            engine.EncapsulateOut(frame[l3..], this, single: false);
        }
    }
}
