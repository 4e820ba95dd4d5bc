namespace UserLB.Engine.Balancing;

/// <summary>
/// "rr": weighted round robin, interleaved (nginx's smooth WRR, the same sequence IPVS's wrr converges to): over every W
/// consecutive picks backend i gets exactly w_i, spread out rather than in bursts. The sequence is prebuilt on change;
/// a pick is one atomic increment and a table read.
/// </summary>
public sealed class WeightedRoundRobinScheduler : IScheduler
{
    private const int MaxTable = 1 << 16;
    private readonly int[] _sequence;
    private long _position = -1;

    public WeightedRoundRobinScheduler(ReadOnlySpan<int> weights)
    {
        long total = 0;
        foreach (var w in weights) total += w;
        if (total == 0) { _sequence = []; return; }
        // Keep the table small: reduce by the gcd, then cap (beyond the cap shares are rounded).
        long g = 0;
        foreach (var w in weights) if (w > 0) g = Gcd(g, w);
        var reduced = new long[weights.Length];
        total = 0;
        for (int i = 0; i < weights.Length; i++) { reduced[i] = weights[i] / g; total += reduced[i]; }
        if (total > MaxTable)
        {
            double scale = (double)MaxTable / total;
            total = 0;
            for (int i = 0; i < reduced.Length; i++) { reduced[i] = reduced[i] == 0 ? 0 : Math.Max(1, (long)(reduced[i] * scale)); total += reduced[i]; }
        }
        _sequence = new int[total];
        var current = new long[reduced.Length];
        for (int n = 0; n < total; n++)
        {
            int best = -1;
            for (int i = 0; i < reduced.Length; i++)
            {
                current[i] += reduced[i];
                if (reduced[i] > 0 && (best < 0 || current[i] > current[best])) best = i;
            }
            current[best] -= total;
            _sequence[n] = best;
        }
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    public string Name => "rr";

    public int Pick(in SchedInput input, Random random, out ulong detail)
    {
        if (_sequence.Length == 0) { detail = 0; return -1; }
        long n = Interlocked.Increment(ref _position);
        int slot = (int)(n % _sequence.Length);
        detail = (ulong)slot;
        return _sequence[slot];
    }
}
