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

    public PacketEngine(EngineOptions options, IFrameSink sink)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sink);
        _options = options;
        _sink = sink;
        _random = options.Seed is int seed ? new Random(seed) : new Random();
        if (options.ShardCount < 1 || (uint)options.ShardIndex >= (uint)options.ShardCount)
            throw new ArgumentOutOfRangeException(nameof(options), $"shard {options.ShardIndex} of {options.ShardCount}");
        _shardCount = options.ShardCount;
        _shardIndex = options.ShardIndex;
        ulong hashKey = (ulong)_random.NextInt64() ^ ((ulong)_random.NextInt64() << 1);
        _table = new ConnTable(options.MaxConnections, hashKey, options.PreallocateTable) { Lifetime = this };
        _cookies = NewCookies(options.SynProxySecret, hashKey);
        _shared = options.Shared;
        _persistence = _shared?.Persistence ?? new PersistenceTable();
        _limiter = _shared?.Limiter ?? new SourceLimiter(options.LimiterSlots, hashKey * 0x9E37_79B9_7F4A_7C15UL + 1);
        _budget = options.NewFlowBudget > 0 ? new NewFlowBudget(options.NewFlowBudget, options.NewFlowBurst, FlowTuple.Mix(hashKey ^ 0xB0D6_E7B0_D6E7_B0D6UL)) : null;
        _portMacs = options.PortMacs.Count > 0 ? [.. options.PortMacs] : [EngineOptions.DefaultMac];
        _tcpTimeoutNs = new long[TcpStateTable.StateCount * 2];
        for (int state = 0; state < TcpStateTable.StateCount; state++)
        {
            _tcpTimeoutNs[state * 2] = options.Timeouts.TcpTimeout((TcpState)state, false) * 1_000_000_000L;
            _tcpTimeoutNs[state * 2 + 1] = options.Timeouts.TcpTimeout((TcpState)state, true) * 1_000_000_000L;
        }
        _tcpEstablishedTimeoutNs = _tcpTimeoutNs[(int)TcpState.Established * 2 + 1];
        _udpTimeoutNs = options.Timeouts.UdpSeconds * 1_000_000_000L;
        _udpStreamTimeoutNs = options.Timeouts.UdpStreamSeconds * 1_000_000_000L;
        _pressureEntries = (int)Math.Max(1, (long)options.MaxConnections * PressureFillPercent / 100);
        _pressureUnassuredNs = Math.Max(1, options.PressureUnassuredTimeoutSeconds) * 1_000_000_000L;
    }

    public EngineCounters Counters { get; } = new();
    public ConnTable Table => _table;
    public NeighborTable Neighbors => _neighbors;
    /// <summary>The per-client limiter (shared when <see cref="Shared"/> is set: then read it through <see cref="WithSourceTables"/>).</summary>
    public SourceLimiter Limiter => _limiter;
    /// <summary>Learned source persistence (clients → backends); control plane only, through the worker, and through
    /// <see cref="WithSourceTables"/> when <see cref="Shared"/> is set.</summary>
    public PersistenceTable Persistence => _persistence;
    /// <summary>The state this engine shares with the other shards' engines (<see cref="EngineOptions.Shared"/>), or null.</summary>
    public SharedFlowState? Shared => _shared;

    /// <summary>Runs a control-plane action on <see cref="Persistence"/> and <see cref="Limiter"/>, under the shared lock
    /// when they are shared (call on the worker's thread when they are not).</summary>
    public T WithSourceTables<T>(Func<PersistenceTable, SourceLimiter, T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        return _shared is { } shared ? shared.WithSourceTables(action) : action(_persistence, _limiter);
    }
    public EngineSnapshot Snapshot => Volatile.Read(ref _snapshot);
    public IPacketTrace? Trace { get; set; }
    /// <summary>This engine's shard of the flows (<see cref="FlowShard"/>): index of count.</summary>
    public int ShardIndex => _shardIndex;
    public int ShardCount => _shardCount;

    /// <summary>Raised once per kind when a frame shows veth offloads at work (partial checksum, GSO/GRO super-frame).</summary>
    public event Action<DropReason>? OffloadDetected;
    private bool _partialChecksumReported;
    private bool _gsoReported;

    public MacAddress PortMac(int port) => _portMacs[(uint)port < (uint)_portMacs.Length ? port : 0];

    /// <summary>Installs a new configuration snapshot. Flows keep their backends; flows of removed backends are flushed lazily.</summary>
    public void Apply(EngineSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        int maxFarm = 0, maxBackend = snapshot.BackendsById.Length;
        foreach (var f in snapshot.Farms) maxFarm = Math.Max(maxFarm, f.Id + 1);
        var ingress = new int[maxFarm];
        var egress = new int[maxFarm];
        foreach (var f in snapshot.Farms)
        {
            ingress[f.Id] = PortIndex(f.Config.Iface);
            egress[f.Id] = PortIndex(f.Config.Oface ?? f.Config.Iface);
        }
        Counters.EnsureIds(maxBackend, maxFarm);
        _farmIngressPort = ingress;
        _farmEgressPort = egress;
        Volatile.Write(ref _snapshot, snapshot);
    }

    private int PortIndex(string? name)
    {
        if (name is null) return -1;
        for (int i = 0; i < _options.PortNames.Count; i++)
            if (_options.PortNames[i] == name) return i;
        return -1;
    }

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
        if (_options.SweepPerFrame > 0) _table.Sweep(nowNs, _options.SweepPerFrame);
        if (!_housekept || nowNs - _lastHousekeepingNs >= NeighborTable.SolicitIntervalNs) Housekeeping(nowNs);
    }

    /// <summary>Timer work: expire connections, retry or give up neighbour solicitations. Call periodically when idle.</summary>
    public void Housekeeping(long nowNs)
    {
        _lastHousekeepingNs = nowNs;
        _housekept = true;
        _expiredNeighbors.Clear();
        int dropped = _neighbors.ExpirePending(nowNs, _expiredNeighbors);
        if (dropped > 0)
        {
            Counters.Drops[(int)DropReason.NeighborUnresolved] += dropped;
            CountUnresolvedBackends(Volatile.Read(ref _snapshot));
            Trace?.Step(Inv($"neighbour: {dropped} queued frame(s) dropped, no answer to {NeighborTable.MaxSolicitations} solicitations"));
        }
        _dueSolicits.Clear();
        _neighbors.CollectDueSolicitations(nowNs, _dueSolicits);
        foreach (var ip in _dueSolicits) Solicit(ip, default, -1, Volatile.Read(ref _snapshot));
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
            LearnSender(frame, p, port, nowNs);
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

    private void LearnSender(ReadOnlySpan<byte> frame, in PacketInfo p, int port, long nowNs)
    {
        if (_neighbors.Learn(p.Src, MacAddress.Read(frame[Offsets.EthSrc..]), port, nowNs)) FlushPending(p.Src, nowNs);
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
                bool stream = nowNs - e.CreatedNs > 2_000_000_000L;
                _table.Refresh(index, nowNs, (stream ? _options.Timeouts.UdpStreamSeconds : _options.Timeouts.UdpSeconds) * 1_000_000_000L);
                if (stream) e.Status |= ConnStatus.Assured;
            }
            else
            {
                _table.Refresh(index, nowNs, UnassuredTimeout(_udpTimeoutNs, nowNs));
            }
        }
        else
        {
            OtherProtocolUpdate(ref e, p, reply, index, nowNs);
        }
        if (reply) e.Status |= ConnStatus.SeenReply;
        if ((e.Status & ~oldStatus & ConnStatus.Assured) != 0) _table.Untrack(index); // ASSURED now: no candidate for eviction
        // conntrack -E: UPDATE on a state change, the first reply (IPCT_REPLY) and ASSURED (IPCT_ASSURED).
        if (_table.Events is { } events && (oldState != e.TcpState || ((oldStatus ^ e.Status) & (ConnStatus.Assured | ConnStatus.SeenReply)) != 0))
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
        var bc = Counters.Backends;
        if ((uint)e.BackendId < (uint)bc.Length)
        {
            bc[e.BackendId].Packets++;
            bc[e.BackendId].Bytes += bytes;
        }
        var fc = Counters.Farms;
        if ((uint)e.FarmId < (uint)fc.Length)
        {
            fc[e.FarmId].Packets++;
            fc[e.FarmId].Bytes += bytes;
        }
    }

    /// <summary>A super-frame counts as the segments it stands for, as if it had come segmented.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void AccountSegments(ref ConnEntry e, bool reply, int packets, long bytes)
    {
        if (reply) { e.ReplyPackets += (ulong)packets; e.ReplyBytes += (ulong)bytes; }
        else { e.OriginalPackets += (ulong)packets; e.OriginalBytes += (ulong)bytes; }
        var bc = Counters.Backends;
        if ((uint)e.BackendId < (uint)bc.Length)
        {
            bc[e.BackendId].Packets += packets;
            bc[e.BackendId].Bytes += bytes;
        }
        var fc = Counters.Farms;
        if ((uint)e.FarmId < (uint)fc.Length)
        {
            fc[e.FarmId].Packets += packets;
            fc[e.FarmId].Bytes += bytes;
        }
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

    // ------------------------------------------------------------------ new flows

    private void NewFlow(Span<byte> frame, ref PacketInfo p, int port, EngineSnapshot snapshot, long nowNs, in FlowTuple tuple)
    {
        var farm = snapshot.FindFarm(p.Dst, p.Protocol, p.DstPort);
        if (farm is null)
        {
            Trace?.Step(snapshot.IsVirtualAddress(p.Dst)
                ? Inv($"mangle PREROUTING: no farm of {p.Dst} takes {IpProtocols.Name(p.Protocol)} port {p.DstPort}")
                : "mangle PREROUTING: no tracked flow and no farm: not forwarded");
            Drop(p.Protocol is IpProtocols.Tcp or IpProtocols.Udp or IpProtocols.Sctp || snapshot.IsVirtualAddress(p.Dst)
                ? DropReason.NoFarm : DropReason.UnsupportedProtocol);
            return;
        }
        if (!farm.IsUp)
        {
            Trace?.Step(Inv($"farm {farm.Name} is {farm.Config.State.ToString().ToLowerInvariant()}: no new flows"));
            DropFlow(DropReason.FarmDown, farm.Id, -1);
            return;
        }
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
            _ => _options.Timeouts.GenericSeconds,
        };
        int index = NewEntry(tuple, replyTuple, timeout, status, tcpState, FlowForward.Nat, farm, backend, limited, why, nowNs);
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

    // ------------------------------------------------------------------ transmit

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

    /// <summary>A drop that belongs to a farm (and a backend, when known: -1 otherwise): counted per farm and backend by reason too.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DropFlow(DropReason reason, int farmId, int backendId)
    {
        var c = Counters;
        if ((uint)farmId < (uint)c.Farms.Length)
        {
            c.Farms[farmId].Drops++;
            c.FarmDrops[farmId * (int)DropReason.Count + (int)reason]++;
        }
        if ((uint)backendId < (uint)c.Backends.Length)
        {
            c.Backends[backendId].Drops++;
            c.BackendDrops[backendId * (int)DropReason.Count + (int)reason]++;
        }
        Drop(reason);
    }

    void IEntryLifetime.OnRemoved(in ConnEntry entry)
    {
        Unadmit(entry.FarmId, entry.Original.Src, (entry.Status & ConnStatus.Limited) != 0, entry.BackendId);
        if ((uint)entry.BackendId < (uint)Counters.Backends.Length) Counters.Backends[entry.BackendId].Active--;
        if ((uint)entry.FarmId < (uint)Counters.Farms.Length) Counters.Farms[entry.FarmId].Active--;
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

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
