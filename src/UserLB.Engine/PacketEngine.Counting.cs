using System.Runtime.CompilerServices;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// Counting: a flow's packets and bytes (per entry, farm and backend; a super-frame as its segments), frames with
/// offloads, drops by reason (engine-wide, per farm and backend), and an entry's removal.
/// </summary>
public sealed partial class PacketEngine
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Account(ref ConnEntry e, bool reply, in PacketInfo p)
    {
        if (p.Offload.GsoType != 0)
        {
            AccountSegments(ref e, reply, p.Segments, p.WireBytes);
            return;
        }
        int bytes = p.IpLength;
        if (reply) { e.ReplyPackets++; e.ReplyBytes += (ulong)bytes; }
        else { e.OriginalPackets++; e.OriginalBytes += (ulong)bytes; }
        Counters.AddTraffic(e.FarmId, e.BackendId, 1, bytes);
    }

    /// <summary>A super-frame counts as the segments it stands for, as if it had come segmented.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AccountSegments(ref ConnEntry e, bool reply, int packets, long bytes)
    {
        if (reply) { e.ReplyPackets += (ulong)packets; e.ReplyBytes += (ulong)bytes; }
        else { e.OriginalPackets += (ulong)packets; e.OriginalBytes += (ulong)bytes; }
        Counters.AddTraffic(e.FarmId, e.BackendId, packets, bytes);
    }

    /// <summary>Counts a received frame that came with offloads (a partial checksum, a super-frame and its segments).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountOffload(in PacketInfo p)
    {
        if (p.Offload.NeedsChecksum) Counters.RxPartialChecksum++;
        if (p.Offload.IsGso)
        {
            Counters.RxGsoFrames++;
            Counters.RxGsoSegments += p.Segments;
        }
    }

    /// <summary>A drop that belongs to a farm (and a backend, when known: -1 otherwise): counted per farm and backend by reason too.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropFlow(DropReason reason, int farmId, int backendId)
    {
        Counters.AddFlowDrops(farmId, backendId, reason, 1);
        Drop(reason);
    }

    void IEntryLifetime.OnRemoved(in ConnEntry entry)
    {
        Unadmit(entry.FarmId, entry.Original.Src, (entry.Status & ConnStatus.Limited) != 0, entry.BackendId);
        Counters.Backend(entry.BackendId).Active--;
        Counters.Farm(entry.FarmId).Active--;
    }

    private void Drop(DropReason reason)
    {
        Counters.Drops[(int)reason]++;
        if (reason == DropReason.PartialChecksumOffload && !_partialChecksumReported)
        {
            _partialChecksumReported = true;
            OffloadDetected?.Invoke(reason);
        }
        else if (reason == DropReason.GsoSuperFrame && !_gsoReported)
        {
            _gsoReported = true;
            OffloadDetected?.Invoke(reason);
        }
        if (Trace is not null) Trace.Step("drop: " + reason.Name());
    }
}
