using System.Runtime.CompilerServices;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Engine.L2;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// Neighbour output: the next hop of a translated packet resolved (cached per flow direction), frames for an unresolved
/// next hop queued while the engine solicits (ARP/NDP), and the frame written to its port with the port's MAC.
/// </summary>
public sealed partial class PacketEngine
{
    private void LearnSender(ReadOnlySpan<byte> frame, in PacketInfo p, int port, long nowNs)
    {
        if (_neighbors.Learn(p.Src, MacAddress.Read(frame[Offsets.EthSrc..]), port, nowNs)) FlushPending(p.Src, nowNs);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TraceOut(in PacketInfo p, MacAddress mac, int port) => Trace?.Step(Inv($"out port{port}: {DescribePacket(p)} to {mac}"));

    /// <summary>The next hop is not cached in the entry (first packets, or the neighbour table changed): route through
    /// the neighbour table, then remember the next hop's MAC and port for this direction.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SendAndCacheNextHop(Span<byte> frame, ref PacketInfo p, EngineSnapshot snapshot, long nowNs, ref ConnEntry e, bool reply)
    {
        var hop = reply ? e.Original.Src : e.Reply.Src;
        Send(frame, ref p, hop, e.FarmId, reply, snapshot, nowNs);
        if (_neighbors.TryGet(hop, out var learned, out int learnedPort))
        {
            if (e.NeighborVersion != _neighbors.Version)
            {
                e.NextHopMacOriginal = default;
                e.NextHopMacReply = default;
                e.NeighborVersion = _neighbors.Version;
            }
            if (reply) { e.NextHopMacReply = learned; e.NextHopPortReply = (short)learnedPort; }
            else { e.NextHopMacOriginal = learned; e.NextHopPortOriginal = (short)learnedPort; }
            if ((e.Status & ConnStatus.Assured) != 0) _neighbors.Pin(hop); // kept through a flood of other senders
            PrepareFastPath(ref e, reply, p.IsV6);
        }
    }

    /// <summary>Routes a translated packet: TTL, MACs for the next hop (queued while unresolved), send.</summary>
    private void Send(Span<byte> frame, ref PacketInfo p, IpAddr nextHop, int farmId, bool toClient, EngineSnapshot snapshot, long nowNs)
    {
        if (!PacketRewriter.DecrementTtl(frame, p))
        {
            Trace?.Step("forward: TTL exceeded");
            DropFlow(DropReason.TtlExceeded, farmId, -1);
            return;
        }
        var ports = toClient ? _farmIngressPort : _farmEgressPort;
        int configuredPort = (uint)farmId < (uint)ports.Length ? ports[farmId] : -1;
        var packet = frame[..p.PacketEnd];
        if (_neighbors.TryGet(nextHop, out var mac, out int port))
        {
            Transmit(packet, mac, port, p.Offload);
            Counters.Forwarded++;
            if (Trace is not null) Trace.Step(Inv($"out port{port}: {DescribePacket(p)} to {mac}"));
            return;
        }
        int egress = configuredPort >= 0 ? configuredPort : 0;
        PortMac(egress).Write(packet[Offsets.EthSrc..]);
        bool solicit = _neighbors.Enqueue(nextHop, packet, egress, nowNs, out bool queued, p.Offload);
        if (!queued)
        {
            Trace?.Step(Inv($"neighbour {nextHop} unresolved and its queue is full: dropped"));
            DropFlow(DropReason.NeighborUnresolved, farmId, -1);
        }
        else
        {
            Trace?.Step(Inv($"neighbour {nextHop} unknown: frame queued until it answers"));
        }
        if (solicit) Solicit(nextHop, p.Src, egress, snapshot);
    }

    /// <summary>Sends a forwarded frame out of <paramref name="port"/> to <paramref name="dst"/>, with its offloads.</summary>
    private void Transmit(Span<byte> packet, MacAddress dst, int port, in VnetHeader offload)
    {
        MacAddress.WriteAddresses(packet, dst, PortMac(port));
        Counters.TxFrames++;
        Counters.TxBytes += packet.Length;
        if (offload.IsPlain) _sink.Send(packet, port);
        else SendOffloaded(packet, port, offload);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SendOffloaded(Span<byte> packet, int port, in VnetHeader offload) => _sink.Send(packet, port, offload.ForTransmit());

    private void FlushPending(IpAddr ip, long nowNs)
    {
        var frames = _neighbors.TakePending(ip);
        if (frames is null || !_neighbors.TryGet(ip, out var mac, out int port)) return;
        foreach (var (f, _, offload) in frames)
        {
            Transmit(f, mac, port, offload);
            Counters.Forwarded++;
        }
        Trace?.Step(Inv($"neighbour {ip} is at {mac}: {frames.Count} queued frame(s) sent"));
    }

    /// <summary>Sends an ARP request or an NDP neighbour solicitation for <paramref name="target"/>.</summary>
    private void Solicit(IpAddr target, IpAddr preferredSource, int port, EngineSnapshot snapshot)
    {
        var source = snapshot.LocalAddresses.Contains(preferredSource) ? preferredSource : PickLocalAddress(snapshot, target.IsV4);
        int first = port >= 0 ? port : 0, last = port >= 0 ? port : _portMacs.Length - 1;
        for (int pt = first; pt <= last; pt++)
        {
            int len;
            if (target.IsV4)
            {
                len = NeighborMessages.WriteArp(_scratch, NeighborMessages.ArpRequest, MacAddress.Broadcast, PortMac(pt), source.V4, MacAddress.Zero, target.V4);
                Counters.ArpRequestsSent++;
            }
            else
            {
                var group = NeighborMessages.SolicitedNode(target);
                len = NeighborMessages.WriteNdp(_scratch, IcmpTypes.V6NeighborSolicitation, MacAddress.Ipv6Multicast((uint)group.Lo), PortMac(pt), source, group, target, false);
                Counters.NdpSolicitationsSent++;
            }
            Counters.TxFrames++;
            Counters.TxBytes += len;
            _sink.Send(_scratch.AsSpan(0, len), pt);
        }
        Trace?.Step(Inv($"neighbour: {(target.IsV4 ? "ARP who-has" : "NDP solicitation for")} {target} tell {source}"));
    }

    private static IpAddr PickLocalAddress(EngineSnapshot snapshot, bool v4)
    {
        // Never a dsr farm's VIP (its backends own it): then the unspecified address, as an ARP probe / DAD does.
        foreach (var f in snapshot.Farms)
            if (f.VirtualAddress.IsV4 == v4 && snapshot.LocalAddresses.Contains(f.VirtualAddress)) return f.VirtualAddress;
        return v4 ? IpAddr.FromV4(0) : default;
    }
}
