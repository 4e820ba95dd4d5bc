using System.Runtime.CompilerServices;

namespace UserLB.Engine.Conntrack;

/// <summary>
/// The connection table, after nf_conntrack_core.c: entries in one struct array; each entry is hashed under both its
/// original and its reply tuple (two nodes, <c>2·index + direction</c>) into one bucket array, with a keyed hash whose key
/// comes from the injected RNG. Expired entries are removed when met (lookup) and by an incremental sweep.
/// When full, a new entry first evicts an entry that is not ASSURED (early_drop); otherwise insertion fails.
/// Entries the caller tracks as unassured (<see cref="TrackUnassured"/>) are also kept in one list per group (a backend
/// and port class), oldest first, so that the oldest unassured entry of a group is found in O(1) (NAT port exhaustion).
/// The caller takes an entry out when it becomes ASSURED (<see cref="Untrack"/>); removal takes it out too.
/// Not thread-safe: one table per worker.
/// </summary>
public sealed class ConnTable
{
    private const int InitialCapacity = 1024;
    private const int EarlyDropScan = 64;
    private const int Nil = -1;

    private readonly int[] _buckets;
    private readonly int _bucketMask;
    private readonly ulong _hashKey;
    private ConnEntry[] _entries;
    private int[] _next; // chain link per node (2 per entry); for free entries _next[2i] links the free list
    private AgeLink[] _age; // per entry: its place in its group's unassured list (Group -1: in none)
    private int[] _groupHead = [], _groupTail = [];
    private int _freeHead = Nil;
    private int _highWater; // entries [0, _highWater) have been used at some time
    private int _sweepCursor;
    private uint _nextId = 1;

    /// <param name="maxEntries">nf_conntrack_max.</param>
    /// <param name="hashKey">Key of the tuple hash.</param>
    /// <param name="preallocate">Allocate every slot now (uninitialised: the pages are touched as slots come into use),
    /// so that a flood filling the table does not grow its arrays — copies and full collections — meanwhile.</param>
    public ConnTable(int maxEntries, ulong hashKey, bool preallocate = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        Max = maxEntries;
        int buckets = (int)Math.Min(1 << 30, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, maxEntries / 2)));
        _buckets = new int[buckets];
        Array.Fill(_buckets, Nil);
        _bucketMask = buckets - 1;
        _hashKey = hashKey;
        int initial = preallocate ? maxEntries : Math.Min(InitialCapacity, maxEntries);
        // Slots are written before they are read (below the high-water mark only), so they need no zeroing.
        _entries = GC.AllocateUninitializedArray<ConnEntry>(initial);
        _next = GC.AllocateUninitializedArray<int>(initial * 2);
        _age = GC.AllocateUninitializedArray<AgeLink>(initial);
    }

    /// <summary>An entry's links in its group's list of unassured entries, in creation order.</summary>
    private struct AgeLink
    {
        public int Prev, Next, Group;
    }

    public int Max { get; }
    public int Count { get; private set; }
    public int HighWater => _highWater;
    public IConntrackEvents? Events { get; set; }
    public IEntryLifetime? Lifetime { get; set; }
    public long EarlyDrops { get; private set; }

    public ref ConnEntry this[int index] => ref _entries[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int BucketOf(in FlowTuple t) => (int)(t.Hash(_hashKey) & (uint)_bucketMask);

    /// <summary>Finds the entry holding <paramref name="tuple"/> in either direction. Expired entries are removed and not returned.</summary>
    public int Lookup(in FlowTuple tuple, long nowNs, out bool isReply)
    {
        int node = _buckets[BucketOf(tuple)];
        while (node != Nil)
        {
            int index = node >> 1;
            ref ConnEntry e = ref _entries[index];
            bool reply = (node & 1) != 0;
            if ((reply ? ref e.Reply : ref e.Original).Matches(tuple))
            {
                if (e.ExpiresNs <= nowNs)
                {
                    Remove(index, nowNs);
                    break;
                }
                isReply = reply;
                return index;
            }
            node = _next[node];
        }
        isReply = false;
        return Nil;
    }

    /// <summary>True when some live entry already uses <paramref name="tuple"/> (either direction): nf_nat_used_tuple.</summary>
    public bool IsTaken(in FlowTuple tuple, long nowNs) => Lookup(tuple, nowNs, out _) != Nil;

    /// <summary>Inserts a new entry; early-drops an unassured entry when full. Returns the index, or -1 when the table is full.</summary>
    public int Insert(in FlowTuple original, in FlowTuple reply, long nowNs, long timeoutNs, ConnStatus natStatus, Random random)
    {
        if (Count >= Max && !EarlyDrop(nowNs, random)) return Nil;
        int index = AllocateSlot();
        ref ConnEntry e = ref _entries[index];
        e = default;
        e.Original = original;
        e.Reply = reply;
        e.CreatedNs = nowNs;
        e.ExpiresNs = nowNs + timeoutNs;
        e.Id = _nextId++;
        e.Status = ConnStatus.InUse | natStatus;
        _age[index].Group = Nil;
        Link(index * 2, BucketOf(original));
        Link(index * 2 + 1, BucketOf(reply));
        Count++;
        return index;
    }

    /// <summary>
    /// Puts back an entry saved by another table (a restart): both tuples, state, times and counters as given; a new slot.
    /// Returns the index, or -1 when either tuple is already in use or the table is full (no early drop: a restored
    /// entry never evicts a live one).
    /// </summary>
    public int Restore(in ConnEntry saved, long nowNs)
    {
        if (Count >= Max || IsTaken(saved.Original, nowNs) || IsTaken(saved.Reply, nowNs)) return Nil;
        int index = AllocateSlot();
        ref ConnEntry e = ref _entries[index];
        e = saved;
        e.Status |= ConnStatus.InUse;
        e.NeighborVersion = 0; // next hops are learnt again
        if (e.Id == 0) e.Id = _nextId;
        if (e.Id >= _nextId) _nextId = e.Id + 1;
        _age[index].Group = Nil;
        Link(index * 2, BucketOf(e.Original));
        Link(index * 2 + 1, BucketOf(e.Reply));
        Count++;
        return index;
    }

    private int AllocateSlot()
    {
        if (_freeHead != Nil)
        {
            int i = _freeHead;
            _freeHead = _next[i * 2];
            return i;
        }
        if (_highWater == _entries.Length) Grow();
        return _highWater++;
    }

    private void Grow()
    {
        int size = (int)Math.Min((long)Max, (long)_entries.Length * 2);
        Array.Resize(ref _entries, size);
        Array.Resize(ref _next, size * 2);
        Array.Resize(ref _age, size);
    }

    private void Link(int node, int bucket)
    {
        _next[node] = _buckets[bucket];
        _buckets[bucket] = node;
    }

    private void Unlink(int node, in FlowTuple t)
    {
        int bucket = BucketOf(t);
        int cur = _buckets[bucket];
        if (cur == node)
        {
            _buckets[bucket] = _next[node];
            return;
        }
        while (cur != Nil)
        {
            int nxt = _next[cur];
            if (nxt == node)
            {
                _next[cur] = _next[node];
                return;
            }
            cur = nxt;
        }
    }

    /// <summary>Removes an entry (DESTROY event).</summary>
    public void Remove(int index, long nowNs)
    {
        ref ConnEntry e = ref _entries[index];
        if (!e.InUse) return;
        Events?.OnEvent(ConnEventType.Destroy, e, nowNs);
        Lifetime?.OnRemoved(e);
        Unlink(index * 2, e.Original);
        Unlink(index * 2 + 1, e.Reply);
        Untrack(index);
        e.Status = ConnStatus.None;
        _next[index * 2] = _freeHead;
        _freeHead = index;
        Count--;
    }

    /// <summary>Appends a live entry to <paramref name="group"/>'s list of unassured entries (its newest); group ≥ 0.</summary>
    public void TrackUnassured(int index, int group)
    {
        if (group < 0 || _age[index].Group != Nil) return;
        if (group >= _groupHead.Length)
        {
            int old = _groupHead.Length, size = Math.Max(group + 1, old * 2);
            Array.Resize(ref _groupHead, size);
            Array.Resize(ref _groupTail, size);
            _groupHead.AsSpan(old).Fill(Nil);
            _groupTail.AsSpan(old).Fill(Nil);
        }
        ref var a = ref _age[index];
        a.Group = group;
        a.Next = Nil;
        a.Prev = _groupTail[group];
        if (a.Prev != Nil) _age[a.Prev].Next = index;
        else _groupHead[group] = index;
        _groupTail[group] = index;
    }

    /// <summary>Takes an entry out of its group's unassured list (it became ASSURED; removal). No-op when it is in none.</summary>
    public void Untrack(int index)
    {
        ref var a = ref _age[index];
        int group = a.Group;
        if (group == Nil) return;
        if (a.Prev != Nil) _age[a.Prev].Next = a.Next;
        else _groupHead[group] = a.Next;
        if (a.Next != Nil) _age[a.Next].Prev = a.Prev;
        else _groupTail[group] = a.Prev;
        a.Group = Nil;
    }

    /// <summary>The oldest entry in <paramref name="group"/>'s unassured list, or -1.</summary>
    public int OldestUnassured(int group) => (uint)group < (uint)_groupHead.Length ? _groupHead[group] : Nil;

    /// <summary>The entry after <paramref name="index"/> in its group's unassured list (the next younger one), or -1.</summary>
    public int NextUnassured(int index) => _age[index].Group == Nil ? Nil : _age[index].Next;

    /// <summary>Changes the timeout of a live entry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Refresh(int index, long nowNs, long timeoutNs) => _entries[index].ExpiresNs = nowNs + timeoutNs;

    /// <summary>early_drop: evict one entry that is not ASSURED, scanning from a random place.</summary>
    private bool EarlyDrop(long nowNs, Random random)
    {
        if (_highWater == 0) return false;
        int start = random.Next(_highWater);
        int scan = Math.Min(EarlyDropScan, _highWater);
        int expiredOrUnassured = Nil;
        for (int k = 0; k < scan; k++)
        {
            int i = (start + k) % _highWater;
            ref ConnEntry e = ref _entries[i];
            if (!e.InUse) continue;
            if (e.ExpiresNs <= nowNs) { expiredOrUnassured = i; break; }
            if (!e.Assured && expiredOrUnassured == Nil) expiredOrUnassured = i;
        }
        if (expiredOrUnassured == Nil) return false;
        Remove(expiredOrUnassured, nowNs);
        EarlyDrops++;
        return true;
    }

    /// <summary>Incremental garbage collection (gc_worker): examines up to <paramref name="budget"/> slots and frees expired entries.</summary>
    public int Sweep(long nowNs, int budget)
    {
        if (_highWater == 0) return 0;
        int freed = 0;
        for (int k = 0; k < budget; k++)
        {
            if (_sweepCursor >= _highWater) _sweepCursor = 0;
            int i = _sweepCursor++;
            ref ConnEntry e = ref _entries[i];
            if (e.InUse && e.ExpiresNs <= nowNs)
            {
                Remove(i, nowNs);
                freed++;
            }
        }
        return freed;
    }

    /// <summary>Counts the live entries that match <paramref name="filter"/> (bound to the current snapshot): conntrack -C.</summary>
    public int CountMatching(ConntrackFilter filter, long nowNs)
    {
        ArgumentNullException.ThrowIfNull(filter);
        int n = 0;
        for (int i = 0; i < _highWater; i++)
        {
            ref ConnEntry e = ref _entries[i];
            if (e.InUse && e.ExpiresNs > nowNs && filter.Matches(e)) n++;
        }
        return n;
    }

    /// <summary>Removes the live entries that match <paramref name="filter"/> (DESTROY events, lifetimes released): conntrack -D.
    /// Returns how many were removed; <paramref name="removed"/>, when given, receives a copy of each as it was.</summary>
    public int RemoveMatching(ConntrackFilter filter, long nowNs, List<ConnEntry>? removed = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        int n = 0;
        for (int i = 0; i < _highWater; i++)
        {
            ref ConnEntry e = ref _entries[i];
            if (e.InUse && e.ExpiresNs > nowNs && filter.Matches(e))
            {
                removed?.Add(e);
                Remove(i, nowNs);
                n++;
            }
        }
        return n;
    }

    /// <summary>
    /// Copies live entries that match <paramref name="filter"/> into <paramref name="destination"/>, scanning slots from
    /// <paramref name="cursor"/> on; returns how many were copied and advances <paramref name="cursor"/> (it reaches
    /// <see cref="HighWater"/> when the scan is complete). Lets a listing run in short steps between frames, as a netlink
    /// dump does.
    /// </summary>
    public int CopyMatching(ConntrackFilter filter, long nowNs, ref int cursor, Span<ConnEntry> destination)
    {
        ArgumentNullException.ThrowIfNull(filter);
        int n = 0;
        while (cursor < _highWater && n < destination.Length)
        {
            ref ConnEntry e = ref _entries[cursor++];
            if (e.InUse && e.ExpiresNs > nowNs && filter.Matches(e)) destination[n++] = e;
        }
        return n;
    }

    /// <summary>Removes every expired entry now (used at the end of a replay and by tests).</summary>
    public int SweepAll(long nowNs) => Sweep(nowNs, _highWater);
}
