using System.Collections.Immutable;

namespace UserLB.Engine.Config;

/// <summary>nftlb policy <c>type</c>.</summary>
public enum PolicyType
{
    /// <summary><c>blacklist</c>: a listed source's packets are dropped (when the farm's <c>verdict</c> has drop).</summary>
    Blacklist,

    /// <summary><c>whitelist</c>: a listed source's packets are accepted past the farm's later policies (when the
    /// farm's <c>verdict</c> has accept); other sources go on to them, as nftlb's ruleset does.</summary>
    Whitelist,
}

/// <summary>
/// An nftlb policy (<c>policies</c> at the top of a document): a named set of source addresses, networks and ranges
/// that farms name in their own <c>policies</c> list. Immutable; equality is by value.
/// </summary>
public sealed record PolicyConfig
{
    private readonly ImmutableArray<PolicyElement> elements = ImmutableArray<PolicyElement>.Empty;

    /// <summary><c>name</c>: unique within the configuration.</summary>
    public required string Name { get; init; }

    /// <summary><c>type</c> (default blacklist).</summary>
    public PolicyType Type { get; init; }

    /// <summary><c>family</c> (default ipv4): the family of the set nftlb makes; elements of either family match.</summary>
    public AddressFamilyKind Family { get; init; } = AddressFamilyKind.Ipv4;

    /// <summary><c>timeout</c> in seconds (default 0: elements do not expire).</summary>
    public int TimeoutSeconds { get; init; }

    /// <summary><c>priority</c> (default 1): kept and written back; a farm evaluates its policies in its own list's order.</summary>
    public int Priority { get; init; } = 1;

    /// <summary><c>route</c> (default in): nftlb's direction of the check; the engine checks the client's direction.</summary>
    public string Route { get; init; } = "in";

    /// <summary><c>log-prefix</c>, or null.</summary>
    public string? LogPrefix { get; init; }

    /// <summary><c>elements</c>, in address order, none covering another (<see cref="PolicyElement.AddTo"/>).</summary>
    public ImmutableArray<PolicyElement> Elements
    {
        get => elements;
        init => elements = value.IsDefault ? ImmutableArray<PolicyElement>.Empty : value;
    }

    /// <inheritdoc/>
    public bool Equals(PolicyConfig? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || (Name == other.Name && Type == other.Type && Family == other.Family && TimeoutSeconds == other.TimeoutSeconds
                && Priority == other.Priority && Route == other.Route && LogPrefix == other.LogPrefix
                && ConfigEquality.SequenceEqual(Elements, other.Elements)));

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Name, Type, Family, TimeoutSeconds, ConfigEquality.SequenceHash(Elements));
}
