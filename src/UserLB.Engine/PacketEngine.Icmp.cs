using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine;

public sealed partial class PacketEngine
{
    /// <summary>
    /// An ICMP/ICMPv6 error about a tracked flow is RELATED (nf_conntrack_icmp_error): the quoted packet is translated
    /// with the opposite manipulation, then the outer header as a packet of the flow's other direction, then the ICMP
    /// checksum is recomputed over the changed message (nf_nat_icmp_reply_translation).
    /// </summary>
    private void HandleIcmpError(Span<byte> frame, ref PacketInfo p, int port, EngineSnapshot snapshot, long nowNs)
    {
        var packet = frame[..p.PacketEnd];
        var reason = PacketParser.ParseEmbedded(packet, p.L4Offset + Offsets.IcmpHeader, p.IsV6, out var inner);
        if (reason != DropReason.None)
        {
            Drop(DropReason.IcmpMalformed);
            return;
        }
        var quoted = new FlowTuple(inner.Src, inner.Dst, inner.SrcPort, inner.DstPort, inner.Protocol);
        int index = _table.Lookup(quoted.Invert(), nowNs, out bool errorIsReply);
        if (index < 0)
        {
            Trace?.Step(Inv($"conntrack: icmp error about an untracked packet {quoted.Format()}: not forwarded"));
            Drop(DropReason.IcmpErrorUntracked);
            return;
        }
        ref var e = ref _table[index];
        if (e.Forward != FlowForward.Nat)
        {
            // DSR: only an error about the backend's direction (sent by the client's side) concerns the backend.
            if (!errorIsReply) DsrIcmpError(frame, ref p, ref e, snapshot, nowNs);
            else Drop(DropReason.IcmpErrorUntracked);
            return;
        }
        bool snat = (e.Status & ConnStatus.SrcNat) != 0, dnat = (e.Status & ConnStatus.DstNat) != 0;
        if (errorIsReply)
        {
            // The quoted packet went in the original direction, translated: make it the client's own packet again.
            if (snat) PacketRewriter.SetSource(packet, ref inner, e.Original.Src, e.Original.SrcPort);
            if (dnat) PacketRewriter.SetDestination(packet, ref inner, e.Original.Dst, e.Original.DstPort);
            if (dnat) PacketRewriter.SetSource(packet, ref p, e.Original.Dst, p.SrcPort);
            if (snat) PacketRewriter.SetDestination(packet, ref p, e.Original.Src, p.DstPort);
        }
        else
        {
            // The quoted packet went in the reply direction, translated: make it the backend's own packet again.
            if (dnat) PacketRewriter.SetSource(packet, ref inner, e.Reply.Src, e.Reply.SrcPort);
            if (snat) PacketRewriter.SetDestination(packet, ref inner, e.Reply.Dst, e.Reply.DstPort);
            if (snat) PacketRewriter.SetSource(packet, ref p, e.Reply.Dst, p.SrcPort);
            if (dnat) PacketRewriter.SetDestination(packet, ref p, e.Reply.Src, p.DstPort);
        }
        PacketRewriter.RecomputeIcmpChecksum(packet, p);
        Counters.IcmpErrorsRelayed++;
        Trace?.Step(Inv($"conntrack: RELATED icmp error (type {p.IcmpType} code {p.IcmpCode}) about entry {e.Id}; quoted packet and outer header translated"));
        Send(frame, ref p, errorIsReply ? e.Original.Src : e.Reply.Src, e.FarmId, errorIsReply, snapshot, nowNs);
    }
}
