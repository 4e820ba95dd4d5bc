namespace UserLB.Engine.Limits;

/// <summary>
/// A token bucket whose credit is kept in nanoseconds: refilling is one subtraction and no division per packet. The
/// first call finds it full. A mutable struct: keep it in a field, not a readonly one.
/// </summary>
public struct TokenBucket
{
    private readonly long _costNs, _maxNs;
    private long _creditNs, _lastNs;

    /// <param name="perSecond">Tokens a second (≥ 1).</param>
    /// <param name="size">The bucket in tokens (≥ 1).</param>
    public TokenBucket(int perSecond, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _costNs = 1_000_000_000L / perSecond;
        _maxNs = _costNs * size;
        _creditNs = _maxNs;
        _lastNs = long.MinValue;
    }

    /// <summary>Takes one token; false (nothing taken) when the bucket is empty.</summary>
    public bool TryTake(long nowNs)
    {
        // Credit earned since the last call, capped at the bucket.
        long elapsed = _lastNs == long.MinValue ? _maxNs : nowNs - _lastNs;
        if (elapsed > 0) _creditNs = elapsed >= _maxNs - _creditNs ? _maxNs : _creditNs + elapsed;
        _lastNs = nowNs;
        if (_creditNs < _costNs) return false;
        _creditNs -= _costNs;
        return true;
    }
}
