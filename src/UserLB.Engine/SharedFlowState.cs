using UserLB.Engine.Balancing;
using UserLB.Engine.Limits;

namespace UserLB.Engine;

/// <summary>
/// The state that makes N sharded engines (<see cref="EngineOptions.ShardCount"/>) behave as one load balancer: flows
/// are sharded by the client's port, so one client's connections land on different workers, yet learned persistence
/// (nftlb <c>persistence</c>), the per-client limits (<c>new-rtlimit</c>, <c>est-connlimit</c>) and a backend's
/// <c>est-connlimit</c> are about the client and the backend, not the flow. Engines given one instance through
/// <see cref="EngineOptions.Shared"/> share it. Only new flows, flow removal, state restore and the control plane touch
/// it, never a packet of an established flow: the persistence table and the limiter under <see cref="Gate"/> (taken
/// only for farms that use them), the per-backend connection counts with interlocked operations.
/// </summary>
public sealed class SharedFlowState
{
    private const int ChunkBits = 8;
    private const int ChunkSize = 1 << ChunkBits;

    /// <summary>Live connections by backend id, in chunks that never move once allocated (so interlocked updates
    /// of one chunk are never lost to a resize); the chunk index grows under <see cref="Gate"/>.</summary>
    private long[]?[] _active = [];

    /// <param name="limiterSlots">Clients the shared limiter tracks at once (<see cref="EngineOptions.LimiterSlots"/> is per private engine).</param>
    /// <param name="seed">Seed of the limiter's hash key; null = unpredictable.</param>
    public SharedFlowState(int limiterSlots = 65_536, int? seed = null)
    {
        var random = seed is int s ? new Random(s) : new Random();
        ulong hashKey = (ulong)random.NextInt64() ^ ((ulong)random.NextInt64() << 1);
        Limiter = new SourceLimiter(limiterSlots, hashKey * 0x9E37_79B9_7F4A_7C15UL + 1);
    }

    /// <summary>Guards <see cref="Persistence"/> and <see cref="Limiter"/>.</summary>
    internal Lock Gate { get; } = new();

    /// <summary>Learned persistence of every engine sharing this state. Take the lock: <see cref="WithSourceTables"/>.</summary>
    public PersistenceTable Persistence { get; } = new();

    /// <summary>The per-client limiter of every engine sharing this state. Take the lock: <see cref="WithSourceTables"/>.</summary>
    public SourceLimiter Limiter { get; }

    /// <summary>Runs a control-plane action on the persistence table and the limiter while no engine changes them.</summary>
    public T WithSourceTables<T>(Func<PersistenceTable, SourceLimiter, T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        lock (Gate) return action(Persistence, Limiter);
    }

    /// <summary>Live connections of a backend over every engine sharing this state.</summary>
    public long BackendActive(int backendId)
    {
        var chunks = Volatile.Read(ref _active);
        int c = backendId >> ChunkBits;
        return backendId < 0 || c >= chunks.Length || chunks[c] is not { } chunk ? 0 : Interlocked.Read(ref chunk[backendId & (ChunkSize - 1)]);
    }

    /// <summary>Counts one more connection of a backend unless that would take it over <paramref name="limit"/>
    /// (0 = no limit). Never over the limit, even when engines race: each increments, and one that went over undoes.</summary>
    internal bool TryAddBackend(int backendId, int limit)
    {
        if (backendId < 0) return true;
        ref long count = ref Counter(backendId);
        long n = Interlocked.Increment(ref count);
        if (limit > 0 && n > limit)
        {
            Interlocked.Decrement(ref count);
            return false;
        }
        return true;
    }

    /// <summary>A connection counted by <see cref="TryAddBackend"/> has ended.</summary>
    internal void ReleaseBackend(int backendId)
    {
        if (backendId < 0) return;
        Interlocked.Decrement(ref Counter(backendId));
    }

    private ref long Counter(int backendId)
    {
        var chunks = Volatile.Read(ref _active);
        int c = backendId >> ChunkBits;
        if (c < chunks.Length && chunks[c] is { } chunk) return ref chunk[backendId & (ChunkSize - 1)];
        return ref Grow(backendId);
    }

    private ref long Grow(int backendId)
    {
        lock (Gate)
        {
            int c = backendId >> ChunkBits;
            var chunks = _active;
            if (c >= chunks.Length)
            {
                var bigger = new long[]?[Math.Max(c + 1, chunks.Length * 2)];
                chunks.CopyTo(bigger, 0);
                chunks = bigger;
            }
            var chunk = chunks[c] ??= new long[ChunkSize];
            Volatile.Write(ref _active, chunks);
            return ref chunk[backendId & (ChunkSize - 1)];
        }
    }
}
