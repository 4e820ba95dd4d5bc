using UserLB.Engine.Balancing;
using static UserLB.Engine.Tests.Balancing.SchedulerTestData;

namespace UserLB.Engine.Tests.Balancing;

public class WeightedRandomSchedulerTests
{
    private static long[] Draw(IScheduler s, int backends, int n, int seed)
    {
        var random = new Random(seed);
        var counts = new long[backends];
        for (int i = 0; i < n; i++)
        {
            int pick = s.Pick(default, random, out _);
            Assert.InRange(pick, 0, backends - 1);
            counts[pick]++;
        }
        return counts;
    }

    [Theory]
    [InlineData("1,1", 400_000)]
    [InlineData("1,2,3,4", 1_000_000)]
    [InlineData("5,1,17,3,9", 1_000_000)]
    [InlineData("7,0,3,0,11", 1_000_000)]
    // W > 65536: the prefix-sum binary search path instead of the slot table.
    [InlineData("100000,1,0,50000,25000,30000", 2_000_000)]
    public void Pick_SeededDraws_EachShareWithinFiveSigmaOfWeight(string csv, int n)
    {
        var weights = Weights(csv);
        long total = weights.Sum(w => (long)w);
        var scheduler = new WeightedRandomScheduler(weights);
        var counts = Draw(scheduler, weights.Length, n, seed: 42);
        for (int i = 0; i < weights.Length; i++)
        {
            double p = (double)weights[i] / total;
            if (weights[i] == 0)
            {
                Assert.Equal(0, counts[i]);
                continue;
            }
            double expected = n * p;
            Assert.True(Math.Abs(counts[i] - expected) <= FiveSigma(n, p),
                $"backend {i} (weight {weights[i]}/{total}): {counts[i]} picks, expected {expected:F0} ± {FiveSigma(n, p):F0}");
            Assert.Equal(p, scheduler.Share(i), 12);
        }
    }

    [Fact]
    public void Pick_ThousandBackendsUnevenWeights_EachShareWithinFiveSigma()
    {
        const int backends = 1000, n = 3_000_000;
        var weights = new int[backends];
        for (int i = 0; i < backends; i++) weights[i] = i % 7; // 0..6: every seventh backend has weight 0
        long total = weights.Sum(w => (long)w);
        var counts = Draw(new WeightedRandomScheduler(weights), backends, n, seed: 7);
        int outside = 0;
        for (int i = 0; i < backends; i++)
        {
            double p = (double)weights[i] / total;
            if (weights[i] == 0) Assert.Equal(0, counts[i]);
            else if (Math.Abs(counts[i] - n * p) > FiveSigma(n, p)) outside++;
        }
        Assert.Equal(0, outside);
    }

    [Fact]
    public void Pick_ThousandBackendsLargeWeights_BinarySearchPathMatchesShares()
    {
        const int backends = 1000, n = 3_000_000;
        var weights = new int[backends];
        for (int i = 0; i < backends; i++) weights[i] = i % 10 == 3 ? 0 : 100 + (i * 37 % 400); // W ≈ 300 000 > 65 536
        long total = weights.Sum(w => (long)w);
        Assert.True(total > 1 << 16);
        var counts = Draw(new WeightedRandomScheduler(weights), backends, n, seed: 11);
        for (int i = 0; i < backends; i++)
        {
            double p = (double)weights[i] / total;
            if (weights[i] == 0) Assert.Equal(0, counts[i]);
            else Assert.True(Math.Abs(counts[i] - n * p) <= FiveSigma(n, p), $"backend {i}: {counts[i]} vs {n * p:F0}");
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0,0,0")]
    public void Pick_AllWeightsZero_ReturnsMinusOne(string csv)
    {
        var s = new WeightedRandomScheduler(Weights(csv));
        Assert.Equal(-1, s.Pick(default, new Random(1), out _));
    }

    [Fact]
    public void Pick_NoBackends_ReturnsMinusOne()
    {
        var s = new WeightedRandomScheduler([]);
        Assert.Equal(-1, s.Pick(default, new Random(1), out _));
    }

    [Fact]
    public void Pick_SameSeed_SameSequence()
    {
        var s = new WeightedRandomScheduler([1, 2, 3, 4]);
        Random a = new(99), b = new(99);
        for (int i = 0; i < 1000; i++) Assert.Equal(s.Pick(default, a, out _), s.Pick(default, b, out _));
    }

    [Fact]
    public void Pick_Detail_IsTheDrawAndFallsInThePickedShare()
    {
        int[] weights = [1, 2, 3, 4];
        var s = new WeightedRandomScheduler(weights);
        var r = new Random(5);
        for (int i = 0; i < 1000; i++)
        {
            int pick = s.Pick(default, r, out ulong draw);
            long lo = weights.Take(pick).Sum(), hi = lo + weights[pick];
            Assert.InRange((long)draw, lo, hi - 1);
        }
    }
}
