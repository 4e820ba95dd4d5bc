using UserLB.Engine.L2;
using UserLB.Packets;

namespace UserLB.Engine.Tests.Engine;

/// <summary><see cref="NeighborTable.Forget"/>: a backend whose route moved to another interface is resolved again.</summary>
public class NeighborForgetTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("02:00:00:00:00:01");

    [Fact]
    public void Forget_KnownNeighbour_GoneAndCachesInvalidated()
    {
        var n = new NeighborTable(4);
        var a = IpAddr.Parse("192.168.1.10");
        n.Learn(a, Mac, 1, 1);
        int version = n.Version;
        Assert.True(n.Forget(a));
        Assert.False(n.TryGet(a, out _, out _));
        Assert.NotEqual(version, n.Version); // flows that cached its MAC look it up again
        Assert.True(n.Learn(a, Mac, 0, 2)); // learned anew, on another port
        Assert.True(n.TryGet(a, out _, out int port));
        Assert.Equal(0, port);
    }

    [Fact]
    public void Forget_UnknownNeighbour_FalseNothingChanges()
    {
        var n = new NeighborTable(4);
        n.Learn(IpAddr.Parse("192.168.1.11"), Mac, 1, 1);
        int version = n.Version;
        Assert.False(n.Forget(IpAddr.Parse("192.168.1.10")));
        Assert.Equal(version, n.Version);
        Assert.Equal(1, n.Count);
    }

    [Fact]
    public void Forget_ThenTableFills_EvictionSkipsTheForgottenSlot()
    {
        var n = new NeighborTable(2);
        IpAddr A(int i) => IpAddr.FromV4(0x0A00_0000u + (uint)i);
        n.Learn(A(1), Mac, 0, 1);
        n.Learn(A(2), Mac, 0, 2);
        n.Forget(A(1));
        n.Learn(A(3), Mac, 0, 3); // room: the forgotten one freed it
        n.Learn(A(4), Mac, 0, 4); // full: evicts A(2), the oldest still there
        Assert.Equal(2, n.Count);
        Assert.False(n.Contains(A(2)));
        Assert.True(n.Contains(A(3)) && n.Contains(A(4)));
    }
}
