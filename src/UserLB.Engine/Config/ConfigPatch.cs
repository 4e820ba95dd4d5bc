using System.Collections.Immutable;

namespace UserLB.Engine.Config;

/// <summary>
/// A validated partial configuration document, as produced by <see cref="ConfigParser.ParsePatch"/>:
/// the farms, backends and sessions it names and, for each, the keys it sets. Apply it with
/// <see cref="ConfigParser.Apply"/>.
/// </summary>
public sealed class ConfigPatch
{
    internal ConfigPatch(ImmutableArray<FarmPatch> farms, ImmutableArray<PolicyConfig> policies)
    {
        Farms = farms;
        Policies = policies;
    }

    /// <summary>The policies named by the document: each replaces the policy of its name (or is added).</summary>
    public ImmutableArray<PolicyConfig> Policies { get; }

    /// <summary>The farms named by the document, in document order (names are unique).</summary>
    public ImmutableArray<FarmPatch> Farms { get; }

    /// <summary>Whether the patch names no farm at all.</summary>
    public bool IsEmpty => Farms.IsEmpty && Policies.IsEmpty;
}

/// <summary>The part of a <see cref="ConfigPatch"/> about one farm.</summary>
public sealed class FarmPatch
{
    internal FarmPatch(
        string name,
        int index,
        ConfigAction? action,
        ImmutableArray<string> keys,
        ImmutableArray<Action<FarmDraft>> setters,
        ImmutableArray<BackendPatch> backends,
        ImmutableArray<SessionPatch> sessions)
    {
        Name = name;
        Index = index;
        Action = action;
        Keys = keys;
        Setters = setters;
        Backends = backends;
        Sessions = sessions;
    }

    /// <summary>The farm's name.</summary>
    public string Name { get; }

    /// <summary>The <c>action</c> key, if given. <see cref="ConfigAction.Delete"/> removes the farm; the others
    /// do not change the configuration and are left for the caller to act on.</summary>
    public ConfigAction? Action { get; }

    /// <summary>The farm keys the document sets (without <c>name</c>, <c>action</c>, <c>backends</c>, <c>sessions</c>), in document order.</summary>
    public ImmutableArray<string> Keys { get; }

    /// <summary>The backends named in the farm's <c>backends</c>.</summary>
    public ImmutableArray<BackendPatch> Backends { get; }

    /// <summary>The sessions named in the farm's <c>sessions</c>.</summary>
    public ImmutableArray<SessionPatch> Sessions { get; }

    internal int Index { get; }

    internal ImmutableArray<Action<FarmDraft>> Setters { get; }
}

/// <summary>The part of a <see cref="FarmPatch"/> about one backend.</summary>
public sealed class BackendPatch
{
    internal BackendPatch(string name, int index, ConfigAction? action, ImmutableArray<string> keys, ImmutableArray<Action<BackendDraft>> setters)
    {
        Name = name;
        Index = index;
        Action = action;
        Keys = keys;
        Setters = setters;
    }

    /// <summary>The backend's name.</summary>
    public string Name { get; }

    /// <summary>The <c>action</c> key, if given; <see cref="ConfigAction.Delete"/> removes the backend.</summary>
    public ConfigAction? Action { get; }

    /// <summary>The backend keys the document sets (without <c>name</c> and <c>action</c>), in document order.</summary>
    public ImmutableArray<string> Keys { get; }

    internal int Index { get; }

    internal ImmutableArray<Action<BackendDraft>> Setters { get; }
}

/// <summary>The part of a <see cref="FarmPatch"/> about one static session.</summary>
/// <param name="Client">The session's <c>client</c> key.</param>
/// <param name="Backend">The <c>backend</c> it is pinned to, if given.</param>
/// <param name="Action">The <c>action</c> key, if given; <see cref="ConfigAction.Delete"/> removes the session.</param>
public sealed record SessionPatch(string Client, string? Backend, ConfigAction? Action);
