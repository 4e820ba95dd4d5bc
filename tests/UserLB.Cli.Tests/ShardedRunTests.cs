using Microsoft.Extensions.Logging.Abstractions;
using UserLB.Cli.Commands;
using UserLB.Cli.Tests.Api;
using UserLB.Cli.Views;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.IO.Live;
using UserLB.IO.State;
using UserLB.IO.Tests.Live;
using UserLB.Packets;

namespace UserLB.Cli.Tests;

/// <summary>
/// <c>userlb run --workers N</c> off the API: the option, the state file saved from and loaded into several workers'
/// engines (each connection into its shard's), the status file and the stats summed over the workers.
/// </summary>
public sealed class ShardedRunTests : IDisposable
{
    /// <summary>One backend: a second client with the same port clashes, and SNAT picks another port (of its shard).</summary>
    private const string OneBackend = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","iface":"m0",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-workers-").FullName;
    private readonly List<LiveForwarder> _forwarders = [];

    public void Dispose()
    {
        foreach (var f in _forwarders) f.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A forwarder with <paramref name="workers"/> engines (not started: the test drives the engines itself).</summary>
    private (LiveForwarder Forwarder, PacketEngine[] Engines) NewForwarder(int workers)
    {
        var options = new EngineOptions { Seed = 7, PortNames = ["m0"], ShardCount = workers, Shared = workers > 1 ? new SharedFlowState(seed: 7) : null };
        var forwarder = new LiveForwarder([new MemoryPort("m0")], (sink, shard) => new PacketEngine(options with { ShardIndex = shard, Seed = 7 + shard }, sink), workers);
        _forwarders.Add(forwarder);
        var snapshot = EngineSnapshot.Build(ConfigParser.Parse(OneBackend), new IdRegistry(), null, 1);
        var engines = forwarder.InvokeAllAsync((e, _) =>
        {
            e.Apply(snapshot);
            return e;
        }).GetAwaiter().GetResult();
        return (forwarder, engines);
    }

    /// <summary>Gives each frame to the engine <see cref="FlowShard"/> names, as the workers get them.</summary>
    private static void Dispatch(PacketEngine[] engines, byte[] frame, long nowNs)
    {
        int shard = FlowShard.Of(frame, engines[0].Snapshot, engines.Length);
        engines[shard].Process(frame, 0, nowNs);
    }

    /// <summary>Clients .1 and .2 from the same 12 ports, now (the forwarder's clock, which saving reads): .2's
    /// connections all clash and get new SNAT ports.</summary>
    private static void Traffic(LiveForwarder forwarder, PacketEngine[] engines)
    {
        long now = forwarder.NowNs();
        for (ushort port = 40000; port < 40012; port++)
        {
            Dispatch(engines, ApiTraffic.Tcp(port, syn: true, "192.168.101.1"), now);
            Dispatch(engines, ApiTraffic.Tcp(port, syn: true, "192.168.101.2"), now);
        }
    }

    private static HashSet<(FlowTuple, FlowTuple)> Tuples(PacketEngine engine)
    {
        var set = new HashSet<(FlowTuple, FlowTuple)>();
        for (int i = 0; i < engine.Table.HighWater; i++)
            if (engine.Table[i].InUse) set.Add((engine.Table[i].Original, engine.Table[i].Reply));
        return set;
    }

    [Fact]
    public void RunState_SaveFromTwoWorkersLoadIntoTwo_EachConnectionBackInItsShardsEngine()
    {
        var (before, engines) = NewForwarder(2);
        Traffic(before, engines);
        Assert.Equal(12, engines[1].Counters.NatPortRemaps + engines[0].Counters.NatPortRemaps);
        string path = Path.Combine(_dir, "state.jsonl");
        Assert.True(RunState.Save(path, before, NullLogger.Instance));
        Assert.Equal(24, StateFile.Load(path).Entries.Count);

        var (after, restored) = NewForwarder(2);
        RunState.Load(path, after, NullLogger.Instance);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(12, restored[i].Table.Count);
            Assert.Equal(Tuples(engines[i]), Tuples(restored[i]));
        }
    }

    [Fact]
    public void RunState_SavedWithTwoWorkersLoadedIntoThree_RemappedPortsOfAnotherShardSkipped()
    {
        var (before, engines) = NewForwarder(2);
        Traffic(before, engines);
        string path = Path.Combine(_dir, "state.jsonl");
        Assert.True(RunState.Save(path, before, NullLogger.Instance));
        var saved = StateFile.Load(path).Entries;

        var (after, restored) = NewForwarder(3);
        RunState.Load(path, after, NullLogger.Instance);
        int expected = 0;
        foreach (var s in saved)
        {
            int shard = RunState.ShardOf(s, 3);
            Assert.Equal(FlowShard.OfPort(s.Original.SrcPort, 3) == FlowShard.OfPort(s.Reply.DstPort, 3) ? FlowShard.OfPort(s.Original.SrcPort, 3) : -1, shard);
            if (shard < 0) continue;
            expected++;
            Assert.Contains((s.Original, s.Reply), Tuples(restored[shard]));
        }
        Assert.InRange(expected, 12, 23); // client .1 kept its ports; some of .2's new ports are of another shard of three
        Assert.Equal(expected, restored.Sum(e => e.Table.Count));
    }

    [Fact]
    public void RunState_ShardOf_ClientAndSnatPortOfOneShard_ThatShardElseNone()
    {
        var s = new SavedConnection
        {
            Farm = "app",
            Backend = "bck0",
            Original = new FlowTuple(IpAddr.Parse("192.168.101.1"), IpAddr.Parse("192.168.101.250"), 40001, 80, IpProtocols.Tcp),
            Reply = new FlowTuple(IpAddr.Parse("192.168.1.10"), IpAddr.Parse("192.168.101.250"), 80, 1033, IpProtocols.Tcp),
        };
        Assert.Equal(0, RunState.ShardOf(s, 1));
        // The client's port and the SNAT port: one shard, or none when they differ.
        int same = 0, other = 0;
        for (ushort snat = 1024; snat < 1100; snat++)
        {
            var t = s with { Reply = s.Reply with { DstPort = snat } };
            int client = FlowShard.OfPort(40001, 3);
            bool together = FlowShard.OfPort(snat, 3) == client;
            Assert.Equal(together ? client : -1, RunState.ShardOf(t, 3));
            if (together) same++; else other++;
        }
        Assert.True(same > 0 && other > 0);
        Assert.Equal(FlowShard.OfPort(40001, 2), RunState.ShardOf(s with { Reply = s.Reply with { DstPort = 40001 } }, 2));
    }

    [Fact]
    public void StatusFile_TwoWorkers_CountersSummedAndBothTablesListed()
    {
        var (forwarder, engines) = NewForwarder(2);
        Traffic(forwarder, engines);
        string path = Path.Combine(_dir, "status.txt");
        var status = new StatusFile(path, 2, () => 5);
        long now = forwarder.NowNs();
        status.OnPeriodic(engines[0], now);
        Assert.False(File.Exists(path)); // worker 1 has not reported yet
        status.OnPeriodic(engines[1], now);
        Assert.False(File.Exists(path)); // worker 0 writes
        status.OnPeriodic(engines[0], now + 1_000_000_000);
        var lines = File.ReadAllLines(path);
        long rx = engines[0].Counters.RxFrames + engines[1].Counters.RxFrames;
        Assert.StartsWith($"# rx={rx} forwarded=", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" connections=24 active=24 queue_drops=5", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"# table max={engines[0].Table.Max + engines[1].Table.Max} early_drops=0 ", lines[1], StringComparison.Ordinal);
        Assert.Contains("# backend app/bck0 192.168.1.10 connections=24 packets=24 bytes=960", lines);
        Assert.Equal(24, lines.Count(l => l.StartsWith("tcp ", StringComparison.Ordinal)));
    }

    [Fact]
    public void EngineFigures_TwoEngines_SumOfCountersAndTables()
    {
        var (forwarder, engines) = NewForwarder(2);
        Traffic(forwarder, engines);
        var parts = engines.Select(EngineFigures.Of).ToArray();
        var sum = EngineFigures.Sum(parts);
        Assert.Equal(24, sum.Entries);
        Assert.Equal(engines[0].Table.Max + engines[1].Table.Max, sum.Max);
        Assert.Equal(24, sum.Counters.NewFlows);
        Assert.Equal(engines[0].Counters.RxFrames + engines[1].Counters.RxFrames, sum.Counters.RxFrames);
        Assert.Equal(24, sum.Counters.Farms[0].Active);
        Assert.Equal(24, sum.Counters.Backends[0].Connections);
        Assert.Equal(12, sum.Counters.NatPortRemaps);
        Assert.Same(parts[0], EngineFigures.Sum([parts[0]]));
        var stats = StatsSnapshot.Capture(sum, DateTimeOffset.UnixEpoch, 1, new QueueStats(0, 0, 0, 0), new EventStats(0, 0, 0), new HashSet<string>());
        Assert.Equal(24, stats.Farms[0].Active);
        Assert.Equal(24, stats.Farms[0].Backends[0].Active);
        Assert.Equal(24.0 / sum.Max, stats.Table.Fill, 9);
    }

    [Theory]
    [InlineData(new string[0], 1)]
    [InlineData(new[] { "--workers", "1" }, 1)]
    [InlineData(new[] { "--workers", "4" }, 4)]
    [InlineData(new[] { "--workers", "64" }, 64)]
    public void ParseWorkers_Valid_Count(string[] argv, int expected) =>
        Assert.Equal(expected, RunCommand.ParseWorkers(new Args(argv, ["workers"], [])));

    [Theory]
    [InlineData("0", "option --workers: 0 is not between 1 and 64")]
    [InlineData("65", "option --workers: 65 is not between 1 and 64")]
    [InlineData("-2", "option --workers: -2 is not between 1 and 64")]
    [InlineData("two", "option --workers: \"two\" is not an integer")]
    public void Run_BadWorkers_UsageErrorBeforeAnythingOpens(string value, string message)
    {
        var ex = Assert.Throws<UsageException>(() => RunCommand.Run(["--config", Path.Combine(_dir, "missing.json"), "--workers", value]));
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Usage_MentionsWorkers() => Assert.Contains("--workers N", RunCommand.Usage, StringComparison.Ordinal);
}
