namespace UserLB.Engine.Balancing;

/// <summary>
/// "weight": a uniform draw in [0, W) mapped to the backend owning that share, so backend i is chosen with probability
/// exactly w_i / W for any number of backends (what the reference's statistic-mode-random cascade approximates).
/// A slot table of W entries when W is small (O(1) pick), else a binary search over prefix sums.
/// </summary>
public sealed class WeightedRandomScheduler : IScheduler
{
    private const int MaxTable = 1 << 16;
    private readonly int[]? _table;
    private readonly long[] _prefix; // prefix[i] = w_0 + … + w_i
    private readonly long _total;

    public WeightedRandomScheduler(ReadOnlySpan<int> weights)
    {
        _prefix = new long[weights.Length];
        long sum = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            sum += weights[i];
            _prefix[i] = sum;
        }
        _total = sum;
        if (sum > 0 && sum <= MaxTable)
        {
            _table = new int[sum];
            int slot = 0;
            for (int i = 0; i < weights.Length; i++)
                for (int k = 0; k < weights[i]; k++) _table[slot++] = i;
        }
    }

    public string Name => "weight";

    public int Pick(in SchedInput input, Random random, out ulong detail)
    {
        if (_total == 0) { detail = 0; return -1; }
        long r = random.NextInt64(_total);
        detail = (ulong)r;
        if (_table is not null) return _table[r];
        int lo = 0, hi = _prefix.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_prefix[mid] > r) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    /// <summary>The share of candidate <paramref name="index"/> (w_i / W).</summary>
    public double Share(int index) => (double)(_prefix[index] - (index == 0 ? 0 : _prefix[index - 1])) / _total;
}
