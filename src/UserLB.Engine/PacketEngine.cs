using System.Globalization;
using System.Runtime.CompilerServices;
using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Engine.L2;
using UserLB.Engine.Limits;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// The packet engine: one instance per worker, fed frames by an I/O engine (live interface, capture file or test).
/// Per frame: parse → verify → ARP/NDP → conntrack lookup (CONNMARK restore) or, for a new flow, farm match + schedule
/// (mangle MARK) + DNAT/SNAT binding (nat table) → rewrite in place with incremental checksums → neighbour resolution → send.
/// No allocation and no exception on the forwarding path.
/// </summary>
public sealed partial class PacketEngine : IEntryLifetime
{
    private readonly EngineOptions _options;
    private readonly IFrameSink _sink;
    private readonly Random _random;
    private readonly int _shardCount, _shardIndex;
    private readonly ConnTable _table;
    private readonly NeighborTable _neighbors = new();
    private readonly MacAddress[] _portMacs;
    private readonly byte[] _scratch = new byte[256];
    private readonly List<IpAddr> _dueSolicits = [];
    private readonly List<(IpAddr Ip, int Frames)> _expiredNeighbors = [];
    private readonly PersistenceTable _persistence;
    private readonly SourceLimiter _limiter;
    /// <summary>The global budget of new flows (<see cref="EngineOptions.NewFlowBudget"/>), or null: none.</summary>
    private readonly NewFlowBudget? _budget;
    private TokenBucket _echoReplies;
    private readonly bool _echoLimited;
    /// <summary>Null: <see cref="_persistence"/> and <see cref="_limiter"/> are this engine's own (no lock).</summary>
    private readonly SharedFlowState? _shared;
    /// <summary>TCP timeouts in ns by [state × 2 + seen reply] (the options are immutable).</summary>
    private readonly long[] _tcpTimeoutNs;
    /// <summary>The ESTABLISHED timeout of a flow that has seen its reply, in ns (<see cref="_tcpTimeoutNs"/>'s entry).</summary>
    private readonly long _tcpEstablishedTimeoutNs;
    /// <summary>The UDP timeouts in ns: a flow that has seen its reply, before and after it counts as a stream.</summary>
    private readonly long _udpTimeoutNs, _udpStreamTimeoutNs;
    /// <summary>Entries from which the table is under pressure (<see cref="PressureFillPercent"/>), and the cap on
    /// timeouts of unassured entries then, in ns (PacketEngine.Pressure.cs).</summary>
    private readonly int _pressureEntries;
    private readonly long _pressureUnassuredNs;
    private EngineSnapshot _snapshot = EngineSnapshot.Empty;
    private int[] _farmIngressPort = [];
    private int[] _farmEgressPort = [];
    private long _frameNumber;
    private long _lastHousekeepingNs;
    private bool _housekept;

    // ------------------------------------------------------------------ receive

    /// <summary>Processes one received frame. <paramref name="frame"/> is rewritten in place when forwarded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Process(Span<byte> frame, int port, long nowNs) => Process(frame, port, nowNs, default);

    /// <summary>
    /// Processes one received frame with its offload state (<paramref name="offload"/>: a partial checksum, a GSO
    /// super-frame), which leaves with it when it is forwarded. <paramref name="frame"/> is rewritten in place.
    /// </summary>
    public void Process(Span<byte> frame, int port, long nowNs, in VnetHeader offload)
    {
        Counters.RxFrames++;
        Counters.RxBytes += frame.Length;
        _frameNumber++;
        var snapshot = Volatile.Read(ref _snapshot);
        var reason = PacketParser.Parse(frame, offload, out var p);
        if (!offload.IsPlain) CountOffload(p);
        if (Trace is not null) TraceFrame(frame, p, reason, nowNs);
        if (reason != DropReason.None)
        {
            Drop(reason);
            return;
        }
        if (p.Kind == FrameKind.Arp)
        {
            HandleArp(frame, p, port, snapshot, nowNs);
        }
        else
        {
            ProcessIp(frame, ref p, port, snapshot, nowNs);
        }
        Tick(nowNs, _options.SweepPerFrame);
    }

    // Never inlined into Process: the JIT's inlining budget for the caller would run out inside it, leaving the small
    // helpers it calls (MAC and checksum checks, the tuple, the lookup) as calls; on its own it gets them all inlined.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ProcessIp(Span<byte> frame, ref PacketInfo p, int port, EngineSnapshot snapshot, long nowNs)
    {
        var ethDst = MacAddress.Read(frame);
        if (!_options.AcceptAnyDestinationMac && !ethDst.IsMulticast && ethDst != PortMac(port))
        {
            Drop(DropReason.NotForUs);
            return;
        }
        if (!p.IsV6 && !ChecksumVerifier.Ipv4HeaderValid(frame, p))
        {
            Drop(DropReason.Ipv4BadChecksum);
            return;
        }
        // A partial checksum cannot be verified yet and DATA_VALID was verified already (conntrack skips both).
        var l4Check = (p.Offload.Flags & (VnetHeader.FlagNeedsChecksum | VnetHeader.FlagDataValid)) != 0 ? DropReason.None : ChecksumVerifier.VerifyL4(frame, p);
        if (l4Check != DropReason.None)
        {
            Drop(l4Check);
            return;
        }
        if (p.IsIcmp)
        {
            // An echo request is answered to its own source MAC: learning its sender would let an echo flood from
            // spoofed sources churn the neighbour table.
            if (!IcmpTypes.IsEchoRequest(p.IsV6, p.IcmpType)) LearnSender(frame, p, port, nowNs);
            if (p.IsV6 && p.IcmpType is >= IcmpTypes.V6RouterSolicitation and <= 137)
            {
                HandleNdp(frame, p, port, snapshot, nowNs);
                return;
            }
            if (IcmpTypes.IsError(p.IsV6, p.IcmpType))
            {
                HandleIcmpError(frame, ref p, port, snapshot, nowNs);
                return;
            }
        }

        var tuple = FlowTuple.From(p);
        int index = _table.Lookup(tuple, nowNs, out bool reply);
        if (index >= 0)
        {
            ref var e = ref _table[index];
            // nftlb checks policies per packet at ingress, before conntrack: a tracked flow from a source blacklisted
            // since is dropped too (its entry is left to time out, as the kernel's would be).
            if (!reply && snapshot.HasPolicies && TrackedFlowPolicyDrops(snapshot, e.FarmId, p)) return;
            if (e.Forward != FlowForward.Nat)
            {
                DsrPacket(frame, ref p, port, snapshot, nowNs, index, reply);
                return;
            }
            // Learn the sender's MAC when it can matter: the first reply, and every frame that is not a plain packet of an
            // established flow (established flows keep their next hop cached in the entry); a new flow's sender once the
            // flow is admitted (NewFlow), so that a flood dropped early costs no neighbour entry.
            if (!e.SeenReply || p.IsIcmp) LearnSender(frame, p, port, nowNs);
            if (snapshot.Backend(e.BackendId) is null)
            {
                Trace?.Step(Inv($"conntrack: entry {e.Id} belonged to a removed backend: destroyed"));
                _table.Remove(index, nowNs);
                index = -1;
            }
        }
        if (index < 0)
        {
            if (p.IsIcmp && IcmpTypes.IsEchoRequest(p.IsV6, p.IcmpType) && snapshot.LocalAddresses.Contains(p.Dst))
            {
                if (_echoLimited && !_echoReplies.TryTake(nowNs))
                {
                    Trace?.Step("icmp: echo request to a VIP over the echo reply budget: not answered");
                    Drop(DropReason.IcmpRateLimited);
                    return;
                }
                AnswerEcho(frame, p, port);
                return;
            }
            if (snapshot.HasStateless && StatelessFromBackend(frame, ref p, port, snapshot, nowNs)) return;
            NewFlow(frame, ref p, port, snapshot, nowNs, tuple);
            return;
        }
        if (p.Protocol is IpProtocols.Tcp or IpProtocols.Udp && Trace is null && TryForwardEstablished(frame, p, nowNs, index, reply)) return;
        ExistingFlow(frame, ref p, snapshot, nowNs, index, reply);
    }

    private void ExistingFlow(Span<byte> frame, ref PacketInfo p, EngineSnapshot snapshot, long nowNs, int index, bool reply)
    {
        // The hot path: everything rare (invalid flags, reopen, RST before a reply, tracing, unresolved next hop) is
        // in separate methods so this one stays small enough for the JIT to inline what it calls.
        ref var e = ref _table[index];
        if ((e.Status & ConnStatus.SynProxyPending) != 0 && p.Protocol == IpProtocols.Tcp && SynProxyPending(frame, p, snapshot, nowNs, index, reply)) return;
        bool seenReplyBefore = e.SeenReply;
        var oldStatus = e.Status;
        var oldState = e.TcpState;
        var oldSctp = e.SctpState;
        if (p.Protocol == IpProtocols.Tcp)
        {
            var u = TcpStateTable.Update(e.TcpState, reply, p.TcpFlags);
            if (u.Kind == TcpTransition.Invalid)
            {
                TcpInvalid(e.TcpState, e.FarmId, e.BackendId);
                return;
            }
            if (u.Reopen)
            {
                Reopen(frame, ref p, snapshot, nowNs, index);
                return;
            }
            if (u.Kind == TcpTransition.Move)
            {
                e.TcpState = u.NewState;
                if (u.ShouldSetAssured(seenReplyBefore)) e.Status |= ConnStatus.Assured;
            }
            if (u.ShouldDeleteOnRst(seenReplyBefore))
            {
                RstBeforeReply(frame, ref p, snapshot, nowNs, index, reply);
                return;
            }
            if (u.ShouldRefreshTimeout(seenReplyBefore))
            {
                long timeout = _tcpTimeoutNs[(int)e.TcpState * 2 + (seenReplyBefore || reply ? 1 : 0)];
                e.ExpiresNs = nowNs + ((e.Status & ConnStatus.Assured) != 0 ? timeout : UnassuredTimeout(timeout, nowNs));
            }
        }
        else if (p.Protocol == IpProtocols.Udp)
        {
            // nf_conntrack_udp_packet: SEEN_REPLY is set after the handler, so the first reply still gets the unreplied
            // timeout; later packets of a flow older than 2 s get the stream timeout and ASSURED.
            if (seenReplyBefore)
            {
                bool stream = nowNs - e.CreatedNs > ConntrackTimeouts.UdpStreamAfterNs;
                _table.Refresh(index, nowNs, (stream ? _options.Timeouts.UdpStreamSeconds : _options.Timeouts.UdpSeconds) * 1_000_000_000L);
                if (stream) e.Status |= ConnStatus.Assured;
            }
            else
            {
                _table.Refresh(index, nowNs, UnassuredTimeout(_udpTimeoutNs, nowNs));
            }
        }
        else if (p.Protocol == IpProtocols.Sctp)
        {
            if (!SctpUpdate(frame, p, ref e, reply, index, nowNs)) return;
        }
        else
        {
            OtherProtocolUpdate(ref e, p, reply, index, nowNs);
        }
        if (reply) e.Status |= ConnStatus.SeenReply;
        if ((e.Status & ~oldStatus & ConnStatus.Assured) != 0) _table.Untrack(index); // ASSURED now: no candidate for eviction
        // conntrack -E: UPDATE on a state change, the first reply (IPCT_REPLY) and ASSURED (IPCT_ASSURED).
        if (_table.Events is { } events && (oldState != e.TcpState || oldSctp != e.SctpState || ((oldStatus ^ e.Status) & (ConnStatus.Assured | ConnStatus.SeenReply)) != 0))
            events.OnEvent(ConnEventType.Update, e, nowNs);
        Account(ref e, reply, p);
        if (Trace is not null) TraceExisting(e, reply, oldState, oldStatus, nowNs);
        if (p.Protocol is IpProtocols.Tcp or IpProtocols.Udp) TranslateTcpUdp(frame, ref p, e, reply);
        else Translate(frame, ref p, e, reply);
        if ((e.Status & ConnStatus.SeqAdjust) != 0 && p.Protocol == IpProtocols.Tcp) SeqAdjust(frame, p, e, reply);
        if (e.NeighborVersion == _neighbors.Version && e.NeighborVersion != 0)
        {
            var mac = reply ? e.NextHopMacReply : e.NextHopMacOriginal;
            if (!mac.IsZero)
            {
                if (!PacketRewriter.DecrementTtl(frame, p))
                {
                    DropFlow(DropReason.TtlExceeded, e.FarmId, e.BackendId);
                    return;
                }
                int port = reply ? e.NextHopPortReply : e.NextHopPortOriginal;
                Transmit(frame[..p.PacketEnd], mac, port, p.Offload);
                Counters.Forwarded++;
                if (Trace is not null) TraceOut(p, mac, port);
                return;
            }
        }
        SendAndCacheNextHop(frame, ref p, snapshot, nowNs, ref e, reply);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TcpInvalid(TcpState state, int farmId, int backendId)
    {
        Trace?.Step(Inv($"conntrack: INVALID tcp flags in {state.ToConntrackName()}: not NATed"));
        DropFlow(DropReason.TcpInvalid, farmId, backendId);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Reopen(Span<byte> frame, ref PacketInfo p, EngineSnapshot snapshot, long nowNs, int index)
    {
        ref var e = ref _table[index];
        Trace?.Step(Inv($"conntrack: SYN in {e.TcpState.ToConntrackName()} reopens the connection: old entry {e.Id} destroyed"));
        _table.Remove(index, nowNs);
        NewFlow(frame, ref p, -1, snapshot, nowNs, FlowTuple.From(p));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RstBeforeReply(Span<byte> frame, ref PacketInfo p, EngineSnapshot snapshot, long nowNs, int index, bool reply)
    {
        ref var e = ref _table[index];
        Account(ref e, reply, p);
        Trace?.Step("conntrack: RST before any reply: entry destroyed");
        Translate(frame, ref p, e, reply);
        if ((e.Status & ConnStatus.SeqAdjust) != 0 && p.Protocol == IpProtocols.Tcp) SeqAdjust(frame, p, e, reply);
        var nextHop = reply ? e.Original.Src : e.Reply.Src;
        int farmId = e.FarmId;
        _table.Remove(index, nowNs);
        Send(frame, ref p, nextHop, farmId, reply, snapshot, nowNs);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void OtherProtocolUpdate(ref ConnEntry e, in PacketInfo p, bool reply, int index, long nowNs)
    {
        long t = p.IsIcmp ? _options.Timeouts.IcmpSeconds : _options.Timeouts.GenericSeconds;
        _table.Refresh(index, nowNs, t * 1_000_000_000L);
        if (reply && !p.IsIcmp) e.Status |= ConnStatus.Assured;
    }

    // ------------------------------------------------------------------ new flows

    private void NewFlow(Span<byte> frame, ref PacketInfo p, int port, EngineSnapshot snapshot, long nowNs, in FlowTuple tuple)
    {
        var farm = snapshot.FindFarm(p.Dst, p.Protocol, p.DstPort);
        if (farm is null)
        {
            Trace?.Step(snapshot.IsVirtualAddress(p.Dst)
                ? Inv($"mangle PREROUTING: no farm of {p.Dst} takes {IpProtocols.Name(p.Protocol)} port {p.DstPort}")
                : "mangle PREROUTING: no tracked flow and no farm: not forwarded");
            // Multicast control traffic (IGMP, MLD reports) is addressed to the link, not to the LB: not for us.
            Drop(p.Protocol is IpProtocols.Tcp or IpProtocols.Udp or IpProtocols.Sctp || snapshot.IsVirtualAddress(p.Dst)
                ? DropReason.NoFarm : p.Dst.IsMulticast ? DropReason.NotForUs : DropReason.UnsupportedProtocol);
            return;
        }
        if (!farm.IsUp)
        {
            Trace?.Step(Inv($"farm {farm.Name} is {farm.Config.State.ToString().ToLowerInvariant()}: no new flows"));
            DropFlow(DropReason.FarmDown, farm.Id, -1);
            return;
        }
        if (snapshot.HasPolicies && NewFlowPolicyDrops(snapshot, farm.Id, p)) return;
        if (farm.Mode == FarmMode.Dsr)
        {
            NewDsrFlow(frame, ref p, port, farm, snapshot, nowNs, tuple);
            return;
        }
        if (farm.Mode == FarmMode.StlsDnat)
        {
            StatelessToBackend(frame, ref p, port, farm, snapshot, nowNs);
            return;
        }
        var tcpState = TcpState.None;
        SynProxyOpen proxied = default;
        bool synProxy = p.Protocol == IpProtocols.Tcp && farm.SynProxy;
        if (synProxy)
        {
            // A SYN gets a cookie and nothing more; only an ACK with a valid one goes on, as the backend's SYN.
            if (!SynProxyFirst(frame, p, port, farm, tuple, nowNs, out proxied)) return;
            tcpState = TcpState.SynSent;
        }
        else if (p.Protocol == IpProtocols.Tcp && !TcpStateTable.TryStartNew(p.TcpFlags, _options.TcpLoose && !farm.Config.TcpStrict, out tcpState))
        {
            Trace?.Step(Inv($"conntrack: tcp flags {FormatTcpFlags(p.TcpFlags)} cannot start a connection: INVALID"));
            DropFlow(DropReason.TcpNoSynForNewFlow, farm.Id, -1);
            return;
        }
        else if (p.Protocol == IpProtocols.Tcp && (p.TcpFlags & TcpFlags.Syn) == 0 && UnderPressure(nowNs))
        {
            // A mid-stream pickup must not let an ACK flood from spoofed sources fill the table.
            Trace?.Step("conntrack: mid-stream pickup refused while the table is under pressure");
            DropFlow(DropReason.TcpLooseUnderPressure, farm.Id, -1);
            return;
        }
        var sctpState = SctpState.None;
        if (p.Protocol == IpProtocols.Sctp && !SctpStartNew(frame, p, farm.Id, out sctpState)) return;
        if (_budget is { } budget && budget.Admit(tuple, nowNs) is var verdict && verdict != BudgetVerdict.Admitted && OverBudget(farm, verdict)) return;
        if (port >= 0) LearnSender(frame, p, port, nowNs);
        var backend = ChooseShared(frame, p, farm, snapshot, nowNs, out bool limited, out string why);
        if (backend is null) return;

        ushort backendPort = backend.Port != 0 && p.HasPorts ? backend.Port : p.DstPort;
        var status = ConnStatus.DstNat;
        FlowTuple replyTuple;
        if (farm.SourceNat)
        {
            var snatAddress = backend.SourceAddress ?? farm.SnatAddress;
            status |= ConnStatus.SrcNat;
            replyTuple = new FlowTuple(backend.Address, snatAddress, backendPort, p.SrcPort, p.Protocol);
            if (!UniqueTuple(ref replyTuple, nowNs) && !EvictForTuple(ref replyTuple, backend.Id, p.SrcPort, nowNs))
            {
                Trace?.Step("nat POSTROUTING: SNAT: no free source port, and no unassured connection holds one to evict");
                Unadmit(farm.Id, p.Src, limited, backend.Id);
                DropFlow(DropReason.NatPortsExhausted, farm.Id, -1);
                return;
            }
        }
        else
        {
            replyTuple = new FlowTuple(backend.Address, p.Src, backendPort, p.SrcPort, p.Protocol);
            if (_table.IsTaken(replyTuple, nowNs))
            {
                Trace?.Step("nat PREROUTING: DNAT: the reply tuple is already in use by another connection");
                Unadmit(farm.Id, p.Src, limited, backend.Id);
                DropFlow(DropReason.NatPortsExhausted, farm.Id, -1);
                return;
            }
        }

        long timeout = p.Protocol switch
        {
            IpProtocols.Tcp => _options.Timeouts.TcpTimeout(tcpState, false),
            IpProtocols.Udp => _options.Timeouts.UdpSeconds,
            IpProtocols.Icmp or IpProtocols.Icmpv6 => _options.Timeouts.IcmpSeconds,
            IpProtocols.Sctp => ConntrackTimeouts.SctpTimeoutSeconds(sctpState),
            _ => _options.Timeouts.GenericSeconds,
        };
        int index = NewEntry(tuple, replyTuple, timeout, status, tcpState, FlowForward.Nat, farm, backend, limited, why, nowNs, p, sctpState);
        if (index < 0) return;
        ref var e = ref _table[index];
        if (synProxy)
        {
            SynProxyConnect(frame, p, ref e, proxied, snapshot);
            return;
        }
        Account(ref e, false, p);
        Translate(frame, ref p, e, false);
        Send(frame, ref p, e.Reply.Src, farm.Id, false, snapshot, nowNs);
    }

    // ------------------------------------------------------------------ transmit

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
