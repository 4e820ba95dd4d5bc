using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// N engines as the live forwarder runs them with N workers: engine i is shard i of N, all get the same snapshot, and
/// each frame goes to the engine <see cref="FlowShard.Of"/> names (ARP/NDP to every engine). The engines share one
/// <see cref="SharedFlowState"/> unless <c>shared</c> is false (each keeps its own, to show what sharing fixes).
/// </summary>
internal sealed class ShardedHarness
{
    private readonly IdRegistry _ids = new();
    private readonly ListSink[] _sinks;
    private long _generation;

    public ShardedHarness(string json, int shards, bool shared = true, int seed = 1)
    {
        State = shared ? new SharedFlowState(seed: seed) : null;
        _sinks = new ListSink[shards];
        Engines = new PacketEngine[shards];
        for (int i = 0; i < shards; i++)
        {
            _sinks[i] = new ListSink();
            Engines[i] = new PacketEngine(new EngineOptions
            {
                Seed = seed + i,
                ShardCount = shards,
                ShardIndex = i,
                Shared = State,
                PortMacs = [MacAddress.Parse(TestFrames.LbMac)],
            }, _sinks[i]);
        }
        Apply(json);
    }

    public PacketEngine[] Engines { get; }
    public SharedFlowState? State { get; }
    public int Count => Engines.Length;
    public EngineSnapshot Snapshot => Engines[0].Snapshot;

    public void Apply(string json)
    {
        var snapshot = EngineSnapshot.Build(ConfigParser.Parse(json), _ids, null, ++_generation);
        foreach (var e in Engines) e.Apply(snapshot);
    }

    public int BackendId(string farm, string backend) => _ids.BackendId(farm, backend);

    /// <summary>The engine that owns the frame's flow (as the forwarder dispatches it).</summary>
    public int ShardOf(byte[] frame) => FlowShard.Of(frame, Snapshot, Count);

    /// <summary>Dispatches a frame as the forwarder does; returns what the engine(s) sent because of it.</summary>
    public List<byte[]> Process(byte[] frame, long nowNs) => Process(frame, nowNs, out _);

    public List<byte[]> Process(byte[] frame, long nowNs, out int shard)
    {
        shard = ShardOf(frame);
        var sent = new List<byte[]>();
        for (int i = 0; i < Count; i++)
        {
            if (shard != FlowShard.All && shard != i) continue;
            int before = _sinks[i].Frames.Count;
            Engines[i].Process(frame.AsSpan().ToArray(), 0, nowNs);
            var c = Engines[i].Counters;
            Assert.Equal(c.RxFrames, c.Forwarded + c.Consumed + c.Dropped + Engines[i].Neighbors.PendingFrames);
            sent.AddRange(_sinks[i].Frames.GetRange(before, _sinks[i].Frames.Count - before));
        }
        return sent;
    }

    public byte[] Forward(byte[] frame, long nowNs)
    {
        var sent = Process(frame, nowNs);
        Assert.True(sent.Count == 1, $"expected one frame out, got {sent.Count}; drops: {Sum(c => c.Dropped)}");
        TestFrames.AssertChecksumsValid(sent[0]);
        return sent[0];
    }

    public void LearnBackends(long nowNs = 0)
    {
        Assert.Empty(Process(TestFrames.ArpReply(TestFrames.Bck0Mac, "192.168.1.10"), nowNs));
        Assert.Empty(Process(TestFrames.ArpReply(TestFrames.Bck1Mac, "192.168.1.11"), nowNs));
    }

    public long Sum(Func<EngineCounters, long> counter)
    {
        long n = 0;
        foreach (var e in Engines) n += counter(e.Counters);
        return n;
    }

    public long Drops(DropReason reason) => Sum(c => c.Drops[(int)reason]);

    public int Connections => Engines.Sum(e => e.Table.Count);

    private sealed class ListSink : IFrameSink
    {
        public List<byte[]> Frames { get; } = [];
        public void Send(ReadOnlySpan<byte> frame, int port) => Frames.Add(frame.ToArray());
    }
}
