using UserLB.IO.Routes;

namespace UserLB.IO.Tests.Routes;

/// <summary>
/// netlink-neigh.hex: a real RTM_GETNEIGH dump of a namespace with lo(1) p0(2) d0(3) where `ip neigh` showed
/// 192.168.1.253 lladdr 02:00:00:00:00:fd STALE, 192.168.1.252 FAILED, 192.168.1.254 lladdr 02:00:00:00:00:fe PERMANENT,
/// 2001:db8:1::fe lladdr 02:00:00:00:01:fe REACHABLE, all on d0.
/// </summary>
public class KernelNeighborsTests
{
    [Fact]
    public void Parse_CapturedDump_UsableNeighboursWithTheirMacs()
    {
        var dump = Convert.FromHexString(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Routes", "netlink-neigh.hex")).Replace("\n", "", StringComparison.Ordinal));
        var into = new List<KernelNeighbor>();
        Assert.Equal(NetlinkStatus.Done, KernelNeighbors.Parse(dump, into, out int error));
        Assert.Equal(0, error);
        string[] expected =
        [
            "192.168.1.253 02:00:00:00:00:fd 3",
            "192.168.1.254 02:00:00:00:00:fe 3",
            "2001:db8:1::fe 02:00:00:00:01:fe 3",
        ];
        Assert.Equal(expected, into.Select(n => $"{n.Address} {n.Mac} {n.InterfaceIndex}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Dump_ThisNamespace_Completes()
    {
        var neighbours = KernelNeighbors.Dump(out string? why);
        Assert.True(neighbours is not null, why);
        Assert.All(neighbours, n => Assert.False(n.Mac.IsZero));
    }
}
