namespace UserLB.Engine.Limits;

/// <summary>
/// The global budget of new flows (<see cref="EngineOptions.NewFlowBudget"/>): a token bucket whose credit is kept in
/// nanoseconds, as <see cref="SourceLimiter"/>'s, so that refilling is one subtraction and no division per packet.
/// One per engine (each worker has its share of the budget); no allocation, no lock.
/// </summary>
public sealed class NewFlowBudget
{
    private readonly long _costNs, _maxNs;
    private long _creditNs, _lastNs;

    /// <param name="perSecond">New flows a second (≥ 1).</param>
    /// <param name="burst">The bucket in flows; 0: one second's worth.</param>
    public NewFlowBudget(int perSecond, int burst)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perSecond, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(burst);
        _costNs = 1_000_000_000L / perSecond;
        _maxNs = _costNs * SourceLimiter.BucketSize(perSecond, burst);
        _creditNs = _maxNs;
        _lastNs = long.MinValue;
        PerSecond = perSecond;
        Burst = SourceLimiter.BucketSize(perSecond, burst);
    }

    public int PerSecond { get; }
    public int Burst { get; }

    /// <summary>Takes one flow's worth of credit; false (nothing taken) when the bucket is empty.</summary>
    public bool TryTake(long nowNs)
    {
        // Credit earned since the last call, capped at the bucket (the first call finds it full).
        long elapsed = _lastNs == long.MinValue ? _maxNs : nowNs - _lastNs;
        if (elapsed > 0) _creditNs = elapsed >= _maxNs - _creditNs ? _maxNs : _creditNs + elapsed;
        _lastNs = nowNs;
        if (_creditNs < _costNs) return false;
        _creditNs -= _costNs;
        return true;
    }
}
