using UserLB.Engine.L2;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>SYN floods from spoofed sources: the table and the neighbour table stay bounded, established flows are untouched.</summary>
public class FloodTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private static IpAddr Spoofed(int i) => IpAddr.FromV4(0xC612_0000u + (uint)i + 1); // 198.18.0.0/15

    /// <summary>A flood SYN from spoofed source number <paramref name="i"/> (all sent by the client's MAC, as from one host).</summary>
    private static byte[] FloodSyn(int i) =>
        Tcp(ClientMac, Spoofed(i).ToString(), "192.168.101.250", (ushort)(1024 + i % 60000), 443, Syn, seq: (uint)i);

    [Fact]
    public void Process_SynFloodWithTableFull_EstablishedFlowForwardedThroughoutAndTableBounded()
    {
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1, MaxConnections = 64 });
        h.LearnBackends();
        // The long-lived connection, established (ASSURED) before the flood.
        var syn = h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, Syn), S);
        h.Forward(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 443, 40000, Syn | Ack, seq: 5000, ack: 1001), S + Ms);
        h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, Ack, seq: 1001, ack: 5001), S + 2 * Ms);
        Assert.Equal("192.168.1.10", Dst(syn));

        const int Flood = 20_000;
        int forwardedUp = 0, forwardedDown = 0;
        long t = 2 * S;
        for (int i = 0; i < Flood; i++)
        {
            t += 50_000; // 20,000 SYNs a second
            Assert.Single(h.Process(FloodSyn(i), t)); // each SYN takes an unassured entry's place
            if (i % 100 == 0)
            {
                forwardedUp += h.Process(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, Psh | Ack, seq: 1001, ack: 5001, payload: 10), t).Count;
                forwardedDown += h.Process(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 443, 40000, Psh | Ack, seq: 5001, ack: 1011, payload: 10), t).Count;
            }
        }
        Assert.Equal(Flood / 100, forwardedUp);
        Assert.Equal(Flood / 100, forwardedDown);
        Assert.Equal(64, h.Engine.Table.Count);
        Assert.Equal(Flood - 63, h.Engine.Table.EarlyDrops);
        Assert.Equal(0, h.Counters.Drops[(int)DropReason.TableFull]);
        // A new client is still admitted (in place of a half-open flood entry) and completes its handshake.
        var s2 = h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", "192.168.101.250", 40001, 443, Syn), t + Ms);
        h.Forward(Tcp(MacOf(Dst(s2)), Dst(s2), "192.168.101.250", 443, Tcp(s2).SourcePort, Syn | Ack, seq: 7000, ack: 1001), t + 2 * Ms);
        h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", "192.168.101.250", 40001, 443, Ack, seq: 1001, ack: 7001), t + 3 * Ms);
    }

    private static string MacOf(string backend) => backend == "192.168.1.10" ? Bck0Mac : Bck1Mac;

    [Fact]
    public void Process_SynFloodFromMoreSourcesThanTheNeighbourTableHolds_TableBoundedAndKnownNeighboursKept()
    {
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1, MaxConnections = 1024 });
        h.LearnBackends();
        // 70,000 sources, each learned as a neighbour (the sender of a new flow): far more than the table's 65,536.
        const int Flood = 70_000;
        long t = S;
        for (int i = 0; i < Flood; i++)
        {
            t += 10_000;
            h.Engine.Process(FloodSyn(i), 0, t);
            if (i % 1000 == 0) h.LearnBackends(t); // the backends keep talking (ARP refresh)
        }
        Assert.Equal(65_536, h.Engine.Neighbors.Count);
        Assert.Equal(Flood + 2 - 65_536, h.Engine.Neighbors.Evictions);
        Assert.True(h.Engine.Neighbors.Contains(IpAddr.Parse("192.168.1.10")));
        Assert.True(h.Engine.Neighbors.Contains(Spoofed(Flood - 1)));
        Assert.False(h.Engine.Neighbors.Contains(Spoofed(0)));
        h.AssertInvariant();
    }

    [Fact]
    public void Learn_TableFull_EvictsOldestInsertedUnlessSeenAgain()
    {
        var n = new NeighborTable(4);
        var mac = MacAddress.Parse("02:00:00:00:00:01");
        IpAddr A(int i) => IpAddr.FromV4(0x0A00_0000u + (uint)i);
        for (int i = 1; i <= 4; i++) n.Learn(A(i), mac, 0, i);
        n.Learn(A(1), mac, 0, 10); // seen again: a second chance
        n.Learn(A(5), mac, 0, 11);
        Assert.Equal(4, n.Count);
        Assert.False(n.Contains(A(2)));
        Assert.True(n.Contains(A(1)));
        n.Learn(A(6), mac, 0, 12);
        n.Learn(A(7), mac, 0, 13);
        Assert.False(n.Contains(A(3)));
        Assert.False(n.Contains(A(4)));
        n.Learn(A(8), mac, 0, 14); // 1's second chance is used up
        Assert.False(n.Contains(A(1)));
        Assert.Equal(4, n.Evictions);
        foreach (int i in new[] { 5, 6, 7, 8 }) Assert.True(n.Contains(A(i)));
    }

    [Fact]
    public void Enqueue_ManyUnresolvedNeighbours_QueuesBoundedExtraFramesDroppedUnasked()
    {
        var n = new NeighborTable();
        var frame = new byte[60];
        IpAddr A(int i) => IpAddr.FromV4(0x0A00_0000u + (uint)i);
        int solicited = 0, dropped = 0;
        for (int i = 0; i < NeighborTable.MaxPendingNeighbors + 100; i++)
        {
            if (n.Enqueue(A(i), frame, 0, 0, out bool queued)) solicited++;
            if (!queued) dropped++;
        }
        Assert.Equal(NeighborTable.MaxPendingNeighbors, solicited);
        Assert.Equal(100, dropped);
        Assert.Equal(NeighborTable.MaxPendingNeighbors, n.PendingFrames);
        Assert.True(n.Enqueue(A(0), frame, 0, 0, out bool again) == false && again); // a neighbour already waited for still queues
    }

    [Fact]
    public void Learn_TableFullOfAFloodsSenders_NextHopsInUseKept()
    {
        // A backend learned once and pinned (an established flow's next hop) stays while a flood's senders go.
        var n = new NeighborTable(100);
        var mac = MacAddress.Parse("02:00:00:00:00:01");
        IpAddr A(int i) => IpAddr.FromV4(0x0A00_0000u + (uint)i);
        var backend = IpAddr.Parse("192.168.1.10");
        n.Learn(backend, mac, 1, 0);
        for (int i = 0; i < 10_000; i++)
        {
            n.Learn(A(i), mac, 0, i);
            if (i == 0) n.Pin(backend);
            if (i % 1000 == 0) Assert.True(n.TryGet(backend, out _, out _));
        }
        Assert.True(n.Contains(backend));
        Assert.Equal(100, n.Count);
        Assert.Equal(10_001 - 100, n.Evictions);
    }

    [Fact]
    public void Learn_EveryEntryPinned_EvictionStillBounded()
    {
        // When every entry is pinned, an eviction passes over at most 64 of them and takes the next.
        var n = new NeighborTable(1000);
        var mac = MacAddress.Parse("02:00:00:00:00:01");
        IpAddr A(int i) => IpAddr.FromV4(0x0A00_0000u + (uint)i);
        for (int i = 0; i < 1000; i++)
        {
            n.Learn(A(i), mac, 0, i);
            n.Pin(A(i));
        }
        n.Learn(A(5000), mac, 0, 5000);
        Assert.Equal(1000, n.Count);
        Assert.False(n.Contains(A(64)));     // the 65th oldest: the first 64 were passed over
        Assert.True(n.Contains(A(0)));
        Assert.True(n.Contains(A(5000)));
    }
}
