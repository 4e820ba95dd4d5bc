using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using UserLB.Engine.Config;

namespace UserLB.IO.Health;

/// <summary>A backend's health changed. <see cref="Flush"/>: its check asks for its connections to be destroyed.</summary>
public sealed record HealthChange(string Farm, string Backend, bool Healthy, bool Flush, string Detail)
{
    public string Key => Farm + "/" + Backend;
}

/// <summary>
/// Probes the backends of a configuration (those of farms that are up, whose state is up and which have a health check,
/// their own or their farm's) each at its interval, with its timeout; marks one down after <c>fall</c> consecutive failures
/// and up again after <c>rise</c> consecutive successes, as HAProxy and farmguardian do. Backends start healthy. State
/// changes are logged and handed to <see cref="OnChange"/> (which rebuilds the engine's snapshot with
/// <see cref="Unhealthy"/>, so priority levels rise as in nftlb, and flushes connections when asked). Time is injected.
/// </summary>
public sealed partial class HealthMonitor
{
    private readonly IHealthProbe _probe;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _lock = new();
    private Dictionary<string, TargetState> _targets = new(StringComparer.Ordinal);
    private LoadBalancerConfig? _config;

    public HealthMonitor(IHealthProbe probe, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _probe = probe;
        _time = time;
        _log = logger;
    }

    /// <summary>Called after each change of a backend's health, one at a time, in order.</summary>
    public Func<HealthChange, Task>? OnChange { get; set; }

    /// <summary>Where <see cref="RunAsync"/> reads the running configuration before each round (a new instance = reconfigure).</summary>
    public Func<LoadBalancerConfig>? ConfigSource { get; set; }

    /// <summary>Backends failing their checks, as "farm/backend".</summary>
    public IReadOnlySet<string> Unhealthy
    {
        get
        {
            lock (_lock)
            {
                var set = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
                foreach (var t in _targets.Values)
                    if (!t.Healthy) set.Add(t.Target.Key);
                return set.ToImmutable();
            }
        }
    }

    /// <summary>The backends being checked.</summary>
    public IReadOnlyList<HealthTarget> Targets
    {
        get
        {
            lock (_lock) return [.. _targets.Values.Select(t => t.Target)];
        }
    }

    /// <summary>
    /// Takes a configuration: new checks start healthy and are probed at once; a backend whose target (address, port,
    /// check) is unchanged keeps its state; one no longer checked that was down is reported up (nothing marks it down).
    /// </summary>
    public async Task ConfigureAsync(LoadBalancerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var released = new List<HealthChange>();
        lock (_lock)
        {
            _config = config;
            var next = new Dictionary<string, TargetState>(StringComparer.Ordinal);
            var now = _time.GetUtcNow();
            foreach (var f in config.Farms)
            {
                if (f.State != ObjectState.Up) continue;
                foreach (var b in f.Backends)
                {
                    if (b.State != ObjectState.Up) continue;
                    var check = HealthCheckConfig.Effective(f, b);
                    if (check is null) continue;
                    var target = new HealthTarget(f.Name, b.Name, b.Address, check.Type == HealthCheckType.Icmp ? (ushort)0 : check.ProbePort(f, b), check);
                    next[target.Key] = _targets.TryGetValue(target.Key, out var old) && old.Target == target
                        ? old
                        : new TargetState(target) { Due = now };
                }
            }
            foreach (var (key, old) in _targets)
            {
                if (!old.Healthy && (!next.TryGetValue(key, out var kept) || !ReferenceEquals(kept, old)))
                    released.Add(new HealthChange(old.Target.Farm, old.Target.Backend, true, false, "no longer checked"));
            }
            _targets = next;
        }
        foreach (var change in released) await ReportAsync(change).ConfigureAwait(false);
    }

    /// <summary>How long until the next probe is due (zero if one is due now; one second when nothing is checked).</summary>
    public TimeSpan UntilNextDue()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var next = TimeSpan.FromSeconds(1);
            foreach (var t in _targets.Values)
            {
                if (t.InFlight) continue;
                var d = t.Due - now;
                if (d < next) next = d < TimeSpan.Zero ? TimeSpan.Zero : d;
            }
            return next;
        }
    }

    /// <summary>Probes every backend that is due (concurrently, each within its timeout) and applies the results. Returns how many were probed.</summary>
    public async Task<int> CheckDueAsync(CancellationToken cancellationToken = default)
    {
        var due = new List<TargetState>();
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            foreach (var t in _targets.Values)
            {
                if (t.InFlight || t.Due > now) continue;
                t.InFlight = true;
                t.Due = now + t.Target.Check.Interval;
                due.Add(t);
            }
        }
        if (due.Count == 0) return 0;
        var results = await Task.WhenAll(due.Select(t => ProbeOneAsync(t.Target, cancellationToken))).ConfigureAwait(false);
        var changes = new List<HealthChange>();
        lock (_lock)
        {
            for (int i = 0; i < due.Count; i++)
            {
                var t = due[i];
                t.InFlight = false;
                if (cancellationToken.IsCancellationRequested) continue; // stopping: an interrupted probe says nothing
                if (!_targets.TryGetValue(t.Target.Key, out var current) || !ReferenceEquals(current, t)) continue; // reconfigured meanwhile
                if (t.Record(results[i]) is { } change) changes.Add(change);
            }
        }
        foreach (var change in changes) await ReportAsync(change).ConfigureAwait(false);
        return due.Count;
    }

    /// <summary>Probes until cancelled, picking up configuration changes from <see cref="ConfigSource"/>.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            if (ConfigSource?.Invoke() is { } config && !ReferenceEquals(config, Volatile.Read(ref _config)))
                await ConfigureAsync(config).ConfigureAwait(false);
            await CheckDueAsync(cancellationToken).ConfigureAwait(false);
            var wait = UntilNextDue();
            if (wait < TimeSpan.FromMilliseconds(10)) wait = TimeSpan.FromMilliseconds(10);
            if (wait > TimeSpan.FromSeconds(1)) wait = TimeSpan.FromSeconds(1);
            try
            {
                await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task<ProbeResult> ProbeOneAsync(HealthTarget target, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(target.Check.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            var probe = _probe.ProbeAsync(target, linked.Token);
            // A probe that ignores its token still ends at the timeout.
            var done = await Task.WhenAny(probe, Task.Delay(Timeout.InfiniteTimeSpan, linked.Token)).ConfigureAwait(false);
            if (done == probe) return await probe.ConfigureAwait(false);
            _ = probe.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return ProbeResult.Fail("timeout after " + HealthCheckConfig.PrintSeconds(target.Check.Timeout) + " s");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ProbeResult.Fail("timeout after " + HealthCheckConfig.PrintSeconds(target.Check.Timeout) + " s");
        }
#pragma warning disable CA1031 // a probe that throws is a failed probe, not a crashed monitor
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            return ProbeResult.Fail(ex.GetType().Name + ": " + ex.Message);
        }
    }

    private async Task ReportAsync(HealthChange change)
    {
        // Applied first, logged after: a line that says DOWN (or UP) describes what the engine does from then on.
        await ApplyAsync(change).ConfigureAwait(false);
        if (change.Healthy) Log.BackendUp(_log, change.Farm, change.Backend, change.Detail);
        else Log.BackendDown(_log, change.Farm, change.Backend, change.Detail, change.Flush);
    }

    private async Task ApplyAsync(HealthChange change)
    {
        if (OnChange is { } handler)
        {
            try
            {
                await handler(change).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // the monitor keeps running; the failure is logged
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.ApplyFailed(_log, change.Farm, change.Backend, ex.Message);
            }
        }
    }

    private sealed class TargetState(HealthTarget target)
    {
        public HealthTarget Target { get; } = target;
        public bool Healthy { get; private set; } = true;
        public int Failures { get; private set; }
        public int Successes { get; private set; }
        public DateTimeOffset Due { get; set; }
        public bool InFlight { get; set; }

        /// <summary>Counts a result; returns the change when the backend crosses fall or rise.</summary>
        public HealthChange? Record(ProbeResult result)
        {
            var check = Target.Check;
            if (result.Ok)
            {
                Failures = 0;
                if (Healthy) return null;
                if (++Successes < check.Rise) return null;
                Successes = 0;
                Healthy = true;
                return new HealthChange(Target.Farm, Target.Backend, true, false,
                    $"{check.Rise} consecutive {TypeName(check)} check(s) passed");
            }
            Successes = 0;
            if (!Healthy) return null;
            if (++Failures < check.Fall) return null;
            Failures = 0;
            Healthy = false;
            return new HealthChange(Target.Farm, Target.Backend, false, check.Flush,
                $"{check.Fall} consecutive {TypeName(check)} check(s) failed, last: {result.Detail}");
        }

        private static string TypeName(HealthCheckConfig c) => c.Type.ToString().ToLowerInvariant();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "health: farm {Farm} backend {Backend} is DOWN ({Detail}){FlushNote}")]
        private static partial void BackendDownCore(ILogger logger, string farm, string backend, string detail, string flushNote);

        public static void BackendDown(ILogger logger, string farm, string backend, string detail, bool flush) =>
            BackendDownCore(logger, farm, backend, detail, flush ? "; flushing its connections" : "");

        [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "health: farm {Farm} backend {Backend} is UP ({Detail})")]
        public static partial void BackendUp(ILogger logger, string farm, string backend, string detail);

        [LoggerMessage(EventId = 102, Level = LogLevel.Error, Message = "health: applying the change of farm {Farm} backend {Backend} failed: {Error}")]
        public static partial void ApplyFailed(ILogger logger, string farm, string backend, string error);
    }
}
