using UserLB.Engine.Conntrack;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>The connection table across a restart: export from one engine, import into a new one (userlb run --state-file).</summary>
public class RestartStateTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"MODE","scheduler":"rr"EXTRA,
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"BCK1"}]}]}
        """;

    private static string Config(string mode = "snat", string extra = "", string bck1 = "192.168.1.11") =>
        Farm.Replace("MODE", mode).Replace("EXTRA", extra).Replace("BCK1", bck1);

    private const long T0 = 100 * S;

    /// <summary>A client: address, MAC, source port.</summary>
    private sealed record Client(string Ip, string Mac, ushort Port);

    // rr: A → bck0, B → bck1, C → bck0; A and C share source port 40000, so C's SNAT port is remapped (get_unique_tuple).
    private static readonly Client[] Clients =
    [
        new("192.168.101.1", "02:00:00:00:01:01", 40000),
        new("192.168.101.2", "02:00:00:00:01:02", 40000),
        new("192.168.101.3", "02:00:00:00:01:03", 40000),
    ];

    private static string MacOf(string backend) => backend == "192.168.1.10" ? Bck0Mac : Bck1Mac;

    /// <summary>What the backend saw of a connection: its address and the (NAT'd) source port it must answer.</summary>
    private sealed record Seen(string Backend, string SeenSource, ushort SeenPort);

    /// <summary>Handshake through the engine; returns what the backend saw.</summary>
    private static Seen Connect(EngineHarness h, Client c, long t)
    {
        var syn = h.Forward(Tcp(c.Mac, c.Ip, "192.168.101.250", c.Port, 443, Syn, seq: 1000), t);
        var seen = new Seen(Dst(syn), Src(syn), Tcp(syn).SourcePort);
        h.Forward(Tcp(MacOf(seen.Backend), seen.Backend, seen.SeenSource, 443, seen.SeenPort, Syn | Ack, seq: 5000, ack: 1001), t + Ms);
        h.Forward(Tcp(c.Mac, c.Ip, "192.168.101.250", c.Port, 443, Ack, seq: 1001, ack: 5001), t + 2 * Ms);
        return seen;
    }

    /// <summary>One data packet each way on an established connection; asserts the same backend, NAT port and client-side view.</summary>
    private static void AssertDataFlows(EngineHarness h, Client c, Seen seen, long t)
    {
        var up = h.Forward(Tcp(c.Mac, c.Ip, "192.168.101.250", c.Port, 443, Psh | Ack, seq: 1001, ack: 5001, payload: 100), t);
        Assert.Equal(seen.Backend, Dst(up));
        Assert.Equal(seen.SeenSource, Src(up));
        Assert.Equal(seen.SeenPort, Tcp(up).SourcePort);
        Assert.Equal(443, Tcp(up).DestinationPort);
        Assert.Equal(MacOf(seen.Backend), EthDst(up));
        var down = h.Forward(Tcp(MacOf(seen.Backend), seen.Backend, seen.SeenSource, 443, seen.SeenPort, Psh | Ack, seq: 5001, ack: 1101, payload: 200), t + Ms);
        Assert.Equal(c.Ip, Dst(down));
        Assert.Equal("192.168.101.250", Src(down));
        Assert.Equal(c.Port, Tcp(down).DestinationPort);
        Assert.Equal(443, Tcp(down).SourcePort);
        Assert.Equal(c.Mac, EthDst(down));
    }

    private static EngineHarness Restarted(string config, int seed)
    {
        var h = new EngineHarness(config, new EngineOptions { Seed = seed });
        h.LearnBackends(T0);
        return h;
    }

    private static void LearnClients(EngineHarness h, long t)
    {
        foreach (var c in Clients) h.Learn(c.Mac, c.Ip, t);
    }

    [Theory]
    [InlineData("snat")]
    [InlineData("dnat")]
    public void ExportImport_EstablishedConnections_ContinueOnSameBackendWithSameNatPortBothWays(string mode)
    {
        var before = new EngineHarness(Config(mode), new EngineOptions { Seed = 1 });
        before.LearnBackends();
        var seen = new Seen[Clients.Length];
        for (int i = 0; i < Clients.Length; i++) seen[i] = Connect(before, Clients[i], T0 + i * 10 * Ms);
        Assert.Equal(["192.168.1.10", "192.168.1.11", "192.168.1.10"], seen.Select(s => s.Backend));
        if (mode == "snat") Assert.NotEqual(Clients[2].Port, seen[2].SeenPort); // C's port was remapped
        var saved = before.Engine.ExportConnections(T0 + S);
        Assert.Equal(3, saved.Count);

        // Another process: different seed (hash key, scheduler and port search all differ), same configuration.
        var after = Restarted(Config(mode), seed: 99);
        LearnClients(after, T0);
        var result = after.Engine.ImportConnections(saved, 50 * S);
        Assert.Equal(new ImportResult(3, 0, 0, 0, 0), result);
        for (int i = 0; i < Clients.Length; i++) AssertDataFlows(after, Clients[i], seen[i], 51 * S + i * 10 * Ms);
        Assert.Equal(0, after.Counters.NewFlows); // every packet belonged to a restored connection
        Assert.Equal(2, after.Counters.Backends[after.BackendId("app", "bck0")].Active);
        Assert.Equal(1, after.Counters.Backends[after.BackendId("app", "bck1")].Active);
        foreach (int i in after.LiveEntries())
        {
            var e = after.Engine.Table[i];
            Assert.Equal(TcpState.Established, e.TcpState);
            Assert.True(e.Assured);
            Assert.Equal(0x200u + (uint)e.BackendId, e.Mark);
            Assert.Equal(3UL, e.OriginalPackets); // SYN, ACK before the restart; data after
            Assert.Equal(2UL, e.ReplyPackets);
        }
    }

    [Fact]
    public void ExportImport_EntryNotYetEstablished_HandshakeCompletesAfterRestart()
    {
        var before = new EngineHarness(Config(), new EngineOptions { Seed = 1 });
        before.LearnBackends();
        var c = Clients[0];
        var syn = before.Forward(Tcp(c.Mac, c.Ip, "192.168.101.250", c.Port, 443, Syn), T0);
        var after = Restarted(Config(), seed: 7);
        after.Learn(c.Mac, c.Ip, T0);
        Assert.Equal(1, after.Engine.ImportConnections(before.Engine.ExportConnections(T0 + Ms), T0).Imported);
        var synAck = after.Forward(Tcp(MacOf(Dst(syn)), Dst(syn), "192.168.101.250", 443, Tcp(syn).SourcePort, Syn | Ack, seq: 5000, ack: 1001), T0 + 2 * Ms);
        Assert.Equal(c.Ip, Dst(synAck));
        after.Forward(Tcp(c.Mac, c.Ip, "192.168.101.250", c.Port, 443, Ack, seq: 1001, ack: 5001), T0 + 3 * Ms);
        Assert.Equal(TcpState.Established, after.SingleEntry().TcpState);
    }

    [Fact]
    public void Import_TimeoutsAndAge_ContinueFromTheSavedRemainingTime()
    {
        // An unreplied UDP flow has 30 s; exported 10 s later it has 20 s left and is 10 s old.
        const string udpFarm = """{"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","protocol":"udp","backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}""";
        var udp = new EngineHarness(udpFarm, new EngineOptions { Seed = 1 });
        udp.LearnBackends();
        udp.Forward(Udp(ClientMac, "192.168.101.1", "192.168.101.250", 5353, 443), T0);
        var saved = udp.Engine.ExportConnections(T0 + 10 * S);
        Assert.Equal(20 * S, Assert.Single(saved).RemainingNs);
        Assert.Equal(10 * S, saved[0].AgeNs);

        var after = new EngineHarness(udpFarm, new EngineOptions { Seed = 3 });
        after.LearnBackends(1000 * S);
        Assert.Equal(1, after.Engine.ImportConnections(saved, 1000 * S).Imported);
        var e = after.SingleEntry();
        Assert.Equal(1020 * S, e.ExpiresNs);
        Assert.Equal(990 * S, e.CreatedNs);
        Assert.Equal(0, after.Engine.Table.SweepAll(1020 * S - 1));
        Assert.Equal(1, after.Engine.Table.SweepAll(1020 * S));
    }

    [Fact]
    public void Import_FarmOrBackendGoneOrChanged_SkippedAndCounted()
    {
        var before = new EngineHarness(Config(), new EngineOptions { Seed = 1 });
        before.LearnBackends();
        for (int i = 0; i < Clients.Length; i++) Connect(before, Clients[i], T0 + i * 10 * Ms);
        var saved = before.Engine.ExportConnections(T0 + S);

        // bck1 moved to another address: its connection (B) cannot continue; A and C can.
        var moved = Restarted(Config(bck1: "192.168.1.12"), 2);
        Assert.Equal(new ImportResult(2, 0, 1, 0, 0), moved.Engine.ImportConnections(saved, T0));

        // bck1 removed from the farm.
        const string oneBackend = """{"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}""";
        var removed = Restarted(oneBackend, 2);
        Assert.Equal(new ImportResult(2, 1, 0, 0, 0), removed.Engine.ImportConnections(saved, T0));

        // The farm renamed: nothing is known.
        var renamed = Restarted(Config().Replace("\"app\"", "\"web\""), 2);
        Assert.Equal(new ImportResult(0, 3, 0, 0, 0), renamed.Engine.ImportConnections(saved, T0));

        // NAT mode changed to DTA: the saved SNAT no longer matches.
        var dta = Restarted(Config("dnat"), 2);
        Assert.Equal(new ImportResult(0, 0, 3, 0, 0), dta.Engine.ImportConnections(saved, T0));

        // Imported twice: the second copy clashes with the first.
        var twice = Restarted(Config(), 2);
        twice.Engine.ImportConnections(saved, T0);
        Assert.Equal(new ImportResult(0, 0, 0, 3, 0), twice.Engine.ImportConnections(saved, T0));
        Assert.Equal(3, twice.Engine.Table.Count);
    }

    [Fact]
    public void Import_MoreEntriesThanTheTableHolds_RestCountedAsTableFull()
    {
        var before = new EngineHarness(Config(), new EngineOptions { Seed = 1 });
        before.LearnBackends();
        for (int i = 0; i < Clients.Length; i++) Connect(before, Clients[i], T0 + i * 10 * Ms);
        var small = new EngineHarness(Config(), new EngineOptions { Seed = 2, MaxConnections = 2 });
        Assert.Equal(new ImportResult(2, 0, 0, 0, 1), small.Engine.ImportConnections(before.Engine.ExportConnections(T0 + S), T0));
    }

    [Fact]
    public void Import_FarmWithEstConnLimit_RestoredConnectionsCountTowardsTheLimit()
    {
        string config = Config(extra: ",\"est-connlimit\":\"1\"");
        var before = new EngineHarness(config, new EngineOptions { Seed = 1 });
        before.LearnBackends();
        var c = Clients[0];
        Connect(before, c, T0);
        var after = Restarted(config, 5);
        Assert.Equal(1, after.Engine.ImportConnections(before.Engine.ExportConnections(T0 + S), T0).Imported);
        Assert.Equal(1, after.Engine.Limiter.Connections(0, IpAddr.Parse(c.Ip)));
        Assert.Empty(after.Process(Tcp(c.Mac, c.Ip, "192.168.101.250", 40001, 443, Syn), T0 + S));
        Assert.Equal(1, after.Counters.Drops[(int)DropReason.ConnLimit]);
        // When the restored connection ends, the client may open another.
        after.Engine.Table.Remove(after.LiveEntries()[0], T0 + 2 * S);
        Assert.Equal(0, after.Engine.Limiter.Connections(0, IpAddr.Parse(c.Ip)));
        Assert.Single(after.Process(Tcp(c.Mac, c.Ip, "192.168.101.250", 40002, 443, Syn), T0 + 2 * S));
    }

    [Fact]
    public void Import_FarmWithPersistence_ClientsNextConnectionsGoToTheBackendOfTheirRestoredOnes()
    {
        // rr before the restart: A → bck0, B → bck1, C → bck0. A fresh rr after it would send the first new flow to bck0;
        // B's must go to bck1, where its restored connection is, and A's and C's to bck0.
        string config = Config(extra: ",\"persistence\":\"srcip\",\"persist-ttl\":\"60\"");
        var before = new EngineHarness(config, new EngineOptions { Seed = 1 });
        before.LearnBackends();
        var seen = new Dictionary<string, string>();
        foreach (var c in Clients) seen[c.Ip] = Connect(before, c, T0).Backend;
        Assert.Equal(["192.168.1.10", "192.168.1.11", "192.168.1.10"], Clients.Select(c => seen[c.Ip]));
        var after = Restarted(config, 5);
        Assert.Equal(3, after.Engine.ImportConnections(before.Engine.ExportConnections(T0 + S), T0 + 2 * S).Imported);
        var learned = new List<UserLB.Engine.Balancing.PersistedClient>();
        after.Engine.WithSourceTables((persistence, _) => { persistence.Collect(0, T0 + 2 * S, learned); return 0; });
        Assert.Equal(3, learned.Count);
        foreach (var c in new[] { Clients[1], Clients[0], Clients[2] })
        {
            var syn = after.Forward(Tcp(c.Mac, c.Ip, "192.168.101.250", 41000, 443, Syn), T0 + 3 * S);
            Assert.Equal(seen[c.Ip], Dst(syn));
        }
    }

    [Fact]
    public void Import_PersistenceByMac_NotRebuiltFromTheTuple()
    {
        string config = Config(extra: ",\"persistence\":\"srcmac\",\"persist-ttl\":\"60\"");
        var before = new EngineHarness(config, new EngineOptions { Seed = 1 });
        before.LearnBackends();
        Connect(before, Clients[0], T0);
        var after = Restarted(config, 5);
        Assert.Equal(1, after.Engine.ImportConnections(before.Engine.ExportConnections(T0 + S), T0 + 2 * S).Imported);
        var learned = new List<UserLB.Engine.Balancing.PersistedClient>();
        after.Engine.WithSourceTables((persistence, _) => { persistence.Collect(0, T0 + 2 * S, learned); return 0; });
        Assert.Empty(learned);
    }

    /// <summary>
    /// A restart without the state file, as documented: tcp_loose picks the connection up mid-stream as a new entry, with
    /// the scheduler's choice and the client's own source port. A connection whose SNAT port had been remapped is
    /// thereby broken: the backend still talks to the old port, which no entry knows.
    /// </summary>
    [Fact]
    public void Restart_WithoutState_LoosePickupKeepsOnlyConnectionsWhoseNatPortWasTheClientsOwn()
    {
        var before = new EngineHarness(Config(), new EngineOptions { Seed = 1 });
        before.LearnBackends();
        var seen = new Seen[Clients.Length];
        for (int i = 0; i < Clients.Length; i++) seen[i] = Connect(before, Clients[i], T0 + i * 10 * Ms);

        var after = Restarted(Config(), seed: 2); // rr restarts at bck0, as before
        LearnClients(after, T0);
        // A (bck0, own port) and B (bck1, own port): picked up in the same order, so rr gives the same backends.
        AssertDataFlows(after, Clients[0], seen[0], 50 * S);
        AssertDataFlows(after, Clients[1], seen[1], 50 * S + 10 * Ms);
        // C: picked up by bck0 again, but its SNAT port is chosen anew (A holds 40000 again, so another random port):
        // the backend sees packets of a connection it does not know.
        var up = after.Forward(Tcp(Clients[2].Mac, Clients[2].Ip, "192.168.101.250", 40000, 443, Psh | Ack, seq: 1001, ack: 5001, payload: 10), 51 * S);
        Assert.Equal("192.168.1.10", Dst(up));
        Assert.NotEqual(seen[2].SeenPort, Tcp(up).SourcePort);
        // …and the backend's packets for the old port find no connection.
        Assert.Empty(after.Process(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 443, seen[2].SeenPort, Psh | Ack, payload: 10), 51 * S + Ms));
        Assert.Equal(3, after.Counters.NewFlows);
    }
}
