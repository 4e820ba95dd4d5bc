using System.Text.Json.Serialization;
using UserLB.Engine;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Cli.Views;

/// <summary>
/// What <c>GET /stats</c> returns and <c>/metrics</c> and <c>/status</c> are made of: the engine's counters per farm and
/// backend, the connection table's fill, the receive queue and the event stream. Captured on the engine's thread
/// (<see cref="Capture(PacketEngine, DateTimeOffset, double, QueueStats, EventStats, IReadOnlySet{string})"/>, a copy of a few counters per farm and backend), formatted elsewhere.
/// </summary>
internal sealed record StatsSnapshot(
    DateTimeOffset Time,
    double UptimeSeconds,
    long Generation,
    EngineTotals Engine,
    TableStats Table,
    QueueStats Queue,
    EventStats Events,
    IReadOnlyList<DropCount> Drops,
    IReadOnlyList<FarmStats> Farms,
    IReadOnlyList<PolicyStats>? Policies = null)
{
    /// <summary>Copies the counters of <paramref name="engine"/>; run on the thread that owns it.</summary>
    /// <param name="checkedBackends">"farm/backend" of the backends that have a health check.</param>
    public static StatsSnapshot Capture(PacketEngine engine, DateTimeOffset time, double uptimeSeconds, QueueStats queue, EventStats events,
        IReadOnlySet<string> checkedBackends) =>
        Capture(EngineFigures.Of(engine), time, uptimeSeconds, queue, events, checkedBackends);

    /// <summary>The snapshot of one engine's figures, or of several engines' summed (<see cref="EngineFigures.Sum"/>).</summary>
    /// <param name="checkedBackends">"farm/backend" of the backends that have a health check.</param>
    public static StatsSnapshot Capture(EngineFigures figures, DateTimeOffset time, double uptimeSeconds, QueueStats queue, EventStats events,
        IReadOnlySet<string> checkedBackends)
    {
        ArgumentNullException.ThrowIfNull(figures);
        ArgumentNullException.ThrowIfNull(checkedBackends);
        var c = figures.Counters;
        var snap = figures.Snapshot;
        var farms = new List<FarmStats>(snap.Farms.Length);
        foreach (var f in snap.Farms)
        {
            long candidateWeight = 0;
            foreach (var b in f.Candidates) candidateWeight += b.Weight;
            var fc = (uint)f.Id < (uint)c.Farms.Length ? c.Farms[f.Id] : default;
            var backends = new List<BackendStats>(f.Backends.Length);
            foreach (var b in f.Backends)
            {
                var bc = (uint)b.Id < (uint)c.Backends.Length ? c.Backends[b.Id] : default;
                bool candidate = f.IsUp && f.Candidates.Contains(b); // a farm that is down takes no new connections
                string health = !checkedBackends.Contains(f.Name + "/" + b.Name) ? "none" : b.Healthy ? "up" : "down";
                backends.Add(new BackendStats(b.Name, b.Address.ToString(), b.Port, b.Weight, b.Priority, b.Mark,
                    b.State.ToString().ToLowerInvariant(), health, candidate,
                    candidate && candidateWeight > 0 ? (double)b.Weight / candidateWeight : 0,
                    bc.Active, bc.Connections, bc.Packets, bc.Bytes, bc.Drops, Reasons(c.BackendDrops, b.Id)));
            }
            farms.Add(new FarmStats(f.Name, f.VirtualAddress.ToString(), string.Join(",", f.Config.VirtualPorts), f.Config.Protocol.ToString().ToLowerInvariant(),
                f.Config.Mode.ToString().ToLowerInvariant(), f.Scheduler.Name, f.Config.State.ToString().ToLowerInvariant(), f.Level,
                fc.Active, fc.Connections, fc.Packets, fc.Bytes, fc.Drops, Reasons(c.FarmDrops, f.Id), backends));
        }
        return new StatsSnapshot(time, uptimeSeconds, snap.Generation,
            new EngineTotals(c.RxFrames, c.RxBytes, c.TxFrames, c.TxBytes, c.Forwarded, c.Consumed, c.Dropped, c.NewFlows,
                c.NatPortRemaps, c.IcmpErrorsRelayed, figures.PendingNeighbor, c.NatPortEvictions,
                new SynProxyStats(c.SynProxySyns, c.SynProxyCookiesValid, c.SynProxyRetransmits, c.SynProxyHandshakes), c.NewFlowBudgetRetries),
            new TableStats(figures.Entries, figures.Max, figures.EarlyDrops),
            queue, events, Reasons(c.Drops, 0), farms, PolicyFigures(snap, c));
    }

    /// <summary>Per policy, the packets and bytes its elements matched (the sum of nftlb's per-element counters).</summary>
    private static List<PolicyStats> PolicyFigures(EngineSnapshot snap, EngineCounters c)
    {
        var list = new List<PolicyStats>(snap.Policies.Length);
        foreach (var p in snap.Policies)
        {
            long packets = 0, bytes = 0;
            foreach (int id in p.CounterIds)
            {
                var e = c.PolicyElement(id);
                packets += e.Packets;
                bytes += e.Bytes;
            }
            list.Add(new PolicyStats(p.Name, p.IsBlacklist ? "blacklist" : "whitelist", p.Config.Elements.Length, packets, bytes));
        }
        return list;
    }

    private static List<DropCount> Reasons(long[] counts, int id)
    {
        var list = new List<DropCount>();
        int n = (int)DropReason.Count;
        int start = id * n;
        if (id < 0 || start + n > counts.Length) return list;
        for (int r = 1; r < n; r++)
            if (counts[start + r] > 0) list.Add(new DropCount(((DropReason)r).Name(), counts[start + r]));
        return list;
    }
}

/// <summary>
/// What the views need of one engine, copied on its worker's thread (<see cref="Of"/>); with several workers the copies
/// are summed (<see cref="Sum"/>) into the figures of the one load balancer they make: counters, table entries and size
/// (the fill is the sum of entries over the sum of sizes), frames waiting for a neighbour.
/// </summary>
internal sealed record EngineFigures(EngineCounters Counters, EngineSnapshot Snapshot, int Entries, int Max, long EarlyDrops, int PendingNeighbor)
{
    public static EngineFigures Of(PacketEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var table = engine.Table;
        return new EngineFigures(engine.Counters.Clone(), engine.Snapshot, table.Count, table.Max, table.EarlyDrops, engine.Neighbors.PendingFrames);
    }

    /// <summary>The sum of the workers' figures, with the first one's configuration snapshot (the same in every
    /// worker but for a moment during a change). One part is returned as it is.</summary>
    public static EngineFigures Sum(IReadOnlyList<EngineFigures> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentOutOfRangeException.ThrowIfZero(parts.Count);
        if (parts.Count == 1) return parts[0];
        var counters = new EngineCounters();
        int entries = 0, max = 0, pending = 0;
        long earlyDrops = 0;
        foreach (var p in parts)
        {
            counters.Add(p.Counters);
            entries += p.Entries;
            max += p.Max;
            earlyDrops += p.EarlyDrops;
            pending += p.PendingNeighbor;
        }
        return new EngineFigures(counters, parts[0].Snapshot, entries, max, earlyDrops, pending);
    }
}

internal sealed record EngineTotals(long RxFrames, long RxBytes, long TxFrames, long TxBytes, long Forwarded, long Answered,
    long Dropped, long Connections, long NatPortRemaps, long IcmpErrorsRelayed, long PendingNeighbor, long NatPortEvictions,
    SynProxyStats SynProxy, long NewFlowBudgetRetries);

/// <summary>The SYN proxy's work (/proc/net/stat/synproxy): SYNs answered with a cookie, valid cookies (connections opened
/// to a backend), SYNs sent again on a client's probe, handshakes the backends completed; bad cookies are a drop reason.</summary>
internal sealed record SynProxyStats(long SynsAnswered, long CookiesValid, long Retransmits, long Handshakes);

internal sealed record TableStats(int Entries, int Max, long EarlyDrops)
{
    public double Fill => Max > 0 ? (double)Entries / Max : 0;
}

/// <summary>The receive queue between the capture threads and the engine's worker.</summary>
/// <summary>The forwarder's receive side: channel depth and capacity (0 with inline dispatch), drops, and how frames reach the engines.</summary>
internal sealed record QueueStats(int Depth, int Capacity, long Drops, long Oversize, int Workers = 1, string Dispatch = "queue",
    RxDelayStats? RxDelay = null, ReceiveStats? Receive = null)
{
    /// <summary>Each port's losses outside the engine (the ports that can tell them).</summary>
    public IReadOnlyList<PortDropStats> Ports { get; init; } = [];
}

/// <summary>A port's losses outside the engine: dropped by the kernel before userlb read them (main ring; handshake ring),
/// not sent, received cut short.</summary>
internal sealed record PortDropStats(string Port, long KernelDrops, long TxDrops, long RxTruncated, long HandshakeDrops = 0);

/// <summary>
/// The polled receiver (afpacket, one worker: one receive thread for every port, <see cref="Threads"/> "auto": joined by
/// a thread per port while it is saturated): how long it busy-polls the rings after the last frame at most (the ceiling)
/// and now (the adaptive window), and how often it went to sleep in poll(); whether a thread per port is engaged beside
/// it now and how many times it was; how long it polled empty rings (<see cref="PolledSeconds"/>) (null with a thread
/// per port or queue dispatch).
/// </summary>
internal sealed record ReceiveStats(long BusyPollUs, long Sleeps, long WindowUs = 0, string Threads = "one", bool Engaged = false, long Engagements = 0,
    double PolledSeconds = 0, long HeldBack = 0);

/// <summary>
/// Sampled wait of received frames between the kernel and userlb (afpacket with rings): quantiles as the upper bound of
/// their power-of-two microsecond bucket, since the start.
/// </summary>
internal sealed record RxDelayStats(long Samples, double P50Us, double P99Us, double MaxBucketUs, double SumSeconds)
{
    /// <summary>Frames per bucket of <see cref="UserLB.IO.Live.DelayHistogram"/> (upper bounds 2^0 … 2^19 µs, then +∞); empty when unknown.</summary>
    public IReadOnlyList<long> Buckets { get; init; } = [];
}

/// <summary>The conntrack event stream (<c>GET /conntrack/events</c>).</summary>
internal sealed record EventStats(int Subscribers, long Delivered, long Dropped);

internal sealed record DropCount(string Reason, long Count);

/// <summary>A policy: its type, how many elements it has, and the packets and bytes from the sources they hold.</summary>
internal sealed record PolicyStats(string Name, string Type, int Elements, long Packets, long Bytes);

internal sealed record FarmStats(string Name, string VirtualAddr, string VirtualPorts, string Protocol, string Mode, string Scheduler,
    string State, int Level, long Active, long Connections, long Packets, long Bytes, long Drops, IReadOnlyList<DropCount> DropReasons,
    IReadOnlyList<BackendStats> Backends);

/// <summary>A backend: <see cref="State"/> as configured (up/down/off), <see cref="Health"/> from its check (up/down, or
/// none: no check), <see cref="Candidate"/> when it takes new connections now, <see cref="Share"/> its configured share of them.</summary>
internal sealed record BackendStats(string Name, string Address, ushort Port, int Weight, int Priority, uint Mark, string State,
    string Health, bool Candidate, double Share, long Active, long Connections, long Packets, long Bytes, long Drops,
    IReadOnlyList<DropCount> DropReasons);

/// <summary>GET /status?format=json: the capture and the rates since an earlier one.</summary>
internal sealed record StatusDocument(StatsSnapshot Stats, Rates Rates);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.KebabCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(StatsSnapshot))]
[JsonSerializable(typeof(StatusDocument))]
[JsonSerializable(typeof(UserLB.Cli.Api.DeleteReply))]
internal sealed partial class ViewsJson : JsonSerializerContext;
