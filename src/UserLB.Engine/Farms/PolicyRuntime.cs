using System.Runtime.CompilerServices;
using UserLB.Engine.Config;
using UserLB.Packets;

namespace UserLB.Engine.Farms;

/// <summary>
/// A policy as the data path sees it: its elements compiled, off the packet path, into sorted disjoint intervals per
/// family (IPv4 as <see cref="uint"/>, IPv6 as <see cref="UInt128"/>) searched by bisection; each interval names the
/// element it came from, whose counters it feeds. Immutable, part of one snapshot; a change builds a new one.
/// </summary>
public sealed class PolicyRuntime
{
    private readonly uint[] _v4First, _v4Last;
    private readonly int[] _v4Element;
    private readonly UInt128[] _v6First, _v6Last;
    private readonly int[] _v6Element;

    private PolicyRuntime(PolicyConfig config, int[] counterIds, (uint[], uint[], int[]) v4, (UInt128[], UInt128[], int[]) v6)
    {
        Config = config;
        CounterIds = counterIds;
        (_v4First, _v4Last, _v4Element) = v4;
        (_v6First, _v6Last, _v6Element) = v6;
    }

    public PolicyConfig Config { get; }
    public string Name => Config.Name;
    public bool IsBlacklist => Config.Type == PolicyType.Blacklist;
    /// <summary>Per element (in <see cref="PolicyConfig.Elements"/> order): its counters' slot in <see cref="EngineCounters.PolicyElements"/>.</summary>
    public int[] CounterIds { get; }

    /// <summary>The element that holds <paramref name="source"/> (its index in <see cref="PolicyConfig.Elements"/>), or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Find(IpAddr source) => source.IsV4
        ? Find(_v4First, _v4Last, _v4Element, source.V4)
        : Find(_v6First, _v6Last, _v6Element, ((UInt128)source.Hi << 64) | source.Lo);

    private static int Find<T>(T[] first, T[] last, int[] element, T value) where T : struct, IComparable<T>
    {
        // The last interval that starts at or before the value; it holds the value when it ends at or after it.
        int lo = 0, hi = first.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            if (first[mid].CompareTo(value) <= 0)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return found >= 0 && last[found].CompareTo(value) >= 0 ? element[found] : -1;
    }

    /// <summary>Compiles <paramref name="config"/>; element counters get their slots from <paramref name="ids"/>
    /// (<paramref name="fresh"/>, when given, collects those given out now).</summary>
    public static PolicyRuntime Build(PolicyConfig config, IdRegistry ids, List<int>? fresh = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(ids);
        var counters = new int[config.Elements.Length];
        for (int i = 0; i < counters.Length; i++)
        {
            counters[i] = ids.PolicyElementId(config.Name, config.Elements[i].Text, out bool isNew);
            if (isNew) fresh?.Add(counters[i]);
        }
        var v4 = Intervals(config, v6: false);
        var v6 = Intervals(config, v6: true);
        return new PolicyRuntime(config,
            counters,
            ([.. v4.Select(x => (uint)x.First)], [.. v4.Select(x => (uint)x.Last)], [.. v4.Select(x => x.Element)]),
            ([.. v6.Select(x => x.First)], [.. v6.Select(x => x.Last)], [.. v6.Select(x => x.Element)]));
    }

    /// <summary>The elements of one family as disjoint intervals in order: where two overlap, the part they share
    /// belongs to the one that starts first (the wider, when both start together).</summary>
    private static List<(UInt128 First, UInt128 Last, int Element)> Intervals(PolicyConfig config, bool v6)
    {
        var items = new List<(UInt128 First, UInt128 Last, int Element)>();
        for (int i = 0; i < config.Elements.Length; i++)
        {
            var e = config.Elements[i];
            if (e.V6 == v6) items.Add((e.First, e.Last, i));
        }
        items.Sort((a, b) => a.First != b.First ? a.First.CompareTo(b.First) : b.Last.CompareTo(a.Last));
        var result = new List<(UInt128, UInt128, int)>(items.Count);
        bool any = false;
        UInt128 covered = UInt128.Zero; // the last address an interval already holds (when any)
        foreach (var (first, last, element) in items)
        {
            if (any && last <= covered) continue;
            var start = any && first <= covered ? covered + 1 : first;
            result.Add((start, last, element));
            covered = last;
            any = true;
        }
        return result;
    }
}

/// <summary>A farm's policies in its order, and what its <c>verdict</c> lets them do.</summary>
/// <param name="Policies">The policies, in the farm's order.</param>
/// <param name="Drop">The farm's verdict has <c>drop</c>: a blacklisted source's packet is dropped (else only counted).</param>
/// <param name="Accept">The farm's verdict has <c>accept</c>: a whitelisted source skips the farm's later policies.</param>
public sealed record FarmPolicies(PolicyRuntime[] Policies, bool Drop, bool Accept);
