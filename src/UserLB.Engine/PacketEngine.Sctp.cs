using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>SCTP tracked as the kernel does (<see cref="SctpStateTable"/>): its state per chunk, its per-state timeouts, ASSURED at ESTABLISHED.</summary>
public sealed partial class PacketEngine
{
    /// <summary>A packet that would start an SCTP flow: its state after the chunks, or false (dropped and counted) when INVALID.</summary>
    private bool SctpStartNew(ReadOnlySpan<byte> frame, in PacketInfo p, int farmId, out SctpState state)
    {
        state = SctpState.None;
        if (SctpStateTable.Track(frame[p.L4Offset..p.PacketEnd], false, true, ref state, out _) != SctpVerdict.Invalid) return true;
        Trace?.Step("conntrack: sctp chunks cannot start a connection: INVALID");
        DropFlow(DropReason.SctpInvalid, farmId, -1);
        return false;
    }

    /// <summary>A packet of a tracked SCTP flow: its new state and timeout, or false (dropped and counted, not NATed) when INVALID.</summary>
    private bool SctpUpdate(ReadOnlySpan<byte> frame, in PacketInfo p, ref ConnEntry e, bool reply, int index, long nowNs)
    {
        var state = e.SctpState;
        var verdict = SctpStateTable.Track(frame[p.L4Offset..p.PacketEnd], reply, false, ref state, out bool established);
        if (verdict == SctpVerdict.Invalid)
        {
            SctpInvalid(e.SctpState, reply, e.FarmId, e.BackendId);
            return false;
        }
        e.SctpState = state;
        if (established) e.Status |= ConnStatus.Assured;
        if (verdict == SctpVerdict.Ok) _table.Refresh(index, nowNs, ConntrackTimeouts.SctpTimeoutSeconds(state) * 1_000_000_000L);
        return true;
    }

    private void SctpInvalid(SctpState state, bool reply, int farmId, int backendId)
    {
        Trace?.Step(Inv($"conntrack: INVALID sctp chunks in {state.ToConntrackName()} ({(reply ? "reply" : "original")} direction): not NATed"));
        DropFlow(DropReason.SctpInvalid, farmId, backendId);
    }
}
