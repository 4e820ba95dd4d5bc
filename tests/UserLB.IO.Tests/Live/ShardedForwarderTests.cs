using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.Live;
using UserLB.IO.Live.Receivers;

using static UserLB.IO.Tests.Live.LiveFrames;

namespace UserLB.IO.Tests.Live;

/// <summary>
/// The live pipeline with several workers (and with one, run inline) over an in-memory port: frames of both directions
/// of each flow meet on the worker that owns the flow, ARP reaches every worker, and the control plane reaches each.
/// </summary>
public sealed class ShardedForwarderTests
{
    private const string Farms = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"weight","iface":"m0",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private static LiveForwarder Create(MemoryPort port, int workers) =>
        new([port], (sink, shard) => new PacketEngine(new EngineOptions { Seed = 7 + shard, PortNames = ["m0"], ShardCount = workers, ShardIndex = shard }, sink),
            workers);

    private static async Task ApplyAsync(LiveForwarder fwd)
    {
        var snapshot = EngineSnapshot.Build(ConfigParser.Parse(Farms), new IdRegistry(), null, 1);
        await fwd.InvokeAllAsync((e, _) => { e.Apply(snapshot); return 0; });
    }

    private static async Task FeedAsync(LiveForwarder fwd, MemoryPort port, params byte[][] frames)
    {
        long before = (await fwd.InvokeAllAsync((e, _) => e.Counters.RxFrames)).Sum();
        foreach (var f in frames) port.Incoming.Add(f);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            long now = (await fwd.InvokeAllAsync((e, _) => e.Counters.RxFrames)).Sum();
            if (now >= before + frames.Length && port.Incoming.Count == 0 && fwd.QueueDepth == 0) return;
            await Task.Delay(5);
        }
        throw new TimeoutException("the workers did not process the frames");
    }

    /// <summary>Connections from 24 client ports, SYN to the VIP, SYN-ACK back from the backend: every flow completes.</summary>
    private static async Task<Dictionary<ushort, string>> RunFlowsAsync(LiveForwarder fwd, MemoryPort port)
    {
        await ApplyAsync(fwd);
        fwd.Start();
        await FeedAsync(fwd, port, ArpReply(Backends[0], BackendMac(0)), ArpReply(Backends[1], BackendMac(1)));
        var syns = new byte[24][];
        for (int i = 0; i < syns.Length; i++) syns[i] = Tcp(Client, Vip, (ushort)(40000 + i), 80, false, ClientMac);
        await FeedAsync(fwd, port, syns);
        var toBackends = TakeSentTcp(port.Sent);
        Assert.Equal(24, toBackends.Count);
        var backendOf = new Dictionary<ushort, string>();
        var replies = new List<byte[]>();
        foreach (var (ip, tcp) in toBackends)
        {
            Assert.Equal(Vip, ip.SourceAddress.ToString());        // SNAT to the VIP
            Assert.True(tcp.ValidTcpChecksum && ip.ValidIPChecksum);
            backendOf[tcp.SourcePort] = ip.DestinationAddress.ToString();
            int b = Array.IndexOf(Backends, ip.DestinationAddress.ToString());
            replies.Add(Tcp(ip.DestinationAddress.ToString(), Vip, 80, tcp.SourcePort, true, BackendMac(b)));
        }
        await FeedAsync(fwd, port, [.. replies]);
        var toClient = TakeSentTcp(port.Sent);
        Assert.Equal(24, toClient.Count);
        foreach (var (ip, tcp) in toClient)
        {
            Assert.Equal((Vip, Client, (ushort)80), (ip.SourceAddress.ToString(), ip.DestinationAddress.ToString(), tcp.SourcePort));
            Assert.True(tcp.Synchronize && tcp.Acknowledgment && tcp.ValidTcpChecksum && ip.ValidIPChecksum);
        }
        return backendOf;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Process_SeveralWorkers_EachFlowLivesOnTheWorkerOfItsShardAndRepliesFindIt(int workers)
    {
        var port = new MemoryPort("m0");
        using var fwd = Create(port, workers);
        Assert.Equal(workers, fwd.WorkerCount);
        var backendOf = await RunFlowsAsync(fwd, port);
        Assert.Equal(24, backendOf.Count);
        // Every worker holds exactly the flows of its shard (by the client port), each now with its reply seen.
        var perWorker = await fwd.InvokeAllAsync((e, _) =>
        {
            var ports = new List<int>();
            for (int i = 0; i < e.Table.HighWater; i++)
                if (e.Table[i].InUse && (e.Table[i].Status & UserLB.Engine.Conntrack.ConnStatus.SeenReply) != 0) ports.Add(e.Table[i].Original.SrcPort);
            return (e.ShardIndex, ports, e.Counters.NewFlows);
        });
        int total = 0;
        foreach (var (shard, ports, newFlows) in perWorker)
        {
            Assert.All(ports, p => Assert.Equal(shard, FlowShard.OfPort((ushort)p, workers)));
            int expected = 0;
            for (int p = 40000; p < 40024; p++) expected += FlowShard.OfPort((ushort)p, workers) == shard ? 1 : 0;
            Assert.Equal(expected, ports.Count);
            Assert.Equal(ports.Count, newFlows);
            total += ports.Count;
        }
        Assert.Equal(24, total);
        fwd.Stop();
    }

    [Fact]
    public async Task Process_ArpReplyWithSeveralWorkers_EveryWorkerLearnsTheNeighbour()
    {
        var port = new MemoryPort("m0");
        using var fwd = Create(port, 3);
        await ApplyAsync(fwd);
        fwd.Start();
        port.Incoming.Add(ArpReply(Backends[1], BackendMac(1)));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        long[] rx;
        do
        {
            await Task.Delay(5);
            rx = await fwd.InvokeAllAsync((e, _) => e.Counters.RxFrames);
        } while (Array.IndexOf(rx, 0L) >= 0 && DateTime.UtcNow < deadline);
        Assert.Equal([1L, 1L, 1L], rx);
        var threads = await fwd.InvokeAllAsync((e, _) => Thread.CurrentThread.Name ?? "");
        Assert.Equal(["worker-0", "worker-1", "worker-2"], threads);
        fwd.Stop();
    }

    [Fact]
    public async Task Process_OneWorker_ForwardsBothDirectionsOnTheReceiveThread()
    {
        var port = new MemoryPort("m0");
        using var fwd = Create(port, 1);
        var backendOf = await RunFlowsAsync(fwd, port);
        Assert.Equal(24, backendOf.Count);
        Assert.Equal("rx-m0", await fwd.InvokeAsync((e, _) => Thread.CurrentThread.Name).WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, fwd.QueueCapacity);
        Assert.IsType<PerPortReceiver>(fwd.Receiver);
        fwd.Stop();
        Assert.Equal(24, await fwd.InvokeAsync((e, _) => e.Table.Count)); // runs inline once stopped
    }

    [Fact]
    public void Constructor_NoWorkersOrWrongShard_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Create(new MemoryPort("m0"), 0));
        Assert.Throws<ArgumentException>(() => new LiveForwarder([new MemoryPort("m0")],
            (sink, shard) => new PacketEngine(new EngineOptions(), sink), 2));
    }
}
