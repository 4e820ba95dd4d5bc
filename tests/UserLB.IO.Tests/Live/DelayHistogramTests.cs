using UserLB.IO.Live;

namespace UserLB.IO.Tests.Live;

public sealed class DelayHistogramTests
{
    [Theory]
    [InlineData(0L, 0)]          // ≤ 1 µs
    [InlineData(1_000L, 0)]
    [InlineData(1_001L, 1)]      // ≤ 2 µs
    [InlineData(2_000L, 1)]
    [InlineData(3_000L, 2)]      // ≤ 4 µs
    [InlineData(64_000L, 6)]     // ≤ 64 µs
    [InlineData(64_001L, 7)]     // ≤ 128 µs
    [InlineData(-5_000L, 0)]     // clocks apart: counted as no wait
    [InlineData(1_000_000_000L, DelayHistogram.Bounded)] // 1 s: above the last bound (2^19 µs)
    public void BucketOf_Nanoseconds_SmallestPowerOfTwoMicrosecondsBoundAbove(long ns, int bucket)
    {
        Assert.Equal(bucket, DelayHistogram.BucketOf(ns));
        if (bucket < DelayHistogram.Bounded) Assert.True(Math.Max(0, ns) <= DelayHistogram.UpperBoundMicroseconds(bucket) * 1000);
        if (bucket > 0) Assert.True(ns > DelayHistogram.UpperBoundMicroseconds(bucket - 1) * 1000);
    }

    [Fact]
    public void Quantile_RecordedDelays_UpperBoundOfTheBucketHoldingIt()
    {
        var h = new DelayHistogram();
        for (int i = 0; i < 98; i++) h.Record(50_000);   // 50 µs → ≤ 64
        h.Record(300_000);                               // 300 µs → ≤ 512
        h.Record(3_000_000);                             // 3 ms → ≤ 4096
        var counts = new long[DelayHistogram.Bounded + 1];
        long sum = h.AddTo(counts);
        Assert.Equal(98 * 50_000L + 300_000 + 3_000_000, sum);
        Assert.Equal(64, DelayHistogram.Quantile(counts, 0.5));
        Assert.Equal(512, DelayHistogram.Quantile(counts, 0.99));
        Assert.Equal(4096, DelayHistogram.Quantile(counts, 1.0));
        Assert.Equal(0, DelayHistogram.Quantile(new long[DelayHistogram.Bounded + 1], 0.5));
    }
}
