using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// <c>"mode": "stlsdnat"</c>, nftlb's stateless DNAT: no connection table. A packet to the VIP gets the backend the
/// farm's hash gives (the same for every packet of a flow, and on every instance with the same configuration), its
/// destination rewritten to the backend's address (and port) with RFC 1624 checksum updates; a packet from a backend's
/// address and port gets the VIP (and virtual port) back as its source, the reverse rule. Both leave at layer 2 as
/// nftlb's netdev <c>fwd</c> does (no TTL change), to the backend's <c>ether-addr</c> or the neighbour the engine knows.
/// </summary>
public sealed partial class PacketEngine
{
    /// <summary>Client → VIP on a stlsdnat farm (no entry is made).</summary>
    private void StatelessToBackend(Span<byte> frame, ref PacketInfo p, int port, FarmRuntime farm, EngineSnapshot snapshot, long nowNs)
    {
        var input = new SchedInput(p.Src, p.Dst, p.SrcPort, p.DstPort, MacAddress.Read(frame[Offsets.EthSrc..]), MacAddress.Read(frame));
        int pick = farm.Scheduler.Pick(input, _random, out ulong detail);
        if (pick < 0 || farm.Candidates[pick].Address.IsV4 != p.Src.IsV4)
        {
            Trace?.Step(Inv($"farm {farm.Name}: no backend available (level {farm.Level})"));
            DropFlow(DropReason.NoBackend, farm.Id, -1);
            return;
        }
        var backend = farm.Candidates[pick];
        // The client's MAC (or its router's), for the replies: nftlb's "update @map-<farm>-back { ip saddr : ether saddr }".
        if (port >= 0) LearnSender(frame, p, port, nowNs);
        ushort dstPort = backend.Port != 0 && p.HasPorts ? backend.Port : p.DstPort;
        if (Trace is not null)
            Trace.Step(Inv($"stlsdnat: {DescribePick(farm, pick, detail)} → backend {backend.Name}: ip daddr set {backend.Address}{(dstPort != p.DstPort ? Inv($" th dport set {dstPort}") : "")} (no state)"));
        if (p.Protocol is IpProtocols.Tcp or IpProtocols.Udp) PacketRewriter.RewriteTcpUdp(frame, ref p, p.Src, p.SrcPort, backend.Address, dstPort);
        else PacketRewriter.SetDestination(frame, ref p, backend.Address, dstPort);
        CountStateless(farm.Id, backend.Id, p);
        int egress = EgressPort(farm.Id);
        if (ResolveL2(backend, egress, out var mac, out int outPort, pin: true))
        {
            Transmit(frame[..p.PacketEnd], mac, outPort, p.Offload);
            Counters.Forwarded++;
            if (Trace is not null) TraceOut(p, mac, outPort);
            return;
        }
        QueueForNeighbor(frame[..p.PacketEnd], p, backend.Address, egress, farm.Id, backend.Id, snapshot, nowNs);
    }

    /// <summary>Backend → client for a stlsdnat farm: the source becomes the VIP (and virtual port). False when the packet
    /// does not come from a stlsdnat backend's address and port.</summary>
    private bool StatelessFromBackend(Span<byte> frame, ref PacketInfo p, int port, EngineSnapshot snapshot, long nowNs)
    {
        if (!snapshot.TryFindStatelessBackend(p.Src, p.Protocol, p.SrcPort, out var farm, out var backend)) return false;
        ushort srcPort = backend.Port != 0 && farm.Ports.Length == 1 ? farm.Ports[0].First : p.SrcPort;
        if (port >= 0) LearnSender(frame, p, port, nowNs);
        if (Trace is not null)
            Trace.Step(Inv($"stlsdnat: from backend {backend.Name} of farm {farm.Name}: ip saddr set {farm.VirtualAddress}{(srcPort != p.SrcPort ? Inv($" th sport set {srcPort}") : "")} (no state)"));
        if (p.Protocol is IpProtocols.Tcp or IpProtocols.Udp) PacketRewriter.RewriteTcpUdp(frame, ref p, farm.VirtualAddress, srcPort, p.Dst, p.DstPort);
        else PacketRewriter.SetSource(frame, ref p, farm.VirtualAddress, srcPort);
        CountStateless(farm.Id, backend.Id, p);
        if (_neighbors.TryGet(p.Dst, out var mac, out int outPort))
        {
            Transmit(frame[..p.PacketEnd], mac, outPort, p.Offload);
            Counters.Forwarded++;
            if (Trace is not null) TraceOut(p, mac, outPort);
            return true;
        }
        int ingress = (uint)farm.Id < (uint)_farmIngressPort.Length ? _farmIngressPort[farm.Id] : -1;
        QueueForNeighbor(frame[..p.PacketEnd], p, p.Dst, ingress, farm.Id, backend.Id, snapshot, nowNs);
        return true;
    }

    /// <summary>Per farm and backend packet and byte counts of a stateless packet (there is no entry to count in).</summary>
    private void CountStateless(int farmId, int backendId, in PacketInfo p)
    {
        long bytes = p.Offload.GsoType != 0 ? p.WireBytes : p.IpLength;
        int packets = p.Offload.GsoType != 0 ? p.Segments : 1;
        Counters.AddTraffic(farmId, backendId, packets, bytes);
    }
}
