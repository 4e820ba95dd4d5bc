using UserLB.Packets;

namespace UserLB.Engine.L2;

/// <summary>
/// IP → MAC (and the port it was seen on), learned from ARP/NDP and from the source of received frames; frames for an
/// unresolved next hop wait in a small queue (the kernel's unres_qlen) while the engine solicits.
/// </summary>
public sealed class NeighborTable
{
    public const int MaxQueuedPerNeighbor = 8;
    public const int MaxSolicitations = 3;
    public const long SolicitIntervalNs = 1_000_000_000;
    /// <summary>Neighbours with frames waiting at most: beyond, a frame for another unresolved neighbour is dropped
    /// without asking for it (a flood's replies to spoofed sources must not grow the queues without bound).</summary>
    public const int MaxPendingNeighbors = 4096;

    private readonly Dictionary<IpAddr, Neighbor> _entries = [];
    private readonly Dictionary<IpAddr, Pending> _pending = [];
    // Insertion order for eviction (CLOCK / second chance): (address, the entry's Inserted stamp when queued).
    private readonly Queue<(IpAddr Ip, long Stamp)> _order = new();
    private long _stamp;
    private readonly int _maxEntries;

    public NeighborTable(int maxEntries = 65536) => _maxEntries = maxEntries;

    public int Count => _entries.Count;
    public int PendingFrames { get; private set; }

    /// <summary>Bumped whenever a mapping changes, or a pinned one (<see cref="Pin"/>) goes, so per-flow caches of a next
    /// hop's MAC can be validated cheaply. A new mapping does not bump it (no cache holds it yet), nor does evicting one
    /// that is not pinned (a flood's spoofed senders, answered by the backends but never an established flow's next hop):
    /// a flood from many sources must not take every flow off its fast path.</summary>
    public int Version { get; private set; } = 1;

    /// <summary>Whether <paramref name="ip"/> is known.</summary>
    public bool Contains(IpAddr ip) => _entries.ContainsKey(ip);

    /// <summary>Marks <paramref name="ip"/> as the next hop of an established flow: kept ahead of other entries when the
    /// table is full, and its eviction invalidates the flows' cached next hops.</summary>
    public void Pin(IpAddr ip)
    {
        ref var n = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_entries, ip);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref n)) n.Pinned = true;
    }

    /// <summary>The MAC and port of <paramref name="ip"/>.</summary>
    public bool TryGet(IpAddr ip, out MacAddress mac, out int port)
    {
        ref var n = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_entries, ip);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref n))
        {
            mac = n.Mac;
            port = n.Port;
            return true;
        }
        mac = default;
        port = -1;
        return false;
    }

    /// <summary>Forgets <paramref name="ip"/>'s mapping (its route moved to another interface), so that the next frame for
    /// it solicits again on its farm's egress; flows' cached next hops are invalidated. Returns whether it was known.</summary>
    public bool Forget(IpAddr ip)
    {
        if (!_entries.Remove(ip)) return false;
        Version++;
        return true;
    }

    /// <summary>Learns or refreshes a mapping. Returns true when it is new or changed.</summary>
    public bool Learn(IpAddr ip, MacAddress mac, int port, long nowNs)
    {
        if (ip.IsZero || mac.IsMulticast || mac.IsZero) return false;
        ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_entries, ip);
        if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot))
        {
            if (slot.Mac == mac && slot.Port == port) { slot.SeenNs = nowNs; return false; }
            slot = slot with { Mac = mac, Port = port, SeenNs = nowNs };
            Version++;
            return true;
        }
        if (_entries.Count >= _maxEntries) EvictOne();
        long stamp = ++_stamp;
        _entries[ip] = new Neighbor(mac, port, nowNs, nowNs, stamp);
        _order.Enqueue((ip, stamp));
        return true;
    }

    /// <summary>Requeued entries one eviction passes over at most before it takes the next one whatever it is.</summary>
    private const int MaxSecondChances = 64;

    /// <summary>
    /// Makes room for one entry in amortised O(1) (a flood from many spoofed sources must not cost a table scan per
    /// packet): the oldest-inserted entry goes unless it was seen again since it was queued, or is pinned (<see cref="Pin"/>:
    /// a backend, a client with an established connection), in which case it goes to the back of the queue (CLOCK) — at
    /// most <see cref="MaxSecondChances"/> of them per eviction. A flood's senders, learned once, go first.
    /// </summary>
    private void EvictOne()
    {
        int chances = MaxSecondChances;
        while (_order.TryDequeue(out var q))
        {
            ref var n = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_entries, q.Ip);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref n) || n.Stamp != q.Stamp) continue; // stale
            if ((n.SeenNs > n.QueuedNs || n.Pinned) && chances-- > 0)
            {
                n.QueuedNs = n.SeenNs;
                _order.Enqueue(q);
                continue;
            }
            if (n.Pinned) Version++; // established flows may have cached it
            _entries.Remove(q.Ip);
            Evictions++;
            return;
        }
    }

    /// <summary>Entries evicted to make room (the table holds at most its maximum).</summary>
    public long Evictions { get; private set; }

    /// <summary>Queues a copy of a frame waiting for <paramref name="ip"/>. Returns whether a solicitation should be sent now;
    /// <paramref name="queued"/> is false when the queue was full (the frame is dropped).</summary>
    public bool Enqueue(IpAddr ip, ReadOnlySpan<byte> frame, int egressPort, long nowNs, out bool queued, VnetHeader offload = default)
    {
        if (!_pending.TryGetValue(ip, out var p))
        {
            if (_pending.Count >= MaxPendingNeighbors)
            {
                queued = false;
                return false;
            }
            p = new Pending { FirstNs = nowNs, LastSolicitNs = nowNs - SolicitIntervalNs };
            _pending[ip] = p;
        }
        queued = p.Frames.Count < MaxQueuedPerNeighbor;
        if (queued)
        {
            p.Frames.Add((frame.ToArray(), egressPort, offload));
            PendingFrames++;
        }
        if (p.Solicitations < MaxSolicitations && nowNs - p.LastSolicitNs >= SolicitIntervalNs)
        {
            p.Solicitations++;
            p.LastSolicitNs = nowNs;
            return true;
        }
        return false;
    }

    /// <summary>Takes the frames waiting for <paramref name="ip"/> (after it was learned).</summary>
    public List<(byte[] Frame, int Port, VnetHeader Offload)>? TakePending(IpAddr ip)
    {
        if (_pending.Count == 0 || !_pending.Remove(ip, out var p)) return null;
        PendingFrames -= p.Frames.Count;
        return p.Frames;
    }

    /// <summary>Drops the queues of neighbours that did not answer <see cref="MaxSolicitations"/> solicitations. Returns frames
    /// dropped; <paramref name="expired"/>, when given, gets each such neighbour and its frames dropped.</summary>
    public int ExpirePending(long nowNs, List<(IpAddr Ip, int Frames)>? expired = null)
    {
        if (_pending.Count == 0) return 0;
        int dropped = 0;
        List<IpAddr>? dead = null;
        foreach (var kv in _pending)
        {
            var p = kv.Value;
            if (p.Solicitations >= MaxSolicitations && nowNs - p.LastSolicitNs >= SolicitIntervalNs)
                (dead ??= []).Add(kv.Key);
        }
        if (dead is null) return 0;
        foreach (var ip in dead)
        {
            _pending.Remove(ip, out var p);
            dropped += p!.Frames.Count;
            expired?.Add((ip, p.Frames.Count));
            PendingFrames -= p.Frames.Count;
        }
        return dropped;
    }

    /// <summary>Neighbours with frames waiting that are due another solicitation.</summary>
    public void CollectDueSolicitations(long nowNs, List<IpAddr> into)
    {
        foreach (var kv in _pending)
        {
            var p = kv.Value;
            if (p.Solicitations < MaxSolicitations && nowNs - p.LastSolicitNs >= SolicitIntervalNs)
            {
                p.Solicitations++;
                p.LastSolicitNs = nowNs;
                into.Add(kv.Key);
            }
        }
    }

    public IEnumerable<(IpAddr Ip, MacAddress Mac, int Port)> Entries()
    {
        foreach (var kv in _entries) yield return (kv.Key, kv.Value.Mac, kv.Value.Port);
    }

    private record struct Neighbor(MacAddress Mac, int Port, long SeenNs, long QueuedNs, long Stamp)
    {
        /// <summary>The next hop of an established flow (<see cref="Pin"/>).</summary>
        public bool Pinned;
    }

    private sealed class Pending
    {
        public List<(byte[] Frame, int Port, VnetHeader Offload)> Frames { get; } = [];
        public long FirstNs { get; init; }
        public long LastSolicitNs { get; set; }
        public int Solicitations { get; set; }
    }
}
