using UserLB.Engine.Conntrack;

namespace UserLB.Engine.Limits;

/// <summary>
/// The global budget of new flows (<see cref="EngineOptions.NewFlowBudget"/>): a <see cref="TokenBucket"/>.
/// A packet over the budget is remembered by its tuple for <see cref="RetryWindowNs"/>; the same tuple again (a client's
/// SYN retransmission, 1 s later) is admitted over the budget: a flood from random sources never repeats a tuple, a real
/// client does, so it gets in on its first retry. One per engine (each worker has its share of the budget); no
/// allocation after construction, no lock.
/// </summary>
public sealed class NewFlowBudget
{
    /// <summary>How long a dropped tuple is remembered (a SYN is retransmitted 1 s and 3 s after the first).</summary>
    public const long RetryWindowNs = 10_000_000_000L;

    /// <summary>Dropped tuples remembered: a slot holds one for 2^20 drops (7 s of a flood of 150,000 SYNs a second).</summary>
    private const int Slots = 1 << 20;

    private TokenBucket _bucket;
    private readonly ulong _key;
    /// <summary>Per slot: the tuple's fingerprint (upper 32 bits, never 0) and the drop's time in ms (lower 32).</summary>
    private readonly ulong[] _dropped = new ulong[Slots];

    /// <param name="perSecond">New flows a second (≥ 1).</param>
    /// <param name="burst">The bucket in flows; 0: one second's worth.</param>
    /// <param name="hashKey">Key of the tuple hash (keeps the slots unpredictable).</param>
    public NewFlowBudget(int perSecond, int burst, ulong hashKey = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perSecond, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(burst);
        _bucket = new TokenBucket(perSecond, SourceLimiter.BucketSize(perSecond, burst));
        _key = hashKey;
        PerSecond = perSecond;
        Burst = SourceLimiter.BucketSize(perSecond, burst);
    }

    public int PerSecond { get; }
    public int Burst { get; }

    /// <summary>Takes one flow's worth of credit; false (nothing taken) when the bucket is empty.</summary>
    public bool TryTake(long nowNs) => _bucket.TryTake(nowNs);

    /// <summary>
    /// <see cref="TryTake"/> for a packet of <paramref name="tuple"/>, which would start a flow: <see cref="BudgetVerdict.Admitted"/>
    /// with credit; else <see cref="BudgetVerdict.Retry"/> when the same tuple was dropped in the last
    /// <see cref="RetryWindowNs"/> (it is forgotten then), or <see cref="BudgetVerdict.Dropped"/> (and remembered).
    /// </summary>
    public BudgetVerdict Admit(in FlowTuple tuple, long nowNs)
    {
        if (TryTake(nowNs)) return BudgetVerdict.Admitted;
        ulong h = tuple.Hash(_key);
        ref ulong slot = ref _dropped[(int)(h & (Slots - 1))];
        ulong fingerprint = (h >> 32 | 1) << 32;
        uint nowMs = (uint)(nowNs / 1_000_000);
        if ((slot & 0xFFFF_FFFF_0000_0000UL) == fingerprint && nowMs - (uint)slot <= (uint)(RetryWindowNs / 1_000_000))
        {
            slot = 0;
            return BudgetVerdict.Retry;
        }
        slot = fingerprint | nowMs;
        return BudgetVerdict.Dropped;
    }
}

/// <summary>What <see cref="NewFlowBudget.Admit"/> decided.</summary>
public enum BudgetVerdict : byte
{
    Admitted,
    /// <summary>Over the budget, but the tuple was dropped a moment ago: a client trying again, admitted.</summary>
    Retry,
    Dropped,
}
