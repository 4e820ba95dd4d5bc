using Microsoft.Extensions.Logging;
using System.Globalization;
using UserLB.Engine;
using UserLB.Engine.Balancing;
using UserLB.Cli.Api.Nftlb;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.Health;
using UserLB.IO.Live;

namespace UserLB.Cli.Api;

/// <summary>
/// The control plane of <c>userlb run</c>: the running configuration, the ids of its farms and backends, the health
/// monitor, and the forwarder whose worker threads own the engines (one per worker, each a shard of the flows). Every
/// change goes through <see cref="ChangeAsync"/>, one at a time: the new configuration is
/// validated, a new immutable <see cref="EngineSnapshot"/> is built off the data path and swapped into every engine on its
/// worker's thread (between two frames), and only then becomes <see cref="Config"/>. The API's objects (nftlb's farms,
/// addresses and policies, <see cref="Objects"/>) are the source: the configuration is what of them the engine can run.
/// A rejected change leaves everything as it was. The engines are read and changed only through <see cref="LiveForwarder.InvokeAllAsync"/> (what concerns
/// flows: every worker's) and <see cref="LiveForwarder.InvokeAsync"/> (what the workers share).
/// </summary>
internal sealed partial class ControlPlane : IDisposable
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly ILogger _log;
    private LoadBalancerConfig _config;
    private long _generation;

    /// <param name="forwarder">The forwarder whose workers own the engines.</param>
    /// <param name="config">The initial configuration.</param>
    /// <param name="portNames">The interfaces the forwarder owns.</param>
    /// <param name="health">The health monitor; null in tests.</param>
    /// <param name="logger">Where changes and what is not placed are logged.</param>
    /// <param name="defaultIface">Where a farm without <c>iface</c> runs (<c>userlb run --iface</c>); null: such farms are stored, not placed.</param>
    /// <param name="routes">The routing table farms without <c>iface</c> or <c>oface</c> are placed by (<see cref="RoutesChangedAsync"/>); null: none.</param>
    /// <param name="objects">The API's objects to start from (a configuration file's, farms stored without a virtual
    /// address included); null: <paramref name="config"/>'s.</param>
    public ControlPlane(LiveForwarder forwarder, LoadBalancerConfig config, IReadOnlyList<string> portNames, HealthMonitor? health, ILogger logger, string? defaultIface = null,
        Func<IO.Routes.RouteTable?>? routes = null, NftlbState? objects = null)
    {
        ArgumentNullException.ThrowIfNull(forwarder);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(portNames);
        ArgumentNullException.ThrowIfNull(logger);
        Forwarder = forwarder;
        _config = config;
        PortNames = portNames;
        Health = health;
        _log = logger;
        _objects = objects ?? NftlbState.From(config);
        _projection = new NftlbProjection(portNames, defaultIface, routes);
    }

    public LiveForwarder Forwarder { get; }

    /// <summary>The running configuration (the last one applied).</summary>
    public LoadBalancerConfig Config => Volatile.Read(ref _config);

    /// <summary>Stable ids of farms and backends (conntrack entries and counters refer to them).</summary>
    public IdRegistry Ids { get; } = new();

    /// <summary>Checks backends' health; null when not running (tests).</summary>
    public HealthMonitor? Health { get; }

    /// <summary>The interfaces the forwarder owns, by port index; farms may only name these.</summary>
    public IReadOnlyList<string> PortNames { get; }

    /// <summary>Generation of the snapshot in the engine (1 after <see cref="StartAsync"/>, +1 per change).</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Rebuilds the snapshot of the running configuration (e.g. after a health change).</summary>
    public async Task RefreshAsync()
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            await ApplyLockedAsync(Config).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Destroys the tracked connections of one backend (as <c>conntrack -D -m MARK</c>); returns how many.</summary>
    public Task<int> FlushBackendAsync(string farm, string backend)
    {
        int id = Ids.BackendId(farm, backend);
        return SumAsync(Forwarder.InvokeAllAsync((engine, now) => FlushBackend(engine, id, now)));
    }

    /// <summary>The sum of the workers' results (connections flushed, deleted, counted).</summary>
    public static async Task<int> SumAsync(Task<int[]> perWorker)
    {
        ArgumentNullException.ThrowIfNull(perWorker);
        int n = 0;
        foreach (int x in await perWorker.ConfigureAwait(false)) n += x;
        return n;
    }

    /// <summary>Destroys the tracked connections of one farm; returns how many.</summary>
    public Task<int> FlushFarmAsync(string farm)
    {
        int id = Ids.FarmId(farm);
        return SumAsync(Forwarder.InvokeAllAsync((engine, now) =>
        {
            var table = engine.Table;
            int n = 0;
            for (int i = 0; i < table.HighWater; i++)
            {
                if (table[i].InUse && table[i].FarmId == id)
                {
                    table.Remove(i, now);
                    n++;
                }
            }
            return n;
        }));
    }

    /// <summary>The clients the engines learned for <paramref name="farm"/>'s persistence (nftlb's timed sessions): one table,
    /// shared by the workers' engines (or worker 0's own), read on worker 0's thread under its lock.</summary>
    public Task<IReadOnlyList<LearnedSession>> LearnedSessionsAsync(FarmConfig farm)
    {
        ArgumentNullException.ThrowIfNull(farm);
        int farmId = Ids.FarmId(farm.Name);
        var fields = farm.Persistence;
        return Forwarder.InvokeAsync<IReadOnlyList<LearnedSession>>((engine, now) =>
        {
            var result = new List<LearnedSession>();
            if (fields == HashFields.None) return result;
            var entries = new List<PersistedClient>();
            engine.WithSourceTables((persistence, _) =>
            {
                persistence.Collect(farmId, now, entries);
                return true;
            });
            var snapshot = engine.Snapshot;
            foreach (var e in entries)
            {
                long seconds = (e.ExpiresNs - now + 999_999_999) / 1_000_000_000;
                result.Add(new LearnedSession(ClientKey(e.Client, fields), snapshot.Backend(e.BackendId)?.Name ?? "", seconds));
            }
            return result;
        });
    }

    /// <summary>
    /// Forgets learned persistence entries of <paramref name="farm"/>: the one of <paramref name="client"/> (as
    /// <see cref="LearnedSessionsAsync"/> names it), those on <paramref name="backend"/>, or all; returns how many went.
    /// </summary>
    public Task<int> ForgetSessionsAsync(FarmConfig farm, string? client = null, string? backend = null)
    {
        ArgumentNullException.ThrowIfNull(farm);
        int farmId = Ids.FarmId(farm.Name);
        int backendId = backend is null ? -1 : Ids.BackendId(farm.Name, backend);
        var fields = farm.Persistence;
        return Forwarder.InvokeAsync((engine, now) =>
        {
            if (fields == HashFields.None) return 0;
            return engine.WithSourceTables((persistence, _) =>
            {
                var entries = new List<PersistedClient>();
                persistence.Collect(farmId, now, entries);
                int n = 0;
                foreach (var e in entries)
                {
                    bool match = (client is null || ClientKey(e.Client, fields) == client) && (backend is null || e.BackendId == backendId);
                    if (match && persistence.Remove(farmId, e.Client, fields)) n++;
                }
                return n;
            });
        });
    }

    /// <summary>A client as nftlb names it in sessions: the persistence fields joined by " . " (srcip dstip srcport dstport srcmac dstmac).</summary>
    public static string ClientKey(in SchedInput client, HashFields fields)
    {
        var parts = new List<string>(2);
        if ((fields & HashFields.SrcIp) != 0) parts.Add(client.Src.ToString());
        if ((fields & HashFields.DstIp) != 0) parts.Add(client.Dst.ToString());
        if ((fields & HashFields.SrcPort) != 0) parts.Add(client.SrcPort.ToString(CultureInfo.InvariantCulture));
        if ((fields & HashFields.DstPort) != 0) parts.Add(client.DstPort.ToString(CultureInfo.InvariantCulture));
        if ((fields & HashFields.SrcMac) != 0) parts.Add(client.SrcMac.ToString());
        if ((fields & HashFields.DstMac) != 0) parts.Add(client.DstMac.ToString());
        return string.Join(" . ", parts);
    }

    /// <summary>The health monitor's handler: marks the backend down or up in a new snapshot and flushes if asked.</summary>
    public async Task OnHealthChangeAsync(HealthChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        await RefreshAsync().ConfigureAwait(false);
        if (!change.Healthy && change.Flush)
        {
            int n = await FlushBackendAsync(change.Farm, change.Backend).ConfigureAwait(false);
            Log.Flushed(_log, change.Farm, change.Backend, n);
        }
    }

    private IReadOnlySet<string>? _appliedUnhealthy; // the monitor's unhealthy set the engines' snapshot was built with

    /// <summary>What a backend's health is: "up", "down" (failing its check) or "none" (not checked).</summary>
    public string HealthOf(string farm, string backend)
    {
        if (Health is null) return "none";
        string key = farm + "/" + backend;
        // The health the engines run with: a backend shows down once no new connection can reach it.
        if ((Volatile.Read(ref _appliedUnhealthy) ?? Health.Unhealthy).Contains(key)) return "down";
        foreach (var t in Health.Targets)
            if (t.Key == key) return "up";
        return "none";
    }

    /// <summary>The backend's health-check status when it has a check ("up" or "down"); null when it has none.</summary>
    public string? HealthIfChecked(string farm, string backend) => HealthOf(farm, backend) is "none" ? null : HealthOf(farm, backend);

    public void Dispose() => _lock.Dispose();

    private async Task ApplyLockedAsync(LoadBalancerConfig next)
    {
        long generation = Generation + 1;
        var unhealthy = Health?.Unhealthy;
        await SwapLockedAsync(EngineSnapshot.Build(next, Ids, unhealthy, generation)).ConfigureAwait(false);
        Volatile.Write(ref _appliedUnhealthy, unhealthy);
        Volatile.Write(ref _config, next);
        Interlocked.Exchange(ref _generation, generation);
        Log.Applied(_log, generation, next.Farms.Length);
    }

    /// <summary>A change of policies alone (elements added or removed): the running snapshot's farms, backends and
    /// schedulers are kept, only the policies are compiled anew and swapped in; connections are not touched.</summary>
    private async Task ApplyPoliciesLockedAsync(LoadBalancerConfig next)
    {
        long generation = Generation + 1;
        await SwapLockedAsync((_snapshot ?? EngineSnapshot.Build(next, Ids, Health?.Unhealthy, generation)).WithPolicies(next, Ids, generation)).ConfigureAwait(false);
        Volatile.Write(ref _config, next);
        Interlocked.Exchange(ref _generation, generation);
        Log.PoliciesApplied(_log, generation, next.Policies.Length);
    }

    private EngineSnapshot? _snapshot; // the snapshot the engines run

    private async Task SwapLockedAsync(EngineSnapshot snapshot)
    {
        await Forwarder.InvokeAllAsync((engine, _) =>
        {
            engine.Apply(snapshot);
            return true;
        }).ConfigureAwait(false);
        _snapshot = snapshot;
    }

    /// <summary>Every worker's counters summed (taken on each worker's thread).</summary>
    public async Task<EngineCounters> CountersAsync()
    {
        var sum = new EngineCounters();
        foreach (var c in await Forwarder.InvokeAllAsync((engine, _) => engine.Counters.Clone()).ConfigureAwait(false)) sum.Add(c);
        return sum;
    }

    private static int FlushBackend(PacketEngine engine, int backendId, long now)
    {
        var table = engine.Table;
        int n = 0;
        for (int i = 0; i < table.HighWater; i++)
        {
            if (table[i].InUse && table[i].BackendId == backendId)
            {
                table.Remove(i, now);
                n++;
            }
        }
        return n;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "configuration applied: generation {Generation}, {Farms} farm(s)")]
        public static partial void Applied(ILogger logger, long generation, int farms);

        [LoggerMessage(EventId = 206, Level = LogLevel.Information, Message = "policies applied: generation {Generation}, {Policies} polic(ies), farms kept")]
        public static partial void PoliciesApplied(ILogger logger, long generation, int policies);

        [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "health: farm {Farm} backend {Backend}: {Count} connection(s) flushed")]
        public static partial void Flushed(ILogger logger, string farm, string backend, int count);
    }
}

/// <summary>A learned persistence session: the client key, its backend, seconds until it expires.</summary>
internal sealed record LearnedSession(string Client, string Backend, long ExpiresInSeconds);
