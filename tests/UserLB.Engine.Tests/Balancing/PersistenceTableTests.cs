using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Packets;

namespace UserLB.Engine.Tests.Balancing;

public class PersistenceTableTests
{
    private const long S = 1_000_000_000L;

    private static SchedInput Client(uint ip, ushort port = 40000) =>
        new(IpAddr.FromV4(0xC0A8_6500 | ip), IpAddr.Parse("192.168.101.250"), port, 443, default, default);

    [Fact]
    public void TryGet_WithinTtl_ReturnsBackendForAnyPortOfTheClient()
    {
        var t = new PersistenceTable();
        t.Set(0, Client(1), HashFields.SrcIp, backendId: 7, nowNs: 0, expiresNs: 60 * S);
        Assert.True(t.TryGet(0, Client(1, 50000), HashFields.SrcIp, 59 * S, out int b));
        Assert.Equal(7, b);
        Assert.False(t.TryGet(0, Client(2), HashFields.SrcIp, 1 * S, out _));
        Assert.False(t.TryGet(1, Client(1), HashFields.SrcIp, 1 * S, out _)); // another farm
    }

    [Fact]
    public void TryGet_AtOrAfterExpiry_MissAndRemoved()
    {
        var t = new PersistenceTable();
        t.Set(0, Client(1), HashFields.SrcIp, 7, 0, 60 * S);
        Assert.False(t.TryGet(0, Client(1), HashFields.SrcIp, 60 * S, out int b));
        Assert.Equal(-1, b);
        Assert.Equal(0, t.Count);
    }

    [Fact]
    public void Set_TableFull_PurgesOnlyExpiredEntries()
    {
        var t = new PersistenceTable(maxEntries: 4);
        // Clients 1 and 2 expired at 10 s; clients 3 and 4 were set at 19 s with a 60 s TTL (live until 79 s).
        t.Set(0, Client(1), HashFields.SrcIp, 1, 0, 10 * S);
        t.Set(0, Client(2), HashFields.SrcIp, 2, 0, 10 * S);
        t.Set(0, Client(3), HashFields.SrcIp, 3, 19 * S, 79 * S);
        t.Set(0, Client(4), HashFields.SrcIp, 4, 19 * S, 79 * S);
        // At 20 s client 5 arrives (TTL 60 s): the table is full, two entries are expired and can make room.
        t.Set(0, Client(5), HashFields.SrcIp, 5, 20 * S, 80 * S);
        Assert.True(t.TryGet(0, Client(3), HashFields.SrcIp, 21 * S, out int b3), "live client 3 was purged");
        Assert.Equal(3, b3);
        Assert.True(t.TryGet(0, Client(4), HashFields.SrcIp, 21 * S, out _), "live client 4 was purged");
        Assert.True(t.TryGet(0, Client(5), HashFields.SrcIp, 21 * S, out _));
    }

    [Fact]
    public void CollectAndRemove_LearnedClients_ListsLiveOnesOfTheFarmAndForgetsOne()
    {
        var t = new PersistenceTable();
        t.Set(0, Client(1), HashFields.SrcIp, 7, 0, 60 * S);
        t.Set(0, Client(2), HashFields.SrcIp, 8, 0, 10 * S);  // expired at 20 s
        t.Set(1, Client(3), HashFields.SrcIp, 9, 0, 60 * S);  // another farm
        var list = new List<PersistedClient>();
        t.Collect(0, 20 * S, list);
        Assert.Equal([new PersistedClient(0, Client(1), 7, 60 * S)], list);
        Assert.True(t.Remove(0, Client(1, 50000), HashFields.SrcIp)); // the key is the source address only
        Assert.False(t.TryGet(0, Client(1), HashFields.SrcIp, 21 * S, out _));
        Assert.False(t.Remove(0, Client(1), HashFields.SrcIp));
        Assert.True(t.TryGet(1, Client(3), HashFields.SrcIp, 21 * S, out _));
    }
}
