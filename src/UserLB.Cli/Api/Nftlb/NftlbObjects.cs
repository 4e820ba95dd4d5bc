using UserLB.Engine.Config;

namespace UserLB.Cli.Api.Nftlb;

/// <summary>
/// An nftlb object's scalar keys: the values as nftlb prints them (normalized strings), only those that were set;
/// a key not set prints its default (<see cref="NftlbKeys"/>).
/// </summary>
internal class NftlbObject
{
    public NftlbObject(string name) => Name = name;

    public string Name { get; set; }

    /// <summary>Set keys and their printed values.</summary>
    public Dictionary<string, string> Values { get; private init; } = new(StringComparer.Ordinal);

    /// <summary>UserLB's own keys (not nftlb's), kept as their JSON text for the engine's configuration.</summary>
    public Dictionary<string, string> Extensions { get; private init; } = new(StringComparer.Ordinal);

    /// <summary>The value of <paramref name="key"/>, or <paramref name="fallback"/> when it was never set.</summary>
    public string Get(string key, string fallback = "") => Values.TryGetValue(key, out var v) ? v : fallback;

    protected T CopyTo<T>(T copy) where T : NftlbObject
    {
        foreach (var (k, v) in Values) copy.Values[k] = v;
        foreach (var (k, v) in Extensions) copy.Extensions[k] = v;
        return copy;
    }
}

/// <summary>An nftlb farm: its keys, its addresses and policies (by name), its backends and static sessions.</summary>
internal sealed class NftlbFarm(string name) : NftlbObject(name)
{
    public List<string> Addresses { get; } = [];
    public List<NftlbBackend> Backends { get; } = [];
    public List<string> Policies { get; } = [];
    public List<NftlbSession> Sessions { get; } = [];

    /// <summary>The address object nftlb keeps for the farm's own <c>virtual-addr</c>.</summary>
    public string OwnAddressName => Name + "-addr";

    public NftlbBackend? Backend(string name) => Backends.Find(b => b.Name == name);

    /// <summary>
    /// The priority the farm runs at, as nftlb shows it (whatever priority the farm was given): 1, raised by one for each
    /// backend out of service (not up) whose priority it reaches, until stable. Backends above it stand by ("available").
    /// </summary>
    public int EffectivePriority()
    {
        const int start = 1;
        int current = start;
        while (true)
        {
            int next = start;
            foreach (var b in Backends)
                if (b.Get("state", "up") != "up" && b.Priority <= current) next++;
            if (next == current) return current;
            current = next;
        }
    }

    public NftlbFarm Clone()
    {
        var c = CopyTo(new NftlbFarm(Name));
        c.Addresses.AddRange(Addresses);
        c.Policies.AddRange(Policies);
        c.Sessions.AddRange(Sessions);
        foreach (var b in Backends) c.Backends.Add(b.Clone());
        return c;
    }
}

/// <summary>A farm's backend.</summary>
internal sealed class NftlbBackend(string name) : NftlbObject(name)
{
    public int Priority => int.TryParse(Get("priority", "1"), System.Globalization.CultureInfo.InvariantCulture, out int p) ? p : 1;

    public NftlbBackend Clone() => CopyTo(new NftlbBackend(Name));
}

/// <summary>An address object (a virtual address, its ports and protocol), shared by the farms that name it.</summary>
internal sealed class NftlbAddress(string name) : NftlbObject(name)
{
    public List<string> Policies { get; } = [];

    /// <summary>The farm that created it (its <c>virtual-addr</c> or an inline address); it goes when that farm lets go of it.</summary>
    public string? Owner { get; set; }

    public NftlbAddress Clone()
    {
        var c = CopyTo(new NftlbAddress(Name));
        c.Policies.AddRange(Policies);
        c.Owner = Owner;
        return c;
    }
}

/// <summary>A blacklist or whitelist: a set of addresses, networks and ranges.</summary>
internal sealed class NftlbPolicy(string name) : NftlbObject(name)
{
    public List<PolicyElement> Elements { get; } = [];

    public NftlbPolicy Clone()
    {
        var c = CopyTo(new NftlbPolicy(Name));
        c.Elements.AddRange(Elements);
        return c;
    }
}

/// <summary>A static session: a client key (the persistence fields joined by " . ") stuck to a backend.</summary>
internal sealed record NftlbSession(string Client, string Backend);

/// <summary>Everything the API holds, in nftlb's terms: farms, addresses and policies, in creation order.</summary>
internal sealed class NftlbState
{
    public List<NftlbFarm> Farms { get; } = [];
    public List<NftlbAddress> Addresses { get; } = [];
    public List<NftlbPolicy> Policies { get; } = [];

    public NftlbFarm? Farm(string name) => Farms.Find(f => f.Name == name);
    public NftlbAddress? Address(string name) => Addresses.Find(a => a.Name == name);
    public NftlbPolicy? Policy(string name) => Policies.Find(p => p.Name == name);

    /// <summary>How many farms (and addresses, for a policy) refer to the object.</summary>
    public int AddressUsers(string name) => Farms.Count(f => f.Addresses.Contains(name));

    public int PolicyUsers(string name) =>
        Farms.Count(f => f.Policies.Contains(name)) + Addresses.Count(a => a.Policies.Contains(name));

    public NftlbState Clone()
    {
        var c = new NftlbState();
        foreach (var f in Farms) c.Farms.Add(f.Clone());
        foreach (var a in Addresses) c.Addresses.Add(a.Clone());
        foreach (var p in Policies) c.Policies.Add(p.Clone());
        return c;
    }

    /// <summary>The objects of a configuration the engine already runs (a configuration file's farms).</summary>
    public static NftlbState From(UserLB.Engine.Config.LoadBalancerConfig config)
    {
        var state = new NftlbState();
        using var doc = System.Text.Json.JsonDocument.Parse(UserLB.Engine.Config.ConfigParser.Serialize(config));
        NftlbRequest.Apply(state, doc.RootElement, new NftlbEffects());
        return state;
    }

    /// <summary>Drops the addresses their owner no longer refers to.</summary>
    public void ReleaseOwnedAddresses() =>
        Addresses.RemoveAll(a => a.Owner is { } owner && Farm(owner)?.Addresses.Contains(a.Name) != true);
}
