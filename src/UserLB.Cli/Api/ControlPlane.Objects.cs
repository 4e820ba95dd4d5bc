using Microsoft.Extensions.Logging;
using UserLB.Cli.Api.Nftlb;
using UserLB.Engine.Config;

namespace UserLB.Cli.Api;

/// <summary>
/// The API's objects (nftlb's farms, addresses, policies) and what the engine runs of them: every change is made on a
/// copy, placed (<see cref="NftlbProjection"/>), swapped into the engines, and only then published, so that a rejected
/// change leaves the objects and the engines as they were.
/// </summary>
internal sealed partial class ControlPlane
{
    private readonly NftlbProjection _projection;
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal); // what the log already said
    private NftlbState _objects;
    private IReadOnlyDictionary<string, string> _unplaced = new Dictionary<string, string>();

    /// <summary>The API's objects as last changed; never modified once published (changes work on a copy).</summary>
    public NftlbState Objects => Volatile.Read(ref _objects);

    /// <summary>Stored farms the engine does not run, with the reason.</summary>
    public IReadOnlyDictionary<string, string> Unplaced => Volatile.Read(ref _unplaced);

    /// <summary>Installs the initial objects.</summary>
    public Task StartAsync() => ChangeAsync((_, _) => { }, force: true);

    /// <summary>
    /// Applies <paramref name="change"/> to a copy of the objects, runs what can be placed and publishes the copy; then
    /// destroys the connections the change asked to flush. Returns the change's effects (warnings for the reply).
    /// </summary>
    /// <exception cref="NftlbException">The request is invalid; nothing changed.</exception>
    /// <exception cref="ConfigException">A farm's values cannot run in the engine; nothing changed.</exception>
    public async Task<NftlbEffects> ChangeAsync(Action<NftlbState, NftlbEffects> change, bool force = false)
    {
        ArgumentNullException.ThrowIfNull(change);
        var effects = new NftlbEffects();
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            var next = Objects.Clone();
            change(next, effects);
            var placement = _projection.Place(next);
            if (force || !SameFarms(placement.Config, Config)) await ApplyLockedAsync(placement.Config).ConfigureAwait(false);
            else if (!SamePolicies(placement.Config, Config)) await ApplyPoliciesLockedAsync(placement.Config).ConfigureAwait(false);
            _projection.Commit(placement);
            Volatile.Write(ref _objects, next);
            Volatile.Write(ref _unplaced, placement.Unplaced);
            Report(placement);
        }
        finally
        {
            _lock.Release();
        }
        foreach (var farm in effects.FlushFarms)
            if (Config.FindFarm(farm) is not null) await FlushFarmAsync(farm).ConfigureAwait(false);
        foreach (var (farm, backend) in effects.FlushBackends)
            if (Config.FindFarm(farm) is not null) await FlushBackendAsync(farm, backend).ConfigureAwait(false);
        return effects;
    }

    private static bool SameFarms(LoadBalancerConfig a, LoadBalancerConfig b)
    {
        if (a.Farms.Length != b.Farms.Length) return false;
        for (int i = 0; i < a.Farms.Length; i++)
            if (!ReferenceEquals(a.Farms[i], b.Farms[i])) return false;
        return true;
    }

    private static bool SamePolicies(LoadBalancerConfig a, LoadBalancerConfig b)
    {
        if (a.Policies.Length != b.Policies.Length) return false;
        for (int i = 0; i < a.Policies.Length; i++)
            if (!ReferenceEquals(a.Policies[i], b.Policies[i])) return false;
        return true;
    }

    /// <summary>Logs, once each, the farms stored but not placed and what is stored but not enforced.</summary>
    private void Report(NftlbPlacement placement)
    {
        foreach (var (farm, reason) in placement.Unplaced)
            if (_reported.Add("unplaced " + farm + ": " + reason)) Log.Unplaced(_log, farm, reason);
        ForgetUnplacedReports(placement); // a farm placed again is reported again when it next cannot be
        foreach (var what in placement.NotEnforced)
            if (_reported.Add("not enforced " + what)) Log.NotEnforced(_log, what);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "farm {Farm} is stored but not placed (the engine does not run it): {Reason}")]
        public static partial void Unplaced(ILogger logger, string farm, string reason);

        [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "stored but not enforced: {What}")]
        public static partial void NotEnforced(ILogger logger, string what);
    }
}
