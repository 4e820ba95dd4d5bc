using System.Collections.Immutable;

namespace UserLB.Engine.Config;

/// <summary>A whole configuration document: <c>{"policies": [ ... ], "farms": [ ... ]}</c>. Equality is by value.</summary>
public sealed record LoadBalancerConfig
{
    /// <summary>No farms.</summary>
    public static LoadBalancerConfig Empty { get; } = new();

    /// <summary>The farms, in configuration order; names are unique.</summary>
    public ImmutableArray<FarmConfig> Farms { get; init; } = ImmutableArray<FarmConfig>.Empty;

    /// <summary>nftlb's policies (blacklists and whitelists) that farms name, in configuration order; names are unique.</summary>
    public ImmutableArray<PolicyConfig> Policies { get; init; } = ImmutableArray<PolicyConfig>.Empty;

    /// <summary>The policy named <paramref name="name"/>, or null.</summary>
    public PolicyConfig? FindPolicy(string name)
    {
        foreach (var p in Policies)
            if (string.Equals(p.Name, name, StringComparison.Ordinal)) return p;
        return null;
    }

    /// <summary>The farm named <paramref name="name"/>, or null.</summary>
    public FarmConfig? FindFarm(string name)
    {
        foreach (var f in Farms)
        {
            if (string.Equals(f.Name, name, StringComparison.Ordinal))
            {
                return f;
            }
        }

        return null;
    }

    /// <inheritdoc/>
    public bool Equals(LoadBalancerConfig? other) =>
        other is not null && (ReferenceEquals(this, other)
            || (ConfigEquality.SequenceEqual(Farms, other.Farms) && ConfigEquality.SequenceEqual(Policies, other.Policies)));

    /// <inheritdoc/>
    public override int GetHashCode() => ConfigEquality.SequenceHash(Farms);
}
