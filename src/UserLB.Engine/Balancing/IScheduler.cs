using UserLB.Packets;

namespace UserLB.Engine.Balancing;

/// <summary>What a scheduler may look at: the new flow's first packet.</summary>
public readonly record struct SchedInput(IpAddr Src, IpAddr Dst, ushort SrcPort, ushort DstPort, MacAddress SrcMac, MacAddress DstMac);

/// <summary>
/// A scheduling policy over a farm's eligible backends, built once per configuration change (ip_vs_sched's callback table).
/// <see cref="Pick"/> returns an index into the candidate list it was built with, or -1 when it has none.
/// </summary>
public interface IScheduler
{
    string Name { get; }

    /// <param name="detail">What decided (the random draw, the round-robin position or the hash) — for --trace.</param>
    int Pick(in SchedInput input, Random random, out ulong detail);
}

public static class Schedulers
{
    /// <summary>A stable 64-bit key for a name (FNV-1a then mixed): the same on every run and instance.</summary>
    public static ulong KeyOf(string name)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in name) { h ^= c; h *= 1099511628211UL; }
        return Conntrack.FlowTuple.Mix(h);
    }

    /// <summary>Builds the farm's scheduler over its candidates' weights; <paramref name="keys"/> identify the candidates stably.</summary>
    public static IScheduler Create(Config.SchedulerKind kind, Config.HashFields fields, ReadOnlySpan<int> weights, ReadOnlySpan<ulong> keys) => kind switch
    {
        Config.SchedulerKind.Weight => new WeightedRandomScheduler(weights),
        Config.SchedulerKind.RoundRobin => new WeightedRoundRobinScheduler(weights),
        Config.SchedulerKind.Hash => new MaglevScheduler(weights, keys, fields == Config.HashFields.None ? Config.HashFields.SrcIp : fields, symmetric: false),
        Config.SchedulerKind.SymHash => new MaglevScheduler(weights, keys, fields, symmetric: true),
        _ => new WeightedRoundRobinScheduler(weights),
    };
}
