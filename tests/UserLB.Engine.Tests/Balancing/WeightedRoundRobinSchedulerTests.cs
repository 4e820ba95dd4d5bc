using UserLB.Engine.Balancing;
using static UserLB.Engine.Tests.Balancing.SchedulerTestData;

namespace UserLB.Engine.Tests.Balancing;

public class WeightedRoundRobinSchedulerTests
{
    private static int[] Picks(IScheduler s, int n)
    {
        var r = new Random(1);
        var picks = new int[n];
        for (int i = 0; i < n; i++) picks[i] = s.Pick(default, r, out _);
        return picks;
    }

    [Theory]
    [InlineData("1,1")]
    [InlineData("1,2,3,4")]
    [InlineData("5,1,17,3,9")]
    [InlineData("2,4,6")]          // reduced by the gcd to 1,2,3
    [InlineData("3,0,2")]
    [InlineData("1,100")]
    public void Pick_EveryWindowOfWConsecutivePicks_ExactCounts(string csv)
    {
        var weights = Weights(csv);
        int total = weights.Sum();
        var picks = Picks(new WeightedRoundRobinScheduler(weights), 5 * total + 7);
        for (int start = 0; start + total <= picks.Length; start++)
        {
            var counts = new int[weights.Length];
            for (int k = start; k < start + total; k++) counts[picks[k]]++;
            Assert.Equal(weights, counts);
        }
    }

    [Theory]
    [InlineData("1,1")]
    [InlineData("1,2,3,4")]
    [InlineData("5,1,17,3,9")]
    [InlineData("3,0,2")]
    [InlineData("1,100")]
    [InlineData("10,10,1")]
    public void Pick_AnyPrefix_NoBackendAheadOrBehindItsShareByMoreThanOne(string csv)
    {
        var weights = Weights(csv);
        int total = weights.Sum();
        var picks = Picks(new WeightedRoundRobinScheduler(weights), 3 * total);
        var counts = new int[weights.Length];
        for (int k = 1; k <= picks.Length; k++)
        {
            counts[picks[k - 1]]++;
            for (int i = 0; i < weights.Length; i++)
            {
                double ideal = (double)weights[i] * k / total;
                Assert.True(counts[i] <= Math.Ceiling(ideal) + 1, $"prefix {k}: backend {i} picked {counts[i]} times, share {ideal:F2}");
                Assert.True(counts[i] >= Math.Floor(ideal) - 1, $"prefix {k}: backend {i} picked only {counts[i]} times, share {ideal:F2}");
            }
        }
    }

    [Fact]
    public void Pick_FiveToOne_IsSpreadNotBursty()
    {
        // nginx's smooth WRR for {a:5, b:1, c:1} gives a a b a c a a — never five a's in a row.
        var picks = Picks(new WeightedRoundRobinScheduler([5, 1, 1]), 7);
        Assert.Equal([0, 0, 1, 0, 2, 0, 0], picks);
    }

    [Fact]
    public void Pick_ThousandBackends_ExactCountsPerPeriodAndZeroNeverPicked()
    {
        var weights = new int[1000];
        for (int i = 0; i < weights.Length; i++) weights[i] = i % 5; // every fifth has weight 0
        int total = weights.Sum();
        var picks = Picks(new WeightedRoundRobinScheduler(weights), 2 * total);
        var counts = new int[weights.Length];
        foreach (var p in picks) counts[p]++;
        for (int i = 0; i < weights.Length; i++) Assert.Equal(2 * weights[i], counts[i]);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0,0")]
    public void Pick_AllWeightsZero_ReturnsMinusOne(string csv) =>
        Assert.Equal(-1, new WeightedRoundRobinScheduler(Weights(csv)).Pick(default, new Random(1), out _));

    [Fact]
    public void Pick_IgnoresRandom_SequenceIsDeterministic()
    {
        var a = new WeightedRoundRobinScheduler([1, 2, 3, 4]);
        var b = new WeightedRoundRobinScheduler([1, 2, 3, 4]);
        var ra = new Random(1);
        var rb = new Random(2);
        for (int i = 0; i < 100; i++) Assert.Equal(a.Pick(default, ra, out _), b.Pick(default, rb, out _));
    }

    [Fact]
    public void Pick_HugeWeightsBeyondTableCap_BothBackendsStillPicked()
    {
        // W = 100 001 > 65 536: shares are rounded, but the weight-1 backend must not vanish.
        var picks = Picks(new WeightedRoundRobinScheduler([100_000, 1]), 70_000);
        Assert.Contains(1, picks);
        Assert.True(picks.Count(p => p == 0) > 65_000);
    }
}
