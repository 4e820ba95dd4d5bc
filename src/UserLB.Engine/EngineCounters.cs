using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// Per-engine counters (one engine per worker, so plain fields; readers tolerate stale values).
/// Accounting invariant: <c>RxFrames == Forwarded + Consumed + Dropped + PendingNeighbor</c>.
/// </summary>
public sealed class EngineCounters
{
    public long RxFrames;
    public long RxBytes;
    public long TxFrames;
    public long TxBytes;
    /// <summary>Received frames sent on (after NAT).</summary>
    public long Forwarded;
    /// <summary>Received frames answered or absorbed by the engine itself (ARP, NDP, echo to a VIP).</summary>
    public long Consumed;
    public long NewFlows;
    public long NatPortRemaps;
    /// <summary>Unassured connections evicted because no SNAT port was free for a new one (their port was taken).</summary>
    public long NatPortEvictions;
    /// <summary>Packets over the new-flow budget admitted because their tuple had been dropped a moment before (a retry).</summary>
    public long NewFlowBudgetRetries;
    /// <summary>SYN proxy (/proc/net/stat/synproxy): SYNs answered with a cookie, ACKs with a valid cookie (connections
    /// opened to a backend), client ACKs that made the proxy send its SYN again, handshakes the backend completed.</summary>
    public long SynProxySyns, SynProxyCookiesValid, SynProxyRetransmits, SynProxyHandshakes;
    public long IcmpErrorsRelayed;
    public long ArpRepliesSent;
    public long ArpRequestsSent;
    public long NdpAdvertisementsSent;
    public long NdpSolicitationsSent;
    public long EchoRepliesSent;
    /// <summary>Received frames with a partial checksum (virtio-net NEEDS_CSUM), passed on for the kernel or peer to complete.</summary>
    public long RxPartialChecksum;
    /// <summary>Received GSO/GRO super-frames, and the segments they stand for.</summary>
    public long RxGsoFrames, RxGsoSegments;
    public readonly long[] Drops = new long[(int)DropReason.Count];
    public TrafficCounters[] Backends = [];
    public TrafficCounters[] Farms = [];
    /// <summary>Drops of a farm's traffic by reason: <c>[farmId * DropReason.Count + reason]</c>.</summary>
    public long[] FarmDrops = [];
    /// <summary>Drops of a backend's traffic by reason: <c>[backendId * DropReason.Count + reason]</c>.</summary>
    public long[] BackendDrops = [];

    /// <summary>Packets and bytes from the sources each policy element holds (nftlb's per-element
    /// <c>counter-packets</c>, <c>counter-bytes</c>), by the element's slot (<see cref="Farms.IdRegistry.PolicyElementId(string, string)"/>).</summary>
    public TrafficCounters[] PolicyElements = [];

    /// <summary>Where a farm's or backend's figures go when its id is outside the tables (none, or an object the
    /// snapshot no longer has): nothing reads it, so callers need no bounds check.</summary>
    private TrafficCounters _outside;

    /// <summary>Farm <paramref name="id"/>'s counters (a slot nothing reads when the id is outside the table).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public ref TrafficCounters Farm(int id)
    {
        if ((uint)id < (uint)Farms.Length) return ref Farms[id];
        return ref _outside;
    }

    /// <summary>Backend <paramref name="id"/>'s counters (a slot nothing reads when the id is outside the table).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public ref TrafficCounters Backend(int id)
    {
        if ((uint)id < (uint)Backends.Length) return ref Backends[id];
        return ref _outside;
    }

    /// <summary>Packets and bytes of a flow of farm <paramref name="farmId"/> and backend <paramref name="backendId"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void AddTraffic(int farmId, int backendId, long packets, long bytes)
    {
        ref var b = ref Backend(backendId);
        b.Packets += packets;
        b.Bytes += bytes;
        ref var f = ref Farm(farmId);
        f.Packets += packets;
        f.Bytes += bytes;
    }

    /// <summary><paramref name="count"/> drops of a farm's (and a backend's, when known: -1 otherwise) traffic for
    /// <paramref name="reason"/>, per object and per reason (the engine-wide count is the caller's).</summary>
    public void AddFlowDrops(int farmId, int backendId, DropReason reason, long count)
    {
        if ((uint)farmId < (uint)Farms.Length)
        {
            Farms[farmId].Drops += count;
            FarmDrops[farmId * (int)DropReason.Count + (int)reason] += count;
        }
        if ((uint)backendId < (uint)Backends.Length)
        {
            Backends[backendId].Drops += count;
            BackendDrops[backendId * (int)DropReason.Count + (int)reason] += count;
        }
    }

    public long Dropped
    {
        get
        {
            long sum = 0;
            foreach (var d in Drops) sum += d;
            return sum;
        }
    }

    /// <summary>A copy (control plane: take it on the engine's thread, then read or sum it anywhere).</summary>
    public EngineCounters Clone()
    {
        var copy = new EngineCounters();
        copy.Add(this);
        return copy;
    }

    /// <summary>Adds <paramref name="other"/>'s counters to these: the figures of N sharded engines summed into one load balancer's.</summary>
    public void Add(EngineCounters other)
    {
        ArgumentNullException.ThrowIfNull(other);
        RxFrames += other.RxFrames;
        RxBytes += other.RxBytes;
        TxFrames += other.TxFrames;
        TxBytes += other.TxBytes;
        RxPartialChecksum += other.RxPartialChecksum;
        RxGsoFrames += other.RxGsoFrames;
        RxGsoSegments += other.RxGsoSegments;
        Forwarded += other.Forwarded;
        Consumed += other.Consumed;
        NewFlows += other.NewFlows;
        NatPortRemaps += other.NatPortRemaps;
        NatPortEvictions += other.NatPortEvictions;
        NewFlowBudgetRetries += other.NewFlowBudgetRetries;
        SynProxySyns += other.SynProxySyns;
        SynProxyCookiesValid += other.SynProxyCookiesValid;
        SynProxyRetransmits += other.SynProxyRetransmits;
        SynProxyHandshakes += other.SynProxyHandshakes;
        IcmpErrorsRelayed += other.IcmpErrorsRelayed;
        ArpRepliesSent += other.ArpRepliesSent;
        ArpRequestsSent += other.ArpRequestsSent;
        NdpAdvertisementsSent += other.NdpAdvertisementsSent;
        NdpSolicitationsSent += other.NdpSolicitationsSent;
        EchoRepliesSent += other.EchoRepliesSent;
        for (int i = 0; i < Drops.Length; i++) Drops[i] += other.Drops[i];
        // Read the other's arrays once: its engine may grow them (Apply) while a copy is taken off its thread.
        var backends = other.Backends;
        var farms = other.Farms;
        var backendDrops = other.BackendDrops;
        var farmDrops = other.FarmDrops;
        var elements = other.PolicyElements;
        EnsureIds(backends.Length, farms.Length);
        EnsurePolicyElements(elements.Length);
        for (int i = 0; i < elements.Length; i++) PolicyElements[i].Add(elements[i]);
        for (int i = 0; i < backends.Length; i++) Backends[i].Add(backends[i]);
        for (int i = 0; i < farms.Length; i++) Farms[i].Add(farms[i]);
        for (int i = 0; i < backendDrops.Length && i < BackendDrops.Length; i++) BackendDrops[i] += backendDrops[i];
        for (int i = 0; i < farmDrops.Length && i < FarmDrops.Length; i++) FarmDrops[i] += farmDrops[i];
    }

    internal void EnsurePolicyElements(int slots)
    {
        if (PolicyElements.Length < slots) Array.Resize(ref PolicyElements, Math.Max(slots, PolicyElements.Length * 2));
    }

    /// <summary>Element slot <paramref name="id"/>'s counters (a slot nothing reads when the id is outside the table).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public ref TrafficCounters PolicyElement(int id)
    {
        if ((uint)id < (uint)PolicyElements.Length) return ref PolicyElements[id];
        return ref _outside;
    }

    internal void EnsureIds(int backends, int farms)
    {
        if (Backends.Length < backends)
        {
            Array.Resize(ref Backends, Math.Max(backends, Backends.Length * 2));
            Array.Resize(ref BackendDrops, Backends.Length * (int)DropReason.Count);
        }
        if (Farms.Length < farms)
        {
            Array.Resize(ref Farms, Math.Max(farms, Farms.Length * 2));
            Array.Resize(ref FarmDrops, Farms.Length * (int)DropReason.Count);
        }
    }
}

/// <summary>One farm's or one backend's traffic (<see cref="EngineCounters.Farms"/>, <see cref="EngineCounters.Backends"/>).</summary>
public struct TrafficCounters
{
    /// <summary>Connections in the table now (what a backend's <c>est-connlimit</c> limits).</summary>
    public long Active;
    public long Connections;
    public long Packets;
    public long Bytes;
    /// <summary>Drops of this farm's or backend's traffic (by reason: <see cref="EngineCounters.FarmDrops"/>, <see cref="EngineCounters.BackendDrops"/>).</summary>
    public long Drops;

    /// <summary>Adds <paramref name="other"/>'s figures (another worker's for the same farm or backend).</summary>
    public void Add(in TrafficCounters other)
    {
        Active += other.Active;
        Connections += other.Connections;
        Packets += other.Packets;
        Bytes += other.Bytes;
        Drops += other.Drops;
    }
}
