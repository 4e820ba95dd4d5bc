using UserLB.Engine.Balancing;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Engine.L2;
using UserLB.Engine.Limits;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>The engine's construction, the snapshot swap, what the control plane reads of it, and its timer work (the
/// packet path is in PacketEngine.cs).</summary>
public sealed partial class PacketEngine
{
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
        _echoLimited = options.EchoRepliesPerSecond > 0;
        if (_echoLimited) _echoReplies = new TokenBucket(options.EchoRepliesPerSecond, Math.Max(1, options.EchoReplyBurst));
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
        Counters.EnsurePolicyElements(snapshot.PolicyCounterSlots);
        foreach (int slot in snapshot.FreshPolicySlots) Counters.PolicyElement(slot) = default; // a slot reused by a new element
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

    /// <summary>How often <see cref="Tick"/> runs <see cref="Housekeeping"/>.</summary>
    public const long HousekeepingIntervalNs = 100_000_000;

    /// <summary>
    /// The engine's timer work, its one entry point: <paramref name="sweepEntries"/> slots of the incremental expiry
    /// sweep, and <see cref="Housekeeping"/> when it is due. Process calls it after each frame
    /// (<see cref="EngineOptions.SweepPerFrame"/>); an idle worker calls it between batches.
    /// </summary>
    public void Tick(long nowNs, int sweepEntries)
    {
        if (sweepEntries > 0) _table.Sweep(nowNs, sweepEntries);
        if (!_housekept || nowNs - _lastHousekeepingNs >= HousekeepingIntervalNs) Housekeeping(nowNs);
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
}
