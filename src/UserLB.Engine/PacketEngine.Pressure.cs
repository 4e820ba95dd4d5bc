using System.Runtime.CompilerServices;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Engine.Limits;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// Floods of new flows. A SNAT port space (backend address and port, source address, one port class) holds at most
/// 64 k connections; a flood of SYNs from spoofed sources fills it with entries that never become ASSURED (SYN_SENT,
/// or SYN_RECV when the backend answers), and nf_nat then refuses every new connection until they time out. Here, when
/// no free tuple is found, the oldest unassured entry holding a tuple of that space is evicted and its port taken
/// (<see cref="EvictForTuple"/>; the candidates are kept oldest first in one list per backend and port class).
/// Under pressure — the table at least <see cref="PressureFillPercent"/> % full, or a port search needed more than
/// <see cref="CrowdedSearch"/> candidates or found none in the last <see cref="PortPressureHoldNs"/> — unassured entries get
/// <see cref="EngineOptions.PressureUnassuredTimeoutSeconds"/> at most; in the second case a new flow whose own port is
/// taken tries <see cref="PressureSearchAttempts"/> others and then evicts (the ports are nearly all taken: a flood SYN
/// then costs a few lookups instead of up to 250).
/// </summary>
public sealed partial class PacketEngine
{
    /// <summary>Table fill (percent of <see cref="EngineOptions.MaxConnections"/>) from which the table is under pressure.</summary>
    public const int PressureFillPercent = 90;

    /// <summary>How long a crowded port search keeps the engine under pressure.</summary>
    public const long PortPressureHoldNs = 10_000_000_000L;

    /// <summary>Candidates a port search needs beyond which its space counts as crowded (more than ~97 % taken).</summary>
    public const int CrowdedSearch = 32;

    /// <summary>Candidates a port search tries under pressure before the caller evicts.</summary>
    public const int PressureSearchAttempts = 2;

    /// <summary>Entries of a backend's unassured list examined for one eviction (those of another port space are skipped).</summary>
    private const int EvictionScan = 64;

    private long _portPressureUntilNs = long.MinValue;

    /// <summary>True while the table is ≥ 90 % full or a SNAT port search was crowded (more than 32 candidates, or none
    /// free) in the last 10 s.</summary>
    public bool UnderPressure(long nowNs) => _table.Count >= _pressureEntries || nowNs < _portPressureUntilNs;

    /// <summary>The timeout of an entry that is not ASSURED: <paramref name="timeoutNs"/>, capped under pressure.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long UnassuredTimeout(long timeoutNs, long nowNs) =>
        timeoutNs > _pressureUnassuredNs && UnderPressure(nowNs) ? _pressureUnassuredNs : timeoutNs;

    /// <summary>The port class nf_nat searches for a source port: 1–511, 600–1023 or 1024–65535.</summary>
    private static void PortClass(ushort port, out int min, out int size)
    {
        // The thresholds are nf_nat_l4proto_unique_tuple's: below 512, below 1024, the rest.
        if (port >= 1024) { min = 1024; size = 65535 - 1024 + 1; }
        else if (port < 512) { min = 1; size = 511; }
        else { min = 600; size = 1023 - 600 + 1; }
    }

    /// <summary>The list of unassured entries a SNAT entry is kept in: one per backend and port class (the ports it can free).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int UnassuredGroup(int backendId, ushort port) => backendId * 3 + (port >= 1024 ? 2 : port >= 512 ? 1 : 0);

    /// <summary>
    /// No free tuple for <paramref name="reply"/>: evicts the oldest entry of <paramref name="backendId"/> that is not
    /// ASSURED (its client never completed a handshake) and holds a tuple of the same port space (backend address and port, source address,
    /// protocol, port class of <paramref name="original"/>, this shard's port), and takes its port. False when there is none.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool EvictForTuple(ref FlowTuple reply, int backendId, ushort original, long nowNs)
    {
        PortClass(original, out int min, out int size);
        int i = _table.OldestUnassured(UnassuredGroup(backendId, original));
        for (int scanned = 0; i >= 0 && scanned < EvictionScan; scanned++)
        {
            int next = _table.NextUnassured(i);
            ref var e = ref _table[i];
            ref readonly var r = ref e.Reply;
            if (e.Assured)
            {
                _table.Untrack(i); // ASSURED since it was listed: out of the list
            }
            else if (r.Src == reply.Src && r.Dst == reply.Dst && r.SrcPort == reply.SrcPort && r.Protocol == reply.Protocol
                && r.DstPort >= min && r.DstPort < min + size
                && (_shardCount == 1 || FlowShard.OfPort(r.DstPort, _shardCount) == _shardIndex))
            {
                var candidate = reply with { DstPort = r.DstPort };
                bool expired = e.ExpiresNs <= nowNs;
                if (!expired)
                {
                    Counters.NatPortEvictions++;
                    if (Trace is not null) TraceEviction(e, nowNs);
                }
                // Tuples are unique in the table: with the entry that held it gone, the tuple is free.
                _table.Remove(i, nowNs);
                if (candidate.DstPort != original) Counters.NatPortRemaps++;
                reply = candidate;
                return true;
            }
            i = next;
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TraceEviction(in ConnEntry e, long nowNs) =>
        Trace?.Step(Inv($"nat POSTROUTING: SNAT: no free source port: evicted the oldest unassured connection {e.Id} ({(nowNs - e.CreatedNs) / 1e9:0.###} s old, {e.TcpState.ToConntrackName()}) and took its port {e.Reply.DstPort}"));

    /// <summary>Marks the SNAT port spaces under pressure after a crowded search.</summary>
    private void PortSpaceCrowded(long nowNs) => _portPressureUntilNs = nowNs + PortPressureHoldNs;

    /// <summary>A packet that would start a flow found the new-flow budget spent: true when it is dropped (counted);
    /// false when its tuple was dropped a moment ago (a client's retry: admitted, counted).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool OverBudget(FarmRuntime farm, BudgetVerdict verdict)
    {
        if (verdict == BudgetVerdict.Retry)
        {
            Counters.NewFlowBudgetRetries++;
            Trace?.Step(Inv($"filter: new-flow budget {_budget!.PerSecond}/second spent, but this tuple was dropped less than {NewFlowBudget.RetryWindowNs / 1_000_000_000} s ago: a retry, admitted"));
            return false;
        }
        Trace?.Step(Inv($"filter: new-flow budget {_budget!.PerSecond}/second burst {_budget.Burst} spent: dropped before scheduling"));
        DropFlow(DropReason.NewFlowBudget, farm.Id, -1);
        return true;
    }

    /// <summary>Tracks a new SNAT entry among its backend's unassured entries of its port class (the candidates for
    /// eviction) — unless its port is in no class (0, 512–599: a client's port kept as it was), which no search takes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void TrackUnassured(int index, FarmRuntime farm, BackendRuntime backend)
    {
        ushort port = _table[index].Reply.DstPort;
        if (farm.SourceNat && port != 0 && port is not (>= 512 and < 600)) _table.TrackUnassured(index, UnassuredGroup(backend.Id, port));
    }
}
