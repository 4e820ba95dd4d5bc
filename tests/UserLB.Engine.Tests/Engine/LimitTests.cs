using UserLB.Engine.Limits;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>nftlb's farm limits: new-rtlimit (+ burst), est-connlimit (farm per client, backend total), tcp-strict; table full.</summary>
public class LimitTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr"EXTRA,
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"BEXTRA},{"name":"bck1","ip-addr":"192.168.1.11"BEXTRA}]}]}
        """;

    private static string Config(string extra, string backendExtra = "") =>
        Farm.Replace("BEXTRA", backendExtra).Replace("EXTRA", extra);

    private static byte[] Syn(string client, ushort port) =>
        Tcp("02:00:00:00:01:" + client.Split('.')[3], client, "192.168.101.250", port, 443, TestFrames.Syn);

    private static byte[] SynAck(string backend, ushort port) =>
        Tcp(backend == "192.168.1.10" ? Bck0Mac : Bck1Mac, backend, "192.168.101.250", 443, port, (byte)(TestFrames.Syn | Ack));

    private static byte[] Rst(string client, ushort port) =>
        Tcp("02:00:00:00:01:" + client.Split('.')[3], client, "192.168.101.250", port, 443, (byte)(TestFrames.Rst | Ack));

    [Fact]
    public void Process_NewRateLimitWithBurst_BurstAdmittedThenOnePerInterval()
    {
        var h = new EngineHarness(Config(""" ,"new-rtlimit":"10/second","new-rtlimit-burst":"3" """));
        h.LearnBackends();
        ushort port = 40000;
        // A burst of 3 at the same instant, then the 4th is over the limit.
        for (int i = 0; i < 3; i++) Assert.Single(h.Process(Syn("192.168.101.1", port++), S));
        Assert.Empty(h.Process(Syn("192.168.101.1", port++), S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.RateLimited]);
        // Another client has its own bucket.
        Assert.Single(h.Process(Syn("192.168.101.2", port++), S));
        // 100 ms later one token (1/10 s) has come back: one more, not two.
        Assert.Single(h.Process(Syn("192.168.101.1", port++), S + 100 * Ms));
        Assert.Empty(h.Process(Syn("192.168.101.1", port++), S + 100 * Ms));
        Assert.Equal(2, h.Counters.Drops[(int)DropReason.RateLimited]);
    }

    [Fact]
    public void Process_NewRateLimitSustained_AdmitsTheRate()
    {
        var h = new EngineHarness(Config(""" ,"new-rtlimit":"20/second" """));
        h.LearnBackends();
        int admitted = 0;
        // 200 new connections a second for 5 s from one client: about 20/s (+ one bucket) pass.
        for (int i = 0; i < 1000; i++)
            admitted += h.Process(Syn("192.168.101.1", (ushort)(20000 + i)), S + i * 5 * Ms).Count;
        Assert.InRange(admitted, 5 * 20, 5 * 20 + 20 + 1);
        Assert.Equal(1000 - admitted, h.Counters.Drops[(int)DropReason.RateLimited]);
    }

    [Fact]
    public void Process_EstConnLimitPerClient_ExtraConnectionsDroppedUntilOneEnds()
    {
        var h = new EngineHarness(Config(""" ,"est-connlimit":"2" """));
        h.LearnBackends();
        Assert.Single(h.Process(Syn("192.168.101.1", 40000), S));
        Assert.Single(h.Process(Syn("192.168.101.1", 40001), S));
        Assert.Empty(h.Process(Syn("192.168.101.1", 40002), S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.ConnLimit]);
        Assert.Single(h.Process(Syn("192.168.101.2", 40000), S)); // another client is not limited by the first
        // The first connection is reset before any reply: the entry goes, and a slot frees up.
        Assert.Single(h.Process(Rst("192.168.101.1", 40000), S + Ms));
        Assert.Single(h.Process(Syn("192.168.101.1", 40003), S + 2 * Ms));
        Assert.Equal(2, h.Engine.Limiter.Connections(0, IpAddr.Parse("192.168.101.1")));
    }

    [Fact]
    public void Process_EstConnLimitEntriesExpire_CountReleased()
    {
        var h = new EngineHarness(Config(""" ,"est-connlimit":"1" """));
        h.LearnBackends();
        Assert.Single(h.Process(Syn("192.168.101.1", 40000), S));
        Assert.Empty(h.Process(Syn("192.168.101.1", 40001), 2 * S));
        // SYN_SENT times out after 120 s; the sweep removes it and releases the client's count.
        h.Engine.Housekeeping(200 * S);
        h.Engine.Table.SweepAll(200 * S);
        Assert.Equal(0, h.Engine.Limiter.Connections(0, IpAddr.Parse("192.168.101.1")));
        Assert.Single(h.Process(Syn("192.168.101.1", 40002), 201 * S));
    }

    [Fact]
    public void Process_BackendEstConnLimit_BackendFullDropsItsNewConnections()
    {
        var h = new EngineHarness(Config("", """ ,"est-connlimit":"1" """));
        h.LearnBackends();
        Assert.Equal("192.168.1.10", Dst(h.Forward(Syn("192.168.101.1", 40000), S)));
        Assert.Equal("192.168.1.11", Dst(h.Forward(Syn("192.168.101.2", 40000), S)));
        // rr picks bck0 again; it already holds its one connection.
        Assert.Empty(h.Process(Syn("192.168.101.3", 40000), S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.ConnLimit]);
        Assert.Equal(1, h.Counters.Backends[h.BackendId("app", "bck0")].Active);
    }

    [Fact]
    public void Process_ActiveCounters_FollowTheTable()
    {
        var h = new EngineHarness(Config(""));
        h.LearnBackends();
        for (int i = 0; i < 4; i++) h.Forward(Syn("192.168.101.1", (ushort)(40000 + i)), S);
        Assert.Equal(2, h.Counters.Backends[h.BackendId("app", "bck0")].Active);
        Assert.Equal(4, h.Counters.Farms[0].Active);
        h.Engine.Table.SweepAll(1000 * S);
        Assert.Equal(0, h.Counters.Backends[h.BackendId("app", "bck0")].Active);
        Assert.Equal(0, h.Counters.Farms[0].Active);
        Assert.Equal(4, h.Counters.Farms[0].Connections);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 0)]
    public void Process_MidStreamAckWithTcpStrict_NotPickedUp(bool strict, int expectedOut)
    {
        var h = new EngineHarness(Config(strict ? """ ,"tcp-strict":"on" """ : ""));
        h.LearnBackends();
        var ack = Tcp("02:00:00:00:01:01", "192.168.101.1", "192.168.101.250", 40000, 443, Ack);
        Assert.Equal(expectedOut, h.Process(ack, S).Count);
        Assert.Equal(strict ? 1 : 0, h.Counters.Drops[(int)DropReason.TcpNoSynForNewFlow]);
    }

    [Fact]
    public void Process_TableFullOfAssuredFlows_NewFlowDroppedEstablishedKeepWorking()
    {
        var h = new EngineHarness(Config(""), new EngineOptions { Seed = 1, MaxConnections = 4 });
        h.LearnBackends();
        // Four established (ASSURED) connections fill the table.
        for (ushort i = 0; i < 4; i++)
        {
            var syn = h.Forward(Syn("192.168.101.1", (ushort)(40000 + i)), S);
            h.Forward(SynAck(Dst(syn), (ushort)(40000 + i)), S + Ms);
            h.Forward(Tcp("02:00:00:00:01:01", "192.168.101.1", "192.168.101.250", (ushort)(40000 + i), 443, Ack), S + 2 * Ms);
        }
        Assert.All(h.LiveEntries(), i => Assert.True(h.Engine.Table[i].Assured));
        Assert.Empty(h.Process(Syn("192.168.101.9", 50000), 2 * S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.TableFull]);
        // Established flows are untouched.
        h.Forward(Tcp("02:00:00:00:01:01", "192.168.101.1", "192.168.101.250", 40002, 443, (byte)(Ack | Psh)), 3 * S);
    }

    [Fact]
    public void Process_TableFullWithUnrepliedEntries_EarlyDropMakesRoom()
    {
        var h = new EngineHarness(Config(""), new EngineOptions { Seed = 1, MaxConnections = 4 });
        h.LearnBackends();
        var syn = h.Forward(Syn("192.168.101.1", 40000), S);
        h.Forward(SynAck(Dst(syn), 40000), S + Ms);
        h.Forward(Tcp("02:00:00:00:01:01", "192.168.101.1", "192.168.101.250", 40000, 443, Ack), S + 2 * Ms);
        for (ushort i = 1; i < 4; i++) h.Forward(Syn("192.168.101.5", (ushort)(41000 + i)), S); // unreplied
        // Full: a new flow evicts an unreplied entry, never the ASSURED one.
        for (ushort i = 0; i < 20; i++) h.Forward(Syn("192.168.101.6", (ushort)(42000 + i)), 2 * S);
        Assert.Equal(4, h.Engine.Table.Count);
        Assert.True(h.Engine.Table.EarlyDrops >= 20);
        h.Forward(Tcp("02:00:00:00:01:01", "192.168.101.1", "192.168.101.250", 40000, 443, (byte)(Ack | Psh)), 3 * S);
    }

    [Fact]
    public void SourceLimiter_ManyClients_SlotsReusedAfterTtl()
    {
        var limiter = new SourceLimiter(64, 42);
        long now = 0;
        for (int round = 0; round < 3; round++)
        {
            now += 200 * S; // past a 120 s limits-ttl: earlier clients' slots are reusable
            for (int c = 0; c < 40; c++)
            {
                var src = IpAddr.Parse($"10.{round}.0.{c + 1}");
                Assert.Equal(DropReason.None, limiter.TryAdmit(0, src, 5, 0, 0, 120 * S, now, out int slot));
                Assert.True(slot >= 0, $"round {round} client {c}: no slot");
            }
        }
        Assert.Equal(0, limiter.Untracked);
    }
}
