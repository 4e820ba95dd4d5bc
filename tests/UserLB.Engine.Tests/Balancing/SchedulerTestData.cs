using System.Globalization;
using UserLB.Engine.Balancing;
using UserLB.Packets;

namespace UserLB.Engine.Tests.Balancing;

/// <summary>Helpers shared by the scheduler tests.</summary>
internal static class SchedulerTestData
{
    public static int[] Weights(string csv) =>
        [.. csv.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

    /// <summary>A flow from a random IPv4 client to a fixed VIP (random source port).</summary>
    public static SchedInput RandomFlow(Random r) =>
        new(IpAddr.FromV4((uint)r.Next()), IpAddr.Parse("192.168.101.250"), (ushort)r.Next(1024, 65536), 443,
            new MacAddress((ulong)r.NextInt64(0, 1L << 48) & ~0x0100_0000_0000UL), new MacAddress(0x02_00_00_00_00_FEUL));

    /// <summary>Five binomial standard deviations of the count of a share <paramref name="p"/> over <paramref name="n"/> draws.</summary>
    public static double FiveSigma(long n, double p) => 5 * Math.Sqrt(n * p * (1 - p));

    public static ulong[] Keys(int n, string prefix = "bck") =>
        [.. Enumerable.Range(0, n).Select(i => Schedulers.KeyOf(prefix + i.ToString(CultureInfo.InvariantCulture)))];
}
