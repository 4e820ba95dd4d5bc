using UserLB.Cli.Api.Nftlb;

namespace UserLB.Cli.Api;

/// <summary>Replacing every object at once: <c>userlb run</c>'s configuration file read again (SIGHUP).</summary>
internal sealed partial class ControlPlane
{
    /// <summary>
    /// Makes <paramref name="file"/>'s objects the only ones, through the same path as an API change (<see cref="ChangeAsync"/>):
    /// farms not in it go, farms whose text did not change keep their engine configuration and connections, and a
    /// rejected state changes nothing.
    /// </summary>
    /// <exception cref="NftlbException">The objects are invalid; nothing changed.</exception>
    /// <exception cref="UserLB.Engine.Config.ConfigException">A farm cannot run in the engine; nothing changed.</exception>
    public Task<NftlbEffects> ReplaceAsync(NftlbState file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return ChangeAsync((s, _) =>
        {
            var copy = file.Clone();
            s.Farms.Clear();
            s.Farms.AddRange(copy.Farms);
            s.Addresses.Clear();
            s.Addresses.AddRange(copy.Addresses);
            s.Policies.Clear();
            s.Policies.AddRange(copy.Policies);
        });
    }
}
