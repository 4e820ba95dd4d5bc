using Microsoft.Extensions.Logging;
using UserLB.Cli.Api.Nftlb;
using UserLB.Engine.Config;
using UserLB.Packets;

namespace UserLB.Cli.Api;

/// <summary>
/// Farms placed by route (<see cref="RoutePlacement"/>) follow the routing table: after a change every farm is placed
/// again, those whose interfaces changed are rebuilt and swapped into the engines (their backends' neighbour entries
/// forgotten, to be resolved on the new interface), and the log says once per change which farm moved, which can no
/// longer be placed (and why) and which is placed again.
/// </summary>
internal sealed partial class ControlPlane
{
    /// <summary>Places every farm again by the routing table as it is now (the route watcher calls it after a change).</summary>
    public async Task RoutesChangedAsync()
    {
        var before = Placements(Config, Unplaced);
        await ChangeAsync((_, _) => { }).ConfigureAwait(false);
        var after = Placements(Config, Unplaced);
        var moved = new List<IpAddr>();
        foreach (var (farm, now) in after)
        {
            if (!before.TryGetValue(farm, out var was) || was == now || now.StartsWith('!')) continue; // unplaced: said by Report
            if (was.StartsWith('!')) Log.PlacedAgain(_log, farm, now);
            else Log.Moved(_log, farm, was, now);
            foreach (var b in Config.FindFarm(farm)?.Backends ?? []) moved.Add(IpAddr.FromIPAddress(b.Address));
        }
        // The engines learned the backends' MACs on the interfaces the farms left: resolve them again where they are now.
        if (moved.Count > 0) await Forwarder.InvokeAllAsync((engine, _) => moved.Count(engine.Neighbors.Forget)).ConfigureAwait(false);
    }

    /// <summary>Each stored farm's interfaces ("iface lbc, oface lbs"), or "!" and why it is not placed.</summary>
    private static Dictionary<string, string> Placements(LoadBalancerConfig config, IReadOnlyDictionary<string, string> unplaced)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in config.Farms) result[f.Name] = $"iface {f.Iface}, oface {f.Oface ?? f.Iface}";
        foreach (var (farm, why) in unplaced) result[farm] = "!" + why;
        return result;
    }

    /// <summary>Forgets that the log said why a farm that is now placed was not, so that it says so again next time.</summary>
    private void ForgetUnplacedReports(NftlbPlacement placement)
    {
        foreach (var f in placement.Config.Farms)
            _reported.RemoveWhere(r => r.StartsWith("unplaced " + f.Name + ": ", StringComparison.Ordinal));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "routes changed: farm {Farm} moved from {Before} to {After}")]
        public static partial void Moved(ILogger logger, string farm, string before, string after);

        [LoggerMessage(EventId = 205, Level = LogLevel.Information, Message = "routes changed: farm {Farm} is placed again ({Placement})")]
        public static partial void PlacedAgain(ILogger logger, string farm, string placement);
    }
}
