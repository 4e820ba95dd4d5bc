using System.Runtime.CompilerServices;
using UserLB.Packets;

namespace UserLB.Engine.Limits;

/// <summary>
/// Per-farm, per-client limits as nftlb names them: <c>new-rtlimit</c> (+ <c>new-rtlimit-burst</c>), a token bucket of new
/// connections per client address (nft <c>meter … limit rate over N/second burst B packets drop</c>), and
/// <c>est-connlimit</c>, the number of tracked connections per client (nft <c>ct count over N drop</c>).
/// A fixed-size open-addressing table keyed by (farm, client) with a keyed hash; no allocation after construction.
/// A slot idle for longer than the farm's <c>limits-ttl</c> with no live connection is reused. When every probed slot
/// is busy the client is admitted untracked (fail-open, counted in <see cref="Untracked"/>) rather than dropping traffic
/// because of the limiter's own size.
/// </summary>
public sealed class SourceLimiter
{
    private const int MaxProbe = 16;

    private struct Slot
    {
        public IpAddr Source;
        public int FarmId;        // -1: free
        public int Connections;
        public long Tokens;       // credit in nanoseconds: a new connection costs 1e9 / rate
        public long LastNs;
    }

    private readonly Slot[] _slots;
    private readonly int _mask;
    private readonly ulong _k0, _k1;

    public SourceLimiter(int capacity, ulong hashKey)
    {
        int size = 1;
        while (size < capacity) size <<= 1;
        _slots = new Slot[size];
        _mask = size - 1;
        for (int i = 0; i < size; i++) _slots[i].FarmId = -1;
        _k0 = hashKey | 1;
        _k1 = (hashKey >> 17) ^ 0x9E37_79B9_7F4A_7C15UL;
    }

    /// <summary>Clients admitted without a slot because the table was full around their hash.</summary>
    public long Untracked { get; private set; }

    /// <summary>Slots in use (for status views).</summary>
    public int InUse
    {
        get
        {
            int n = 0;
            foreach (ref readonly var s in _slots.AsSpan()) if (s.FarmId >= 0) n++;
            return n;
        }
    }

    /// <summary>
    /// Decides whether <paramref name="source"/> may open one more connection to the farm (consuming a rate-limit
    /// token when it may). Returns the reason to drop, or <see cref="DropReason.None"/> with <paramref name="slot"/> to
    /// pass to <see cref="Track"/> once the connection exists (-1: admitted untracked).
    /// </summary>
    public DropReason TryAdmit(int farmId, IpAddr source, int ratePerSecond, int burst, int connLimit, long limitsTtlNs, long nowNs, out int slot)
    {
        slot = FindOrClaim(farmId, source, limitsTtlNs, nowNs, ratePerSecond, burst);
        if (slot < 0)
        {
            Untracked++;
            return DropReason.None;
        }
        ref var s = ref _slots[slot];
        if (connLimit > 0 && s.Connections >= connLimit) return DropReason.ConnLimit;
        if (ratePerSecond > 0)
        {
            long cost = 1_000_000_000L / ratePerSecond;
            long max = cost * BucketSize(ratePerSecond, burst);
            long elapsed = Math.Max(0, nowNs - s.LastNs);
            s.Tokens = elapsed >= max - s.Tokens ? max : s.Tokens + elapsed;
            s.LastNs = nowNs;
            if (s.Tokens < cost) return DropReason.RateLimited;
            s.Tokens -= cost;
        }
        else
        {
            s.LastNs = nowNs;
        }
        return DropReason.None;
    }

    /// <summary>
    /// <see cref="TryAdmit"/> and <see cref="Track"/> at once, so that no other admission can reclaim the slot in between
    /// (engines sharing the limiter call it under their lock). <paramref name="tracked"/>: <see cref="Release"/> must
    /// follow, when the connection ends or is not created after all.
    /// </summary>
    public DropReason Admit(int farmId, IpAddr source, int ratePerSecond, int burst, int connLimit, long limitsTtlNs, long nowNs, out bool tracked)
    {
        var reason = TryAdmit(farmId, source, ratePerSecond, burst, connLimit, limitsTtlNs, nowNs, out int slot);
        tracked = reason == DropReason.None && Track(slot);
        return reason;
    }

    /// <summary>Counts a connection admitted by <see cref="TryAdmit"/>; true when <see cref="Release"/> must follow.</summary>
    public bool Track(int slot)
    {
        if (slot < 0) return false;
        _slots[slot].Connections++;
        return true;
    }

    /// <summary>
    /// Counts a connection restored from a saved table (no rate-limit token taken); true when <see cref="Release"/> must
    /// follow, false when the client could not be given a slot.
    /// </summary>
    public bool Restore(int farmId, IpAddr source, int ratePerSecond, int burst, long limitsTtlNs, long nowNs)
    {
        int slot = FindOrClaim(farmId, source, limitsTtlNs, nowNs, ratePerSecond, burst);
        if (slot < 0)
        {
            Untracked++;
            return false;
        }
        _slots[slot].Connections++;
        return true;
    }

    /// <summary>A connection counted by <see cref="TryAdmit"/> has ended.</summary>
    public void Release(int farmId, IpAddr source)
    {
        int index = Find(farmId, source);
        if (index >= 0 && _slots[index].Connections > 0) _slots[index].Connections--;
    }

    /// <summary>Live connections counted for a client of a farm (0 when not tracked).</summary>
    public int Connections(int farmId, IpAddr source)
    {
        int index = Find(farmId, source);
        return index < 0 ? 0 : _slots[index].Connections;
    }

    /// <summary>Bucket size in connections: the burst when given, else one second's worth (nft's default).</summary>
    public static int BucketSize(int ratePerSecond, int burst) => Math.Max(1, burst > 0 ? burst : ratePerSecond);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(int farmId, IpAddr source)
    {
        ulong h = (source.Hi ^ _k0) * 0x9E37_79B9_7F4A_7C15UL;
        h ^= (source.Lo + _k1) * 0xC2B2_AE3D_27D4_EB4FUL;
        h ^= (ulong)(uint)farmId * 0x1656_67B1_9E37_79F9UL;
        h ^= h >> 29;
        return (int)h & _mask;
    }

    private int Find(int farmId, IpAddr source)
    {
        int i = Home(farmId, source);
        for (int probe = 0; probe < MaxProbe; probe++, i = (i + 1) & _mask)
        {
            ref var s = ref _slots[i];
            if (s.FarmId == farmId && s.Source == source) return i;
        }
        return -1;
    }

    private int FindOrClaim(int farmId, IpAddr source, long ttlNs, long nowNs, int rate, int burst)
    {
        int home = Home(farmId, source), i = home, reusable = -1;
        for (int probe = 0; probe < MaxProbe; probe++, i = (i + 1) & _mask)
        {
            ref var s = ref _slots[i];
            if (s.FarmId == farmId && s.Source == source) return i;
            if (reusable < 0 && (s.FarmId < 0 || (s.Connections == 0 && nowNs - s.LastNs > ttlNs))) reusable = i;
        }
        if (reusable < 0) return -1;
        ref var n = ref _slots[reusable];
        n.FarmId = farmId;
        n.Source = source;
        n.Connections = 0;
        n.LastNs = nowNs;
        n.Tokens = rate > 0 ? 1_000_000_000L / rate * BucketSize(rate, burst) : 0;
        return reusable;
    }
}
