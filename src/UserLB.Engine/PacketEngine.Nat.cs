using System.Runtime.CompilerServices;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// NAT: the rewrite of a packet to the other tuple of its entry (addresses, ports, RFC 1624 checksums) and the search
/// for a unique reply tuple (nf_nat's get_unique_tuple); the search under pressure is in PacketEngine.Pressure.cs.
/// </summary>
public sealed partial class PacketEngine
{
    /// <summary>Applies the entry's manipulations to a packet of the flow (nf_nat_packet): original direction → towards the
    /// reply tuple's source (the backend), reply direction → back to the original tuple.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Translate(Span<byte> frame, ref PacketInfo p, in ConnEntry e, bool reply)
    {
        if (!reply)
        {
            if ((e.Status & ConnStatus.SrcNat) != 0) PacketRewriter.SetSource(frame, ref p, e.Reply.Dst, e.Reply.DstPort);
            if ((e.Status & ConnStatus.DstNat) != 0) PacketRewriter.SetDestination(frame, ref p, e.Reply.Src, e.Reply.SrcPort);
        }
        else
        {
            if ((e.Status & ConnStatus.DstNat) != 0) PacketRewriter.SetSource(frame, ref p, e.Original.Dst, e.Original.DstPort);
            if ((e.Status & ConnStatus.SrcNat) != 0) PacketRewriter.SetDestination(frame, ref p, e.Original.Src, e.Original.SrcPort);
        }
    }

    /// <summary><see cref="Translate"/> for TCP and UDP in one pass: both endpoints and one checksum update each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TranslateTcpUdp(Span<byte> frame, ref PacketInfo p, in ConnEntry e, bool reply)
    {
        // Original direction: SNAT sets the source to the reply tuple's destination, DNAT the destination to its source;
        // reply direction: the inverse, towards the original tuple.
        ref readonly var to = ref reply ? ref e.Original : ref e.Reply;
        bool src = (e.Status & (reply ? ConnStatus.DstNat : ConnStatus.SrcNat)) != 0;
        bool dst = (e.Status & (reply ? ConnStatus.SrcNat : ConnStatus.DstNat)) != 0;
        PacketRewriter.RewriteTcpUdp(frame, ref p,
            src ? to.Dst : p.Src, src ? to.DstPort : p.SrcPort,
            dst ? to.Src : p.Dst, dst ? to.SrcPort : p.DstPort);
    }

    /// <summary>
    /// get_unique_tuple for SNAT: keep the client's port when the reply tuple is free; else search the port's class
    /// (1–511, 600–1023, 1024–65535) from a random offset, up to 128 candidates, halving the attempts with a new offset
    /// until fewer than 16 remain (nf_nat_l4proto_unique_tuple). A search that needs more than
    /// <see cref="CrowdedSearch"/> candidates, or finds none, puts the port spaces under pressure for 10 s; meanwhile a
    /// search tries <see cref="PressureSearchAttempts"/> candidates, and the caller evicts when they are all taken
    /// (PacketEngine.Pressure.cs): as a space fills, a search costs 1/(1 − fill) lookups, hundreds near the end.
    /// </summary>
    private bool UniqueTuple(ref FlowTuple reply, long nowNs)
    {
        if (!_table.IsTaken(reply, nowNs)) return true;
        bool pressure = nowNs < _portPressureUntilNs;
        ushort original = reply.DstPort;
        PortClass(original, out int min, out int rangeSize);
        int attempts = Math.Min(rangeSize, pressure ? PressureSearchAttempts : 128);
        int offset = _random.Next(65536), tried = 0;
        while (true)
        {
            for (int i = 0; i < attempts; i++, offset++)
            {
                var candidate = reply with { DstPort = (ushort)(min + (offset % rangeSize)) };
                if (_shardCount > 1 && FlowShard.OfPort(candidate.DstPort, _shardCount) != _shardIndex) continue; // another worker's port
                if (!_table.IsTaken(candidate, nowNs))
                {
                    Trace?.Step(Inv($"nat: reply tuple {reply.Format()} in use: source port {original} → {candidate.DstPort} (get_unique_tuple)"));
                    reply = candidate;
                    Counters.NatPortRemaps++;
                    if (tried > CrowdedSearch) PortSpaceCrowded(nowNs);
                    return true;
                }
                tried++;
            }
            if (pressure || attempts >= rangeSize || attempts < 16)
            {
                PortSpaceCrowded(nowNs);
                return false;
            }
            attempts /= 2;
            offset = _random.Next(65536);
        }
    }
}
