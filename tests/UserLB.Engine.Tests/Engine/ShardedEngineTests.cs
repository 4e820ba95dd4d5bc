using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// N engines sharing one <see cref="SharedFlowState"/>, frames dispatched by <see cref="FlowShard"/> as the live
/// forwarder's workers get them: one client's connections land on different shards (by client port), yet persistence
/// and the limits of nftlb apply to the client and the backend as with one engine.
/// </summary>
public class ShardedEngineTests
{
    private const string Vip = "192.168.101.250";
    private const string Client = "192.168.101.1";

    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr"EXTRA,
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"BEXTRA},{"name":"bck1","ip-addr":"192.168.1.11"BEXTRA}]}]}
        """;

    private const string OneBackend = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"MODE","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"BEXTRA}]}]}
        """;

    private static string Config(string extra, string backendExtra = "") => Farm.Replace("BEXTRA", backendExtra).Replace("EXTRA", extra);

    private static string MacOf(string client) => "02:00:00:00:01:" + client.Split('.')[3];

    private static byte[] Syn(string client, ushort port) => Tcp(MacOf(client), client, Vip, port, 443, TestFrames.Syn);

    private static byte[] Rst(string client, ushort port) => Tcp(MacOf(client), client, Vip, port, 443, (byte)(TestFrames.Rst | Ack));

    /// <summary>The first port at or above <paramref name="from"/> that <see cref="FlowShard"/> gives to <paramref name="shard"/>.</summary>
    private static ushort PortOfShard(int shard, int shards, ushort from)
    {
        ushort p = from;
        while (FlowShard.OfPort(p, shards) != shard) p++;
        return p;
    }

    /// <summary><paramref name="count"/> ports of <paramref name="shard"/>, from <paramref name="from"/> up.</summary>
    private static ushort[] PortsOfShard(int shard, int shards, ushort from, int count)
    {
        var ports = new ushort[count];
        for (int i = 0; i < count; i++)
        {
            ports[i] = PortOfShard(shard, shards, from);
            from = (ushort)(ports[i] + 1);
        }
        return ports;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Process_OneClientManyPortsPersistenceFarm_OneBackendOnEveryShard(int shards)
    {
        var h = new ShardedHarness(Config(""" ,"persistence":"srcip","persist-ttl":"60" """), shards);
        h.LearnBackends();
        var backends = new HashSet<string>();
        var used = new HashSet<int>();
        for (int i = 0; i < 30; i++)
        {
            var syn = Syn(Client, (ushort)(40000 + i));
            used.Add(h.ShardOf(syn));
            backends.Add(Dst(h.Forward(syn, S + i * Ms)));
        }
        Assert.Equal(shards, used.Count);
        Assert.Single(backends);
        Assert.All(h.Engines, e => Assert.True(e.Table.Count > 0));
        // Another client is scheduled on its own (rr moves on) and then keeps its backend too.
        var other = Dst(h.Forward(Syn("192.168.101.2", 40000), 2 * S));
        for (int i = 1; i < 6; i++) Assert.Equal(other, Dst(h.Forward(Syn("192.168.101.2", (ushort)(40000 + i)), 2 * S)));
        Assert.Equal(2, h.State!.WithSourceTables((persistence, _) => persistence.Count));
    }

    [Fact]
    public void Process_PersistenceWithoutSharedState_ClientSplitOverBackends()
    {
        // What the shared state fixes: with a persistence table per engine, each shard schedules the client anew.
        var h = new ShardedHarness(Config(""" ,"persistence":"srcip","persist-ttl":"60" """), 2, shared: false);
        h.LearnBackends();
        var backends = new HashSet<string>();
        for (int i = 0; i < 10; i++) backends.Add(Dst(h.Forward(Syn(Client, (ushort)(40000 + i)), S)));
        Assert.Equal(2, backends.Count);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Process_EstConnLimitPerClientAcrossShards_FourthDroppedOnAnyShardUntilOneCloses(int shards)
    {
        var h = new ShardedHarness(Config(""" ,"est-connlimit":"3" """), shards);
        h.LearnBackends();
        var open = new Queue<ushort>();
        for (ushort port = 40000; port < 40003; port++)
        {
            h.Forward(Syn(Client, port), S);
            open.Enqueue(port);
        }
        ushort next = 41000;
        for (int s = 0; s < shards; s++)
        {
            next = PortOfShard(s, shards, next);
            Assert.Empty(h.Process(Syn(Client, next++), S));
        }
        Assert.Equal(shards, h.Drops(DropReason.ConnLimit));
        Assert.Single(h.Process(Syn("192.168.101.2", 41000), S)); // another client has its own count
        // One connection closes: one more is admitted, whichever shard it lands on, and the next is dropped again.
        for (int s = 0; s < shards; s++)
        {
            Assert.Single(h.Process(Rst(Client, open.Dequeue()), 2 * S));
            next = PortOfShard(s, shards, next);
            h.Forward(Syn(Client, next), 2 * S);
            open.Enqueue(next++);
            next = PortOfShard((s + 1) % shards, shards, next);
            Assert.Empty(h.Process(Syn(Client, next++), 2 * S));
        }
        Assert.Equal(2 * shards, h.Drops(DropReason.ConnLimit));
        Assert.Equal(3, h.State!.WithSourceTables((_, limiter) => limiter.Connections(0, IpAddr.Parse(Client))));
        Assert.Equal(4, h.Connections);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Process_NewRateLimitAcrossShards_OneBucketForAllShards(int shards)
    {
        var h = new ShardedHarness(Config(""" ,"new-rtlimit":"10/second","new-rtlimit-burst":"3" """), shards);
        h.LearnBackends();
        ushort port = 40000;
        for (int i = 0; i < 3; i++) h.Forward(Syn(Client, port++), S);
        // The bucket is empty whichever shard the next connection lands on.
        var shardsDropped = new HashSet<int>();
        for (int i = 0; i < shards; i++)
        {
            port = PortOfShard(i, shards, port);
            Assert.Empty(h.Process(Syn(Client, port++), S, out int shard));
            shardsDropped.Add(shard);
        }
        Assert.Equal(shards, shardsDropped.Count);
        Assert.Equal(shards, h.Drops(DropReason.RateLimited));
        // 100 ms later one token (1/10 s) has come back: one more over all shards, not one per shard.
        h.Forward(Syn(Client, port++), S + 100 * Ms);
        for (int i = 0; i < shards; i++) Assert.Empty(h.Process(Syn(Client, port++), S + 100 * Ms));
        Assert.Equal(2 * shards, h.Drops(DropReason.RateLimited));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Process_BackendEstConnLimitAcrossShards_FourthDroppedOnAnyShardUntilOneCloses(int shards)
    {
        var h = new ShardedHarness(OneBackend.Replace("MODE", "snat").Replace("BEXTRA", """ ,"est-connlimit":"3" """), shards);
        h.LearnBackends();
        int bck0 = h.BackendId("app", "bck0");
        // Clients 1..3 on ports of different shards.
        for (int c = 1; c <= 3; c++) h.Forward(Syn("192.168.101." + c, (ushort)(40000 + c)), S);
        Assert.Equal(3, h.State!.BackendActive(bck0));
        for (int s = 0; s < shards; s++)
            Assert.Empty(h.Process(Syn("192.168.101.9", PortOfShard(s, shards, 41000)), S));
        Assert.Equal(shards, h.Drops(DropReason.ConnLimit));
        Assert.Equal(3, h.State.BackendActive(bck0));
        // One ends: a fourth client is admitted on any shard (the last shard's port), then the limit holds again.
        Assert.Single(h.Process(Rst("192.168.101.1", 40001), 2 * S));
        Assert.Equal(2, h.State.BackendActive(bck0));
        h.Forward(Syn("192.168.101.9", PortOfShard(shards - 1, shards, 42000)), 2 * S);
        Assert.Empty(h.Process(Syn("192.168.101.9", PortOfShard(0, shards, 43000)), 2 * S));
        Assert.Equal(3, h.State.BackendActive(bck0));
        Assert.Equal(3, h.Connections);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Process_SnatPortClashOnShards_NewPortOfTheOwningShardAndTheReplyComesBack(int shards)
    {
        // One backend: a second client with the same source port clashes on (bck0, VIP, 443, port).
        var h = new ShardedHarness(OneBackend.Replace("MODE", "snat").Replace("BEXTRA", ""), shards);
        h.LearnBackends();
        for (ushort port = 40000; port < 40000 + 4 * shards; port++)
        {
            h.Forward(Syn(Client, port), S);
            var second = Syn("192.168.101.2", port);
            int shard = h.ShardOf(second);
            var seen = Tcp(h.Forward(second, S));
            Assert.NotEqual(port, seen.SourcePort);
            Assert.Equal(shard, FlowShard.OfPort(seen.SourcePort, shards));
            var reply = TestFrames.Tcp(Bck0Mac, "192.168.1.10", Vip, 443, seen.SourcePort, (byte)(TestFrames.Syn | Ack));
            var back = h.Process(reply, S + Ms, out int replyShard);
            Assert.Equal(shard, replyShard);
            Assert.Single(back);
            Assert.Equal("192.168.101.2", Dst(back[0]));
            Assert.Equal(port, Tcp(back[0]).DestinationPort);
        }
        Assert.Equal(4 * shards, h.Sum(c => c.NatPortRemaps));
    }

    [Theory]
    [InlineData("snat", 2)]
    [InlineData("snat", 3)]
    [InlineData("dnat", 2)]
    [InlineData("dnat", 3)]
    public void Process_ManyFlowsOnShards_EveryReplyReachesTheEngineThatOwnsTheFlow(string mode, int shards)
    {
        var h = new ShardedHarness(Config(""" ,"protocol":"all" """).Replace("\"snat\"", "\"" + mode + "\""), shards);
        h.LearnBackends();
        int flows = 0;
        for (int c = 1; c <= 3; c++)
        {
            string client = "192.168.101." + c;
            for (ushort port = 40000; port < 40016; port++) // the same ports for every client: SNAT clashes
            {
                bool udp = port % 2 == 0;
                var request = udp ? Udp(MacOf(client), client, Vip, port, 443) : Syn(client, port);
                var forwarded = h.Forward(request, S);
                int owner = h.ShardOf(request);
                string backend = Dst(forwarded), seenSource = Src(forwarded);
                ushort seenPort = udp ? Udp(forwarded).SourcePort : Tcp(forwarded).SourcePort;
                string bckMac = backend == "192.168.1.10" ? Bck0Mac : Bck1Mac;
                var reply = udp
                    ? Udp(bckMac, backend, seenSource, 443, seenPort)
                    : TestFrames.Tcp(bckMac, backend, seenSource, 443, seenPort, (byte)(TestFrames.Syn | Ack));
                var back = h.Process(reply, S + Ms, out int replyShard);
                Assert.Equal(owner, replyShard);
                Assert.True(back.Count == 1, $"{client}:{port} ({mode}) reply on shard {replyShard}: {back.Count} frames out");
                Assert.Equal(client, Dst(back[0]));
                Assert.Equal(Vip, Src(back[0]));
                Assert.Equal(port, udp ? Udp(back[0]).DestinationPort : Tcp(back[0]).DestinationPort);
                flows++;
            }
        }
        Assert.Equal(flows, h.Connections);
        Assert.Equal(0, h.Sum(c => c.Dropped));
        if (mode == "snat") Assert.True(h.Sum(c => c.NatPortRemaps) > 0);
    }

    [Fact]
    public void Process_ShardsRacingForLastSlots_LimitsAndPersistenceHoldExactly()
    {
        // Two workers at once, each on its own engine and its own shard's ports, as the forwarder runs them: one
        // client at est-connlimit 6 with persistence, each worker keeping up to 5 connections open (opening one,
        // resetting its fifth-last), so the client is at its limit all along. Rounds, each after every connection and
        // persistence record expired, so that the first pick is raced many times too.
        const int perShard = 300, limit = 6, keep = 5;
        var h = new ShardedHarness(Config(""" ,"est-connlimit":"6","persistence":"srcip","persist-ttl":"60" """), 2);
        h.LearnBackends();
        var client = IpAddr.Parse(Client);
        for (int round = 0; round < 20; round++)
        {
            long t0 = (1 + round) * 1000 * S;
            OnWorkers(h, (engine, worker) =>
            {
                var ports = PortsOfShard(worker, 2, 20000, perShard);
                for (int i = 0; i < perShard; i++)
                {
                    engine.Process(Syn(Client, ports[i]), 0, t0 + i * 1000);
                    if (i >= keep) engine.Process(Rst(Client, ports[i - keep]), 0, t0 + i * 1000);
                }
            });
            int open = h.Connections;
            Assert.InRange(open, 1, limit);
            Assert.Equal(open, h.State!.WithSourceTables((_, limiter) => limiter.Connections(0, client)));
            var backendIds = new HashSet<int>();
            foreach (var e in h.Engines)
            {
                for (int i = 0; i < e.Table.HighWater; i++)
                    if (e.Table[i].InUse) backendIds.Add(e.Table[i].BackendId);
            }

            Assert.Single(backendIds);
            Assert.Equal(open, h.State.BackendActive(backendIds.First()));
            foreach (var e in h.Engines) e.Table.SweepAll(t0 + 500 * S);
            Assert.Equal(0, h.State.WithSourceTables((_, limiter) => limiter.Connections(0, client)));
            Assert.Equal(0, h.State.BackendActive(backendIds.First()));
        }
        Assert.True(h.Drops(DropReason.ConnLimit) > 0);
    }

    [Fact]
    public void Process_ShardsRacingForABackendsLastSlots_BackendLimitHoldsExactly()
    {
        const int perShard = 100, limit = 20;
        var h = new ShardedHarness(OneBackend.Replace("MODE", "dnat").Replace("BEXTRA", """ ,"est-connlimit":"20" """), 2);
        h.LearnBackends();
        int bck0 = h.BackendId("app", "bck0");
        for (int round = 0; round < 30; round++)
        {
            long t0 = (1 + round) * 1000 * S;
            // Many clients, each once, from a port of the worker's shard.
            OnWorkers(h, (engine, worker) =>
            {
                ushort port = PortOfShard(worker, 2, 20000);
                for (int i = 0; i < perShard; i++)
                    engine.Process(Tcp("02:00:00:00:02:01", "10.0.0." + (1 + i), Vip, port, 443, TestFrames.Syn), 0, t0);
            });
            Assert.Equal(limit, h.Connections);
            Assert.Equal((round + 1) * (2 * perShard - limit), h.Drops(DropReason.ConnLimit));
            Assert.Equal(limit, h.State!.BackendActive(bck0));
            // Every connection ends (expiry sweep): the shared count returns to zero.
            foreach (var e in h.Engines) e.Table.SweepAll(t0 + 500 * S);
            Assert.Equal(0, h.State.BackendActive(bck0));
        }
    }

    [Fact]
    public void Process_OneEventHubOnEveryShardsTable_EveryEventOfEveryWorkerDelivered()
    {
        // The API attaches one hub to every worker's table: the workers publish at once.
        const int perShard = 500;
        var h = new ShardedHarness(Config(""), 2);
        h.LearnBackends();
        var hub = new UserLB.Engine.Conntrack.ConntrackEventHub();
        using var sub = hub.Subscribe(capacity: 4 * perShard);
        foreach (var e in h.Engines) e.Table.Events = hub;
        OnWorkers(h, (engine, worker) =>
        {
            foreach (ushort port in PortsOfShard(worker, 2, 20000, perShard)) engine.Process(Syn(Client, port), 0, S);
        });
        var ports = new HashSet<int>();
        while (sub.Reader.TryRead(out var ev))
        {
            Assert.Equal(UserLB.Engine.Conntrack.ConnEventType.New, ev.Type);
            Assert.True(ports.Add(ev.Entry.Original.SrcPort));
        }
        Assert.Equal(2 * perShard, ports.Count);
        Assert.Equal(2 * perShard, hub.Delivered);
        Assert.Equal(0, hub.Dropped);
    }

    [Fact]
    public void CountMatching_OneFilterBoundByEveryWorkerAtOnce_EachCountsItsOwn()
    {
        // The API binds one filter (farm, backend names) on every worker's thread at once, then each counts its table.
        var h = new ShardedHarness(Config(""), 2);
        h.LearnBackends();
        for (ushort port = 40000; port < 41000; port++) h.Forward(Syn(Client, port), S);
        var filter = UserLB.Engine.Conntrack.ConntrackFilter.Parse([KeyValuePair.Create("farm", "app"), KeyValuePair.Create("backend", "bck0")]);
        var expected = h.Engines.Select(e => e.Table.CountMatching(filter.Bind(e.Snapshot), S)).ToArray();
        Assert.Equal(500, expected.Sum()); // rr over two backends
        var wrong = new int[2];
        OnWorkers(h, (engine, worker) =>
        {
            for (int i = 0; i < 2000; i++)
                if (engine.Table.CountMatching(filter.Bind(engine.Snapshot), S) != expected[worker]) wrong[worker]++;
        });
        Assert.Equal([0, 0], wrong);
    }

    /// <summary>Runs <paramref name="work"/> for every engine at once, each on its own thread (as the workers do).</summary>
    private static void OnWorkers(ShardedHarness h, Action<PacketEngine, int> work)
    {
        using var start = new Barrier(h.Count);
        var threads = new Thread[h.Count];
        Exception? failure = null;
        for (int w = 0; w < h.Count; w++)
        {
            int worker = w;
            threads[w] = new Thread(() =>
            {
                start.SignalAndWait();
                try
                {
                    work(h.Engines[worker], worker);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    failure = e; // rethrown on the test's thread
                }
            });
            threads[w].Start();
        }
        foreach (var t in threads) t.Join();
        if (failure is not null) throw new InvalidOperationException("a worker failed", failure);
    }
}
