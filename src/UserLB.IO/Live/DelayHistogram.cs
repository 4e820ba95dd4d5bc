using System.Numerics;

namespace UserLB.IO.Live;

/// <summary>
/// How long received frames waited between the kernel taking them in and userlb reading them (the kernel's receive
/// timestamp in the AF_PACKET ring slot against the clock at read time): the wake-up and scheduling part of userlb's
/// latency, which the kernel's own forwarding does not pay. Power-of-two buckets of microseconds (≤ 1, 2, 4 … 2^19 µs,
/// then more); one writer (the port's receive thread), readers see a consistent-enough copy.
/// </summary>
public sealed class DelayHistogram
{
    /// <summary>Buckets with an upper bound (2^0 … 2^19 µs); one more counts everything above.</summary>
    public const int Bounded = 20;
    private readonly long[] _counts = new long[Bounded + 1];
    private long _sumNs;

    /// <summary>Upper bound of bucket <paramref name="b"/> in microseconds (+∞ for the last).</summary>
    public static double UpperBoundMicroseconds(int b) => b >= Bounded ? double.PositiveInfinity : 1L << b;

    public static int BucketOf(long ns)
    {
        long us = (Math.Max(0, ns) + 999) / 1000;
        int b = us <= 1 ? 0 : 64 - BitOperations.LeadingZeroCount((ulong)(us - 1));
        return Math.Min(b, Bounded);
    }

    public void Record(long ns)
    {
        int b = BucketOf(ns);
        Volatile.Write(ref _counts[b], _counts[b] + 1);
        Volatile.Write(ref _sumNs, _sumNs + Math.Max(0, ns));
    }

    /// <summary>Adds this histogram's counts into <paramref name="counts"/> (length <see cref="Bounded"/> + 1); returns the sum of delays in ns.</summary>
    public long AddTo(long[] counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        for (int i = 0; i <= Bounded; i++) counts[i] += Volatile.Read(ref _counts[i]);
        return Volatile.Read(ref _sumNs);
    }

    /// <summary>The upper bound (µs) of the bucket holding quantile <paramref name="q"/> of <paramref name="counts"/>; 0 when empty.</summary>
    public static double Quantile(long[] counts, double q)
    {
        ArgumentNullException.ThrowIfNull(counts);
        long total = 0;
        foreach (long c in counts) total += c;
        if (total == 0) return 0;
        long rank = (long)Math.Ceiling(q * total);
        long seen = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank) return UpperBoundMicroseconds(i);
        }
        return double.PositiveInfinity;
    }
}
