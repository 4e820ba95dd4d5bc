using System.Collections.Frozen;
using System.Collections.Immutable;
using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Packets;

namespace UserLB.Engine.Farms;

/// <summary>
/// Everything the data path needs from the configuration, built once per change and swapped atomically (YARP's
/// ClusterState): farms by virtual address, backends by stable id, the addresses the engine owns (answers ARP/NDP for).
/// </summary>
public sealed class EngineSnapshot
{
    private readonly FrozenDictionary<IpAddr, FarmRuntime[]> _farmsByVip;
    /// <summary>stlsdnat farms' backends by address, for the reverse rule (backend address:port → VIP:vport).</summary>
    private readonly FrozenDictionary<IpAddr, (FarmRuntime Farm, BackendRuntime Backend)[]> _statelessByAddress;

    private EngineSnapshot(LoadBalancerConfig config, ImmutableArray<FarmRuntime> farms, BackendRuntime?[] backendsById,
        FrozenDictionary<IpAddr, FarmRuntime[]> byVip, FrozenSet<IpAddr> local, long generation)
    {
        var stateless = new Dictionary<IpAddr, List<(FarmRuntime, BackendRuntime)>>();
        foreach (var f in farms)
        {
            if (f.Mode != FarmMode.StlsDnat) continue;
            foreach (var b in f.Backends)
            {
                if (!stateless.TryGetValue(b.Address, out var list)) stateless[b.Address] = list = [];
                list.Add((f, b));
            }
        }
        _statelessByAddress = stateless.ToFrozenDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        HasStateless = stateless.Count > 0;
        Config = config;
        Farms = farms;
        BackendsById = backendsById;
        _farmsByVip = byVip;
        LocalAddresses = local;
        Generation = generation;
    }

    public LoadBalancerConfig Config { get; }

    private FarmPolicies?[] _farmPolicies = [];

    /// <summary>Some farm checks policies (PacketEngine.Policies.cs).</summary>
    public bool HasPolicies { get; private set; }

    /// <summary>Every policy of the configuration, compiled, in configuration order.</summary>
    public ImmutableArray<PolicyRuntime> Policies { get; private set; } = ImmutableArray<PolicyRuntime>.Empty;

    /// <summary>Farm <paramref name="farmId"/>'s policies, or null when it has none.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public FarmPolicies? PoliciesOf(int farmId) => (uint)farmId < (uint)_farmPolicies.Length ? _farmPolicies[farmId] : null;

    /// <summary>
    /// This snapshot with <paramref name="config"/>'s policies: the same farms, backends and addresses (the instances,
    /// so nothing else is rebuilt); policies whose configuration did not change keep their compiled form.
    /// <paramref name="config"/>'s farms must be this snapshot's.
    /// </summary>
    public EngineSnapshot WithPolicies(LoadBalancerConfig config, IdRegistry ids, long generation)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(ids);
        var next = new EngineSnapshot(config, Farms, BackendsById, _farmsByVip, LocalAddresses, generation);
        next.SetPolicies(config, ids, Policies);
        return next;
    }

    /// <summary>Compiles the policies (reusing those of <paramref name="previous"/> whose configuration is the same
    /// instance) and each farm's list of them with its verdict.</summary>
    private void SetPolicies(LoadBalancerConfig config, IdRegistry ids, ImmutableArray<PolicyRuntime> previous)
    {
        var byName = new Dictionary<string, PolicyRuntime>(StringComparer.Ordinal);
        var all = ImmutableArray.CreateBuilder<PolicyRuntime>(config.Policies.Length);
        int slots = 0;
        var fresh = new List<int>();
        var inUse = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pc in config.Policies)
        {
            PolicyRuntime? runtime = null;
            foreach (var old in previous)
                if (ReferenceEquals(old.Config, pc)) runtime = old;
            runtime ??= PolicyRuntime.Build(pc, ids, fresh);
            byName[pc.Name] = runtime;
            all.Add(runtime);
            foreach (int id in runtime.CounterIds) slots = Math.Max(slots, id + 1);
            foreach (var e in pc.Elements) inUse.Add(IdRegistry.ElementKey(pc.Name, e.Text));
        }
        ids.RetainPolicyElements(inUse);
        FreshPolicySlots = [.. fresh];
        int maxFarm = 0;
        foreach (var f in Farms) maxFarm = Math.Max(maxFarm, f.Id + 1);
        var perFarm = new FarmPolicies?[maxFarm];
        bool any = false;
        foreach (var f in Farms)
        {
            var list = new List<PolicyRuntime>();
            foreach (var name in f.Config.Policies)
                if (byName.TryGetValue(name, out var p)) list.Add(p);
            if (list.Count == 0) continue;
            string verdict = f.Config.Extras.TryGetValue("verdict", out var v) ? v : "log drop accept";
            perFarm[f.Id] = new FarmPolicies([.. list], verdict.Contains("drop", StringComparison.Ordinal), verdict.Contains("accept", StringComparison.Ordinal));
            any = true;
        }
        Policies = all.ToImmutable();
        _farmPolicies = perFarm;
        HasPolicies = any;
        PolicyCounterSlots = slots;
    }

    /// <summary>Element slots given out for this snapshot: their counts start from zero (<see cref="PacketEngine.Apply"/>).</summary>
    public int[] FreshPolicySlots { get; private set; } = [];

    /// <summary>The size <see cref="EngineCounters.PolicyElements"/> needs for this snapshot's elements.</summary>
    public int PolicyCounterSlots { get; private set; }
    public ImmutableArray<FarmRuntime> Farms { get; }
    /// <summary>Indexed by backend id; null where a backend was removed.</summary>
    public BackendRuntime?[] BackendsById { get; }
    /// <summary>VIPs (but those of dsr farms) and SNAT source addresses: the engine answers ARP/NDP and echo requests for them.</summary>
    public FrozenSet<IpAddr> LocalAddresses { get; }
    public long Generation { get; }

    public static EngineSnapshot Empty { get; } = Build(LoadBalancerConfig.Empty, new IdRegistry(), null, 0);

    /// <summary>The first farm (in configuration order) that takes this protocol and destination.</summary>
    public FarmRuntime? FindFarm(IpAddr dst, byte protocol, ushort dstPort)
    {
        if (!_farmsByVip.TryGetValue(dst, out var farms)) return null;
        foreach (var f in farms)
            if (f.MatchesProtocol(protocol) && f.MatchesPort(dstPort)) return f;
        return null;
    }

    public bool IsVirtualAddress(IpAddr address) => _farmsByVip.ContainsKey(address);

    /// <summary>Some farm is stlsdnat: packets from its backends are matched by <see cref="TryFindStatelessBackend"/>.</summary>
    public bool HasStateless { get; }

    /// <summary>The stlsdnat backend (and its farm) that a packet from <paramref name="src"/>:<paramref name="srcPort"/>
    /// comes from: its address, the farm's protocol, and its port (or, without one, one of the farm's virtual ports).</summary>
    public bool TryFindStatelessBackend(IpAddr src, byte protocol, ushort srcPort, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out FarmRuntime? farm, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BackendRuntime? backend)
    {
        if (_statelessByAddress.TryGetValue(src, out var list))
        {
            foreach (var (f, b) in list)
            {
                if (f.MatchesProtocol(protocol) && (b.Port != 0 ? b.Port == srcPort : f.MatchesPort(srcPort)))
                {
                    farm = f;
                    backend = b;
                    return true;
                }
            }
        }
        farm = null;
        backend = null;
        return false;
    }


    public BackendRuntime? Backend(int id) => (uint)id < (uint)BackendsById.Length ? BackendsById[id] : null;

    public FarmRuntime? FindFarmByName(string name)
    {
        foreach (var f in Farms) if (f.Name == name) return f;
        return null;
    }

    /// <param name="unhealthy">Backends failing their health checks, as "farm/backend".</param>
    public static EngineSnapshot Build(LoadBalancerConfig config, IdRegistry ids, IReadOnlySet<string>? unhealthy, long generation)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(ids);
        var farms = ImmutableArray.CreateBuilder<FarmRuntime>(config.Farms.Length);
        var byVip = new Dictionary<IpAddr, List<FarmRuntime>>();
        var local = new HashSet<IpAddr>();
        var byId = new List<BackendRuntime?>();
        foreach (var fc in config.Farms)
        {
            int farmId = ids.FarmId(fc.Name);
            var vip = IpAddr.FromIPAddress(fc.VirtualAddress);
            var snat = fc.SourceAddress is null ? vip : IpAddr.FromIPAddress(fc.SourceAddress);
            var backends = ImmutableArray.CreateBuilder<BackendRuntime>(fc.Backends.Length);
            for (int i = 0; i < fc.Backends.Length; i++)
            {
                var bc = fc.Backends[i];
                int id = ids.BackendId(fc.Name, bc.Name);
                var b = new BackendRuntime
                {
                    Id = id,
                    Name = bc.Name,
                    FarmId = farmId,
                    Address = IpAddr.FromIPAddress(bc.Address),
                    Port = bc.Port,
                    Weight = bc.Weight,
                    Priority = bc.Priority,
                    State = bc.State,
                    Healthy = unhealthy is null || !unhealthy.Contains(fc.Name + "/" + bc.Name),
                    Mark = bc.Mark != 0 ? bc.Mark : (uint)(0x200 + id),
                    Index = i,
                    SourceAddress = bc.SourceAddress is null ? null : IpAddr.FromIPAddress(bc.SourceAddress),
                    EtherAddr = bc.EtherAddr is { } mac && MacAddress.TryParse(mac, out var m) ? m : default,
                    Ipip = fc.Mode == FarmMode.Dsr && bc.Extras.TryGetValue("tunnel", out var tunnel) && tunnel == "ipip",
                    TunnelSource = bc.SourceAddress is { } bsa ? IpAddr.FromIPAddress(bsa) : snat,
                    Config = bc,
                };
                backends.Add(b);
                while (byId.Count <= id) byId.Add(null);
                byId[id] = b;
                if (b.SourceAddress is { } bs && fc.Mode == FarmMode.Snat) local.Add(bs);
                if (b.Ipip) local.Add(b.TunnelSource); // the tunnels' source: routers' ICMP errors come back to it
            }
            var all = backends.ToImmutable();
            var levelInput = new List<(int, bool)>(all.Length);
            foreach (var b in all) levelInput.Add((b.Priority, b.Available));
            int level = FarmRuntime.ComputeLevel(levelInput);
            var candidates = ImmutableArray.CreateBuilder<BackendRuntime>();
            foreach (var b in all)
                if (b.Available && b.Weight > 0 && b.Priority <= level) candidates.Add(b);
            var cands = candidates.ToImmutable();
            var weights = new int[cands.Length];
            var keys = new ulong[cands.Length];
            for (int i = 0; i < cands.Length; i++)
            {
                weights[i] = cands[i].Weight;
                keys[i] = Schedulers.KeyOf(cands[i].Name);
            }
            var farm = new FarmRuntime
            {
                Id = farmId,
                Config = fc,
                VirtualAddress = vip,
                SnatAddress = snat,
                SourceNat = fc.Mode == FarmMode.Snat,
                SynProxy = fc.Extras.TryGetValue("synproxy", out var synproxy) && synproxy == "on",
                Backends = all,
                Candidates = cands,
                Level = level,
                Scheduler = Schedulers.Create(fc.Scheduler, fc.SchedParam, weights, keys),
                Ports = [.. fc.VirtualPorts],
                StaticSessions = StaticSessionKeys(fc, all),
            };
            farms.Add(farm);
            if (!byVip.TryGetValue(vip, out var list)) byVip[vip] = list = [];
            list.Add(farm);
            // A dsr farm's VIP belongs to its backends (on their loopback): the engine does not answer ARP/NDP for it,
            // so several instances can share it; the router reaches it through the instances' own addresses.
            if (fc.Mode != FarmMode.Dsr) local.Add(vip);
            if (farm.SourceNat) local.Add(snat);
        }
        var snapshot = new EngineSnapshot(config, farms.ToImmutable(), [.. byId],
            byVip.ToFrozenDictionary(kv => kv.Key, kv => kv.Value.ToArray()), local.ToFrozenSet(), generation);
        snapshot.SetPolicies(config, ids, ImmutableArray<PolicyRuntime>.Empty);
        return snapshot;
    }

    /// <summary>
    /// nftlb's static sessions as data-path keys: each client string ("192.168.44.4" or, for persistence
    /// "srcip srcport", "192.168.44.4 . 95") parsed over the farm's session fields and hashed like the persistence table.
    /// </summary>
    private static FrozenDictionary<ulong, int> StaticSessionKeys(FarmConfig fc, ImmutableArray<BackendRuntime> backends)
    {
        if (fc.Sessions.IsEmpty) return FrozenDictionary<ulong, int>.Empty;
        var fields = fc.Persistence == HashFields.None ? HashFields.SrcIp : fc.Persistence;
        var map = new Dictionary<ulong, int>();
        foreach (var s in fc.Sessions)
        {
            BackendRuntime? backend = null;
            foreach (var b in backends)
                if (b.Name == s.Backend) { backend = b; break; }
            if (backend is not null && TryParseClient(s.Client, fields, out var client))
                map[MaglevScheduler.FieldHash(client, fields)] = backend.Id;
        }
        return map.ToFrozenDictionary();
    }

    /// <summary>Parses a session's client: the values of <paramref name="fields"/> in nftlb's order, joined by " . ".</summary>
    public static bool TryParseClient(string text, HashFields fields, out SchedInput client)
    {
        ArgumentNullException.ThrowIfNull(text);
        client = default;
        var parts = text.Split(" . ", StringSplitOptions.TrimEntries); // an IPv4 address has dots of its own
        int i = 0;
        IpAddr src = default, dst = default;
        ushort sport = 0, dport = 0;
        MacAddress smac = default, dmac = default;
        try
        {
            if ((fields & HashFields.SrcIp) != 0) { if (i >= parts.Length) return false; src = IpAddr.Parse(parts[i++]); }
            if ((fields & HashFields.DstIp) != 0) { if (i >= parts.Length) return false; dst = IpAddr.Parse(parts[i++]); }
            if ((fields & HashFields.SrcPort) != 0) { if (i >= parts.Length || !ushort.TryParse(parts[i++], System.Globalization.CultureInfo.InvariantCulture, out sport)) return false; }
            if ((fields & HashFields.DstPort) != 0) { if (i >= parts.Length || !ushort.TryParse(parts[i++], System.Globalization.CultureInfo.InvariantCulture, out dport)) return false; }
            if ((fields & HashFields.SrcMac) != 0) { if (i >= parts.Length || !MacAddress.TryParse(parts[i++], out smac)) return false; }
            if ((fields & HashFields.DstMac) != 0) { if (i >= parts.Length || !MacAddress.TryParse(parts[i++], out dmac)) return false; }
        }
        catch (FormatException)
        {
            return false;
        }
        if (i != parts.Length) return false;
        client = new SchedInput(src, dst, sport, dport, smac, dmac);
        return true;
    }
}

/// <summary>Stable numeric ids for farms and backends by name, never reused within a process (conntrack entries and
/// counters keep them); and the counters' slots of policy elements, reused once an element is gone.</summary>
public sealed class IdRegistry
{
    private readonly Dictionary<string, int> _farms = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _backends = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _elements = new(StringComparer.Ordinal);
    private readonly Stack<int> _freeElements = new();
    private int _elementSlots;
    private readonly Lock _lock = new();

    public int FarmId(string farm)
    {
        lock (_lock)
        {
            if (!_farms.TryGetValue(farm, out int id)) _farms[farm] = id = _farms.Count;
            return id;
        }
    }

    /// <summary>The counters' slot of a policy's element (by its text), given to it when it first appears.</summary>
    public int PolicyElementId(string policy, string element) => PolicyElementId(policy, element, out _);

    /// <summary>The counters' slot of a policy's element; <paramref name="fresh"/>: given now (a slot an element let go
    /// of before, whose counts the engines must zero: <see cref="EngineSnapshot.FreshPolicySlots"/>).</summary>
    public int PolicyElementId(string policy, string element, out bool fresh)
    {
        lock (_lock)
        {
            string key = ElementKey(policy, element);
            fresh = !_elements.TryGetValue(key, out int id);
            if (fresh) _elements[key] = id = _freeElements.Count > 0 ? _freeElements.Pop() : _elementSlots++;
            return id;
        }
    }

    /// <summary>The slot of an element a snapshot has, without giving one to an element that has none.</summary>
    public bool TryPolicyElementId(string policy, string element, out int id)
    {
        lock (_lock) return _elements.TryGetValue(ElementKey(policy, element), out id);
    }

    /// <summary>Lets go of the slots of elements not in <paramref name="inUse"/> (<see cref="ElementKey"/>s): as nft's
    /// per-element counters, an element removed and added again counts from zero.</summary>
    public void RetainPolicyElements(IReadOnlySet<string> inUse)
    {
        ArgumentNullException.ThrowIfNull(inUse);
        lock (_lock)
        {
            foreach (var (key, id) in _elements.ToList())
            {
                if (inUse.Contains(key)) continue;
                _elements.Remove(key);
                _freeElements.Push(id);
            }
        }
    }

    /// <summary>How many element slots exist (the size a counters table needs).</summary>
    public int PolicyElementCount
    {
        get
        {
            lock (_lock) return _elementSlots;
        }
    }

    /// <summary>An element's key: its policy and text.</summary>
    public static string ElementKey(string policy, string element) => policy + "\0" + element;

    public int BackendId(string farm, string backend)
    {
        lock (_lock)
        {
            string key = farm + "\0" + backend;
            if (!_backends.TryGetValue(key, out int id)) _backends[key] = id = _backends.Count;
            return id;
        }
    }
}
