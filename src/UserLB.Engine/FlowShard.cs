using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// Which of N workers (each with its own engine: table, limiter, neighbours) owns a frame's flow, so that both
/// directions of a flow meet on one worker with no lock per packet. A symmetric hash of the 5-tuple does not work after
/// NAT (the reply tuple differs from the original), so flows are sharded by the client-side port, the one port NAT keeps
/// on both sides: frames from a backend address (replies, NAT and DTA) by their destination port, frames towards a
/// farm by their source port, ICMP errors by the packet they quote (the same rule mirrored), anything else by its
/// destination port. SNAT keeps the client's port when it is free; when it must pick another one, the engine picks
/// only ports of its own shard (<see cref="EngineOptions.ShardCount"/>). ARP and NDP go to every worker (each keeps its
/// own neighbour state). Allocation-free; parses the frame once more than the engine does.
/// </summary>
public static class FlowShard
{
    /// <summary>The frame goes to every worker (ARP, NDP).</summary>
    public const int All = -1;

    /// <summary>
    /// The shard a port belongs to: a multiplicative (Fibonacci) hash of the port, not the port modulo the count —
    /// Linux's connect() picks only even local ports (odd ones are left to bind()), so <c>port % 2</c> would send every
    /// connection of a Linux client to worker 0.
    /// </summary>
    public static int OfPort(ushort port, int count) => count <= 1 ? 0 : (int)(((uint)port * 0x9E37_79B1u) >> 16) % count;

    public static int Of(ReadOnlySpan<byte> frame, EngineSnapshot snapshot, int count)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (count <= 1) return 0;
        if (PacketParser.Parse(frame, out var p) != DropReason.None) return 0; // counted (and dropped) once, by worker 0
        if (p.Kind == FrameKind.Arp) return All;
        if (p.IsIcmp)
        {
            if (p.IsV6 && p.IcmpType is >= 133 and <= 137) return All; // router/neighbour solicitation/advertisement, redirect
            if (!IcmpTypes.IsError(p.IsV6, p.IcmpType)) return 0;     // echo to a VIP: answered by one worker
            if (PacketParser.ParseEmbedded(frame, p.L4Offset + 8, p.IsV6, out var q) != DropReason.None || !q.HasPorts) return 0;
            // The quoted packet is one the LB sent: towards a backend (key: its source port, the client-side port) or
            // from a farm back to the client (key: its destination port).
            return OfPort(FromFarm(snapshot, q) ? q.DstPort : IsBackend(snapshot, q.Dst) ? q.SrcPort : q.DstPort, count);
        }
        if (!p.HasPorts) return 0;
        if (IsBackend(snapshot, p.Src)) return OfPort(p.DstPort, count);
        return OfPort(snapshot.FindFarm(p.Dst, p.Protocol, p.DstPort) is not null ? p.SrcPort : p.DstPort, count);
    }

    private static bool FromFarm(EngineSnapshot snapshot, in PacketInfo q) => snapshot.FindFarm(q.Src, q.Protocol, q.SrcPort) is not null;

    private static bool IsBackend(EngineSnapshot snapshot, IpAddr address)
    {
        foreach (var b in snapshot.BackendsById)
            if (b is not null && b.Address == address) return true;
        return false;
    }
}
