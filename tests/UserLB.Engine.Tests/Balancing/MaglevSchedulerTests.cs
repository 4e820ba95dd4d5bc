using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Packets;
using static UserLB.Engine.Tests.Balancing.SchedulerTestData;

namespace UserLB.Engine.Tests.Balancing;

public class MaglevSchedulerTests
{
    private static MaglevScheduler Hash(int[] weights, ulong[] keys, HashFields fields = HashFields.SrcIp) =>
        new(weights, keys, fields, symmetric: false);

    [Theory]
    [InlineData("1,1")]
    [InlineData("1,2,3,4")]
    [InlineData("5,1,17,3,9")]
    [InlineData("3,0,2")]
    [InlineData("1,1,1,1,1,1,1,1,1,1")]
    public void Pick_RandomKeys_SharesWithinAFewPercentOfWeights(string csv)
    {
        const int n = 1_000_000;
        var weights = Weights(csv);
        long total = weights.Sum();
        var s = Hash(weights, Keys(weights.Length));
        var r = new Random(3);
        var counts = new long[weights.Length];
        for (int i = 0; i < n; i++) counts[s.Pick(RandomFlow(r), r, out _)]++;
        for (int i = 0; i < weights.Length; i++)
        {
            double p = (double)weights[i] / total;
            if (weights[i] == 0)
            {
                Assert.Equal(0, counts[i]);
                continue;
            }
            // Table quantisation (a few % of the share) plus sampling noise.
            double tolerance = 0.03 * n * p + FiveSigma(n, p);
            Assert.True(Math.Abs(counts[i] - n * p) <= tolerance,
                $"backend {i} (weight {weights[i]}/{total}): {counts[i]} of {n}, expected {n * p:F0} ± {tolerance:F0}");
        }
    }

    [Fact]
    public void Pick_SameKey_SameBackendAcrossCallsAndInstances()
    {
        int[] weights = [1, 2, 3, 4, 5];
        var keys = Keys(weights.Length);
        var a = Hash(weights, keys);
        var b = Hash(weights, keys); // another LB instance with the same backends
        var r = new Random(4);
        for (int i = 0; i < 10_000; i++)
        {
            var flow = RandomFlow(r);
            int first = a.Pick(flow, new Random(i), out ulong h1);
            Assert.Equal(first, a.Pick(flow, new Random(i + 1), out ulong h2));
            Assert.Equal(h1, h2);
            Assert.Equal(first, b.Pick(flow, r, out _));
        }
    }

    [Fact]
    public void Pick_SrcIpOnly_SourcePortDoesNotMatter()
    {
        var s = Hash([1, 1, 1, 1], Keys(4));
        var r = new Random(5);
        for (int i = 0; i < 1000; i++)
        {
            var flow = RandomFlow(r);
            int pick = s.Pick(flow, r, out _);
            Assert.Equal(pick, s.Pick(flow with { SrcPort = (ushort)(flow.SrcPort ^ 0x5a5a), DstPort = 80 }, r, out _));
        }
    }

    [Fact]
    public void Pick_SrcIpAndSrcPort_SourcePortSpreadsOneClient()
    {
        var s = Hash([1, 1, 1, 1], Keys(4), HashFields.SrcIp | HashFields.SrcPort);
        var client = RandomFlow(new Random(6));
        var seen = new HashSet<int>();
        for (ushort port = 1024; port < 1124; port++) seen.Add(s.Pick(client with { SrcPort = port }, Random.Shared, out _));
        Assert.Equal(4, seen.Count);
    }

    [Theory]
    [InlineData(10, 3)]
    [InlineData(10, 0)]
    [InlineData(20, 19)]
    [InlineData(5, 2)]
    public void Pick_OneBackendRemoved_FewKeysOfOtherBackendsMove(int n, int removed)
    {
        const int flows = 200_000;
        var names = Enumerable.Range(0, n).Select(i => "bck" + i).ToArray();
        var full = Hash([.. Enumerable.Repeat(1, n)], [.. names.Select(Schedulers.KeyOf)]);
        var rest = names.Where((_, i) => i != removed).ToArray();
        var smaller = Hash([.. Enumerable.Repeat(1, n - 1)], [.. rest.Select(Schedulers.KeyOf)]);
        var r = new Random(8);
        int stayers = 0, moved = 0;
        for (int i = 0; i < flows; i++)
        {
            var flow = RandomFlow(r);
            string before = names[full.Pick(flow, r, out _)];
            string after = rest[smaller.Pick(flow, r, out _)];
            if (before == names[removed])
            {
                Assert.NotEqual(names[removed], after);
                continue;
            }
            stayers++;
            if (before != after) moved++;
        }
        double fraction = (double)moved / stayers;
        // Maglev's promise: about 1/N of the table is disturbed by one change; keys of surviving backends mostly stay.
        Assert.True(fraction < 0.05, $"{moved} of {stayers} keys of surviving backends moved ({fraction:P2})");
    }

    [Fact]
    public void Pick_OneBackendAdded_ItTakesAboutItsShareAndOthersMoveOnlyToIt()
    {
        const int n = 10, flows = 200_000;
        var names = Enumerable.Range(0, n + 1).Select(i => "bck" + i).ToArray();
        var before = Hash([.. Enumerable.Repeat(1, n)], [.. names.Take(n).Select(Schedulers.KeyOf)]);
        var after = Hash([.. Enumerable.Repeat(1, n + 1)], [.. names.Select(Schedulers.KeyOf)]);
        var r = new Random(9);
        int toNew = 0, elsewhere = 0;
        for (int i = 0; i < flows; i++)
        {
            var flow = RandomFlow(r);
            int b = before.Pick(flow, r, out _), a = after.Pick(flow, r, out _);
            if (a == n) toNew++;
            else if (a != b) elsewhere++;
        }
        Assert.InRange((double)toNew / flows, 1.0 / (n + 1) * 0.9, 1.0 / (n + 1) * 1.1);
        Assert.True((double)elsewhere / flows < 0.05, $"{elsewhere} keys moved between old backends");
    }

    public static TheoryData<string, string, ushort, ushort> Endpoints => new()
    {
        { "192.168.101.1", "192.168.101.250", 40000, 443 },
        { "10.0.0.1", "10.0.0.2", 1, 65535 },
        { "203.0.113.9", "198.51.100.7", 5353, 53 },
        { "2001:db8::1", "2001:db8::fa", 40000, 443 },
        { "fe80::1", "2001:db8:1::10", 12345, 80 },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public void Pick_SymHash_BothDirectionsSameBackend(string a, string b, ushort pa, ushort pb)
    {
        var s = new MaglevScheduler([1, 2, 3, 4, 5, 6, 7], Keys(7), HashFields.None, symmetric: true);
        var forward = new SchedInput(IpAddr.Parse(a), IpAddr.Parse(b), pa, pb, default, default);
        var backward = new SchedInput(IpAddr.Parse(b), IpAddr.Parse(a), pb, pa, default, default);
        int f = s.Pick(forward, Random.Shared, out ulong hf);
        int g = s.Pick(backward, Random.Shared, out ulong hb);
        Assert.Equal(f, g);
        Assert.Equal(hf, hb);
        Assert.Equal("symhash", s.Name);
    }

    [Fact]
    public void Pick_SymHash_ManyRandomFlowsSymmetricAndSpread()
    {
        var s = new MaglevScheduler([1, 1, 1, 1], Keys(4), HashFields.None, symmetric: true);
        var r = new Random(10);
        var counts = new int[4];
        for (int i = 0; i < 20_000; i++)
        {
            var f = RandomFlow(r);
            int pick = s.Pick(f, r, out _);
            Assert.Equal(pick, s.Pick(new SchedInput(f.Dst, f.Src, f.DstPort, f.SrcPort, f.DstMac, f.SrcMac), r, out _));
            counts[pick]++;
        }
        Assert.All(counts, c => Assert.InRange(c, 4000, 6000));
    }

    [Fact]
    public void Pick_SymHash_SwappingOnlyPortsIsADifferentFlow()
    {
        // (a:pa → b:pb) and (a:pb → b:pa) are different flows; symmetric hashing must pair address with port.
        var s = new MaglevScheduler([1, 1, 1, 1, 1, 1, 1, 1], Keys(8), HashFields.None, symmetric: true);
        var r = new Random(12);
        int different = 0;
        for (int i = 0; i < 1000; i++)
        {
            var f = RandomFlow(r);
            s.Pick(f, r, out ulong h1);
            s.Pick(f with { SrcPort = f.DstPort, DstPort = f.SrcPort }, r, out ulong h2);
            if (h1 != h2) different++;
        }
        Assert.True(different > 990);
    }

    [Fact]
    public void Pick_AllWeightsZero_ReturnsMinusOne()
    {
        var s = Hash([0, 0], Keys(2));
        Assert.Equal(-1, s.Pick(RandomFlow(new Random(1)), Random.Shared, out _));
    }
}
