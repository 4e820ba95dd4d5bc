using System.Runtime.CompilerServices;
using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// <c>"mode": "dsr"</c>, direct server return as nftlb defines it and IPVS's DR forwarding does it: the backends hold
/// the VIP on a loopback and answer the client directly, so the engine sees the client's packets only. Each leaves with
/// the backend's MAC as destination (<c>ether-addr</c>, else resolved by ARP/NDP) and the egress port's MAC as source;
/// IP and L4 are untouched (no TTL change, no checksum change). The flow is tracked in one direction with IPVS's
/// input-only TCP table and timeouts (<see cref="DsrTcpStates"/>), so its entry keeps it on its backend; a TCP segment
/// with no entry (a flow moved from another instance) starts one unless the farm is <c>tcp-strict</c>.
/// </summary>
public sealed partial class PacketEngine
{
    /// <summary><see cref="ConnEntry.FastFlags"/>: the original direction's next hop is cached for an L2 DSR forward.</summary>
    private const byte FastDsr = 8;

    private void NewDsrFlow(Span<byte> frame, ref PacketInfo p, int port, FarmRuntime farm, EngineSnapshot snapshot, long nowNs, in FlowTuple tuple)
    {
        var tcpState = TcpState.None;
        if (p.Protocol == IpProtocols.Tcp)
        {
            // IPVS schedules a SYN; with sloppy TCP (conntrack's tcp_loose here) any segment but a RST.
            int flag = DsrTcpStates.FlagIndex(p.TcpFlags);
            bool loose = _options.TcpLoose && !farm.Config.TcpStrict;
            if (flag is < 0 or 3 || (flag != 0 && !loose))
            {
                Trace?.Step(Inv($"dsr: tcp flags {FormatTcpFlags(p.TcpFlags)} cannot start a connection{(loose ? "" : " (tcp-strict)")}: dropped"));
                DropFlow(DropReason.TcpNoSynForNewFlow, farm.Id, -1);
                return;
            }
            if (flag != 0 && UnderPressure(nowNs))
            {
                // A mid-stream pickup must not let an ACK flood from spoofed sources fill the table.
                Trace?.Step("dsr: mid-stream pickup refused while the table is under pressure");
                DropFlow(DropReason.TcpLooseUnderPressure, farm.Id, -1);
                return;
            }
            tcpState = DsrTcpStates.Next(TcpState.None, p.TcpFlags);
        }
        if (_budget is { } budget && budget.Admit(tuple, nowNs) is var verdict && verdict != Limits.BudgetVerdict.Admitted && OverBudget(farm, verdict)) return;
        if (port >= 0) LearnSender(frame, p, port, nowNs);
        var backend = ChooseShared(frame, p, farm, snapshot, nowNs, out bool limited, out string why);
        if (backend is null) return;
        long timeout = p.Protocol == IpProtocols.Tcp ? DsrTcpStates.Timeout(tcpState) : DsrTcpStates.UdpTimeoutSeconds;
        // The reply tuple is the original's inverse: nothing is translated, and the backend answers past the LB.
        var forward = backend.Ipip ? FlowForward.DsrIpip : FlowForward.Dsr;
        int index = NewEntry(tuple, tuple.Invert(), timeout, ConnStatus.None, tcpState, forward, farm, backend, limited, why, nowNs, p);
        if (index < 0) return;
        ref var e = ref _table[index];
        Account(ref e, false, p);
        SendDsr(frame, ref p, ref e, backend, snapshot, nowNs);
    }

    /// <summary>A packet of a DSR flow: the fast path, else <see cref="DsrFlow"/>. Never inlined into ProcessIp, whose
    /// inlining budget the NAT established path needs.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DsrPacket(Span<byte> frame, ref PacketInfo p, int port, EngineSnapshot snapshot, long nowNs, int index, bool reply)
    {
        if (Trace is not null || !TryForwardDsr(frame, p, nowNs, index, reply)) DsrFlow(frame, ref p, port, snapshot, nowNs, index, reply);
    }

    /// <summary>A packet of a DSR flow that the fast path did not take: state, timeout, ASSURED, events, then out.</summary>
    private void DsrFlow(Span<byte> frame, ref PacketInfo p, int port, EngineSnapshot snapshot, long nowNs, int index, bool reply)
    {
        ref var e = ref _table[index];
        var backend = snapshot.Backend(e.BackendId);
        if (backend is null)
        {
            Trace?.Step(Inv($"conntrack: entry {e.Id} belonged to a removed backend: destroyed"));
            _table.Remove(index, nowNs);
            NewFlow(frame, ref p, port, snapshot, nowNs, FlowTuple.From(p));
            return;
        }
        if (reply)
        {
            // The backends answer the client directly: a packet of that direction here is not the LB's to forward.
            Trace?.Step(Inv($"dsr: packet of the backend's direction of entry {e.Id}: not forwarded"));
            DropFlow(DropReason.DsrReplyDirection, e.FarmId, e.BackendId);
            return;
        }
        var oldState = e.TcpState;
        var oldStatus = e.Status;
        long timeoutNs;
        if (p.Protocol == IpProtocols.Tcp)
        {
            var next = DsrTcpStates.Next(oldState, p.TcpFlags);
            e.TcpState = next;
            // ASSURED once the client completes a handshake (SYN_RECV → ESTABLISHED) or a picked-up flow sends again:
            // a flood of one packet per tuple never holds an entry that cannot be dropped early.
            if (next == TcpState.Established && oldState is TcpState.Established or TcpState.SynRecv) e.Status |= ConnStatus.Assured;
            timeoutNs = DsrTcpStates.Timeout(next) * 1_000_000_000L;
        }
        else
        {
            if (nowNs - e.CreatedNs > ConntrackTimeouts.UdpStreamAfterNs) e.Status |= ConnStatus.Assured;
            timeoutNs = DsrTcpStates.UdpTimeoutSeconds * 1_000_000_000L;
        }
        bool assured = (e.Status & ConnStatus.Assured) != 0;
        e.ExpiresNs = nowNs + (assured ? timeoutNs : UnassuredTimeout(timeoutNs, nowNs));
        if ((e.Status & ~oldStatus & ConnStatus.Assured) != 0) _table.Untrack(index);
        if (_table.Events is { } events && (oldState != e.TcpState || oldStatus != e.Status)) events.OnEvent(ConnEventType.Update, e, nowNs);
        Account(ref e, false, p);
        if (Trace is not null) TraceDsr(e, oldState, oldStatus, nowNs);
        if (e.NeighborVersion == _neighbors.Version && e.Forward == FlowForward.Dsr && !e.NextHopMacOriginal.IsZero)
        {
            Transmit(frame[..p.PacketEnd], e.NextHopMacOriginal, e.NextHopPortOriginal, p.Offload);
            Counters.Forwarded++;
            if (Trace is not null) TraceOut(p, e.NextHopMacOriginal, e.NextHopPortOriginal);
            return;
        }
        SendDsr(frame, ref p, ref e, backend, snapshot, nowNs);
    }

    /// <summary>
    /// The usual packet of an established DSR flow in one straight pass: a TCP ACK (PSH/URG allowed; no SYN, FIN or RST,
    /// which leave ESTABLISHED in IPVS's table or start over) of an ASSURED flow, or a UDP datagram of an ASSURED flow,
    /// whose backend's MAC is cached in the entry: the timeout, the counters, two MACs written. False, with nothing
    /// changed, for anything else (then <see cref="DsrFlow"/>). Frames keep their offloads: nothing above layer 2 changes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryForwardDsr(Span<byte> frame, in PacketInfo p, long nowNs, int index, bool reply)
    {
        ref var e = ref _table[index];
        if (reply || (e.FastFlags & FastDsr) == 0 || e.NeighborVersion != _neighbors.Version
            || (e.Status & ConnStatus.Assured) == 0 || (uint)p.PacketEnd > (uint)frame.Length)
        {
            return false;
        }

        if (p.Protocol == IpProtocols.Tcp)
        {
            if (e.TcpState != TcpState.Established || (p.TcpFlags & 0x17) != 0x10) return false;
            e.ExpiresNs = nowNs + DsrEstablishedNs;
        }
        else if (p.Protocol == IpProtocols.Udp)
        {
            e.ExpiresNs = nowNs + DsrUdpNs;
        }
        else
        {
            return false;
        }
        Account(ref e, false, p);
        Transmit(frame[..p.PacketEnd], e.NextHopMacOriginal, e.NextHopPortOriginal, p.Offload);
        Counters.Forwarded++;
        return true;
    }

    private const long DsrEstablishedNs = 15 * 60 * 1_000_000_000L;
    private const long DsrUdpNs = DsrTcpStates.UdpTimeoutSeconds * 1_000_000_000L;

    /// <summary>Sends a DSR flow's packet to its backend, and caches the backend's MAC and port in the entry: the
    /// configured <c>ether-addr</c> out of the farm's backend-side port, else the neighbour table's; unknown: the frame
    /// waits for an ARP/NDP answer (dropped and counted, per backend too, when none comes), never another backend.</summary>
    private void SendDsr(Span<byte> frame, ref PacketInfo p, ref ConnEntry e, BackendRuntime backend, EngineSnapshot snapshot, long nowNs)
    {
        if (e.Forward == FlowForward.DsrIpip)
        {
            SendIpip(frame, ref p, ref e, backend, nowNs);
            return;
        }
        int egress = EgressPort(e.FarmId);
        if (!ResolveL2(backend, egress, out var mac, out int port, e.Assured))
        {
            QueueForNeighbor(frame[..p.PacketEnd], p, backend.Address, egress, e.FarmId, backend.Id, snapshot, nowNs);
            return;
        }
        e.NextHopMacOriginal = mac;
        e.NextHopPortOriginal = (short)port;
        e.NeighborVersion = _neighbors.Version;
        e.FastFlags |= FastDsr;
        Transmit(frame[..p.PacketEnd], mac, port, p.Offload);
        Counters.Forwarded++;
        if (Trace is not null) Trace.Step(Inv($"dsr: ether daddr set {mac} ether saddr set {PortMac(port)} fwd to port{port} (IP and L4 untouched)"));
    }

    /// <summary>The backend's MAC and port for a layer-2 forward: its <c>ether-addr</c> (out of <paramref name="egress"/>,
    /// else port 0), else the neighbour table's entry (pinned when <paramref name="pin"/>). False: not known yet.</summary>
    private bool ResolveL2(BackendRuntime backend, int egress, out MacAddress mac, out int port, bool pin)
    {
        if (!backend.EtherAddr.IsZero)
        {
            mac = backend.EtherAddr;
            port = egress >= 0 ? egress : 0;
            return true;
        }
        if (!_neighbors.TryGet(backend.Address, out mac, out port)) return false;
        if (pin) _neighbors.Pin(backend.Address);
        return true;
    }

    /// <summary>The farm's backend-side port (<c>oface</c>, else <c>iface</c>), or -1 when not configured.</summary>
    private int EgressPort(int farmId) => (uint)farmId < (uint)_farmEgressPort.Length ? _farmEgressPort[farmId] : -1;

    /// <summary>Queues a frame (to be sent as it is but for its MACs) until <paramref name="nextHop"/> answers, soliciting
    /// it; a full queue is a drop counted for the farm and the backend.</summary>
    private void QueueForNeighbor(Span<byte> packet, in PacketInfo p, IpAddr nextHop, int egress, int farmId, int backendId, EngineSnapshot snapshot, long nowNs)
    {
        int port = egress >= 0 ? egress : 0;
        bool solicit = _neighbors.Enqueue(nextHop, packet, port, nowNs, out bool queued, p.Offload);
        if (!queued)
        {
            Trace?.Step(Inv($"neighbour {nextHop} unresolved and its queue is full: dropped"));
            DropFlow(DropReason.NeighborUnresolved, farmId, backendId);
        }
        else
        {
            Trace?.Step(Inv($"neighbour {nextHop} unknown: frame queued until it answers"));
        }
        if (solicit) Solicit(nextHop, default, egress, snapshot);
    }

    /// <summary>An ICMP error about a DSR flow (e.g. a router on the client's path refusing the backend's oversize reply)
    /// goes to the backend that holds the flow, unchanged, as IPVS relays it to a DR real server.</summary>
    private void DsrIcmpError(Span<byte> frame, ref PacketInfo p, ref ConnEntry e, EngineSnapshot snapshot, long nowNs)
    {
        var backend = snapshot.Backend(e.BackendId);
        if (backend is null)
        {
            Drop(DropReason.IcmpErrorUntracked);
            return;
        }
        Counters.IcmpErrorsRelayed++;
        Trace?.Step(Inv($"dsr: RELATED icmp error (type {p.IcmpType} code {p.IcmpCode}) about entry {e.Id}: to backend {backend.Name}"));
        SendDsr(frame, ref p, ref e, backend, snapshot, nowNs);
    }

    /// <summary>Frames dropped because a neighbour never answered, counted for the backends at that address (per farm
    /// and backend, by reason: <c>userlb stats</c> shows which backend does not resolve).</summary>
    private void CountUnresolvedBackends(EngineSnapshot snapshot)
    {
        var c = Counters;
        foreach (var (ip, frames) in _expiredNeighbors)
        {
            if (frames == 0) continue;
            foreach (var b in snapshot.BackendsById)
            {
                if (b is null || b.Address != ip || (uint)b.Id >= (uint)c.Backends.Length) continue;
                c.AddFlowDrops(b.FarmId, b.Id, DropReason.NeighborUnresolved, frames);
                break;
            }
        }
    }

    private void TraceDsr(in ConnEntry e, TcpState oldState, ConnStatus oldStatus, long nowNs)
    {
        var t = Trace!;
        t.Step(Inv($"dsr: connection {e.Id}, client direction (IPVS input-only tracking)"));
        bool changed = oldState != e.TcpState || oldStatus != e.Status;
        t.Step((changed ? "conntrack: [UPDATE] " : "conntrack: ") + ConntrackFormatter.Line(e, nowNs));
    }
}
