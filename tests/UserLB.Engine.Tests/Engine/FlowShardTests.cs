using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// Both directions of a flow, as the real engine translates them, must land on one shard: the frames fed to
/// <see cref="FlowShard.Of"/> here are the client's, the engine's translated output and the backend's reply to it.
/// </summary>
public class FlowShardTests
{
    private const string Farm = """
        {"farms":[{"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","protocol":"all","mode":"MODE","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10","port":"8080"},{"name":"bck1","ip-addr":"192.168.1.11","port":"8080"}]}]}
        """;

    private static byte[] IpOf(byte[] frame) => frame[14..];

    [Theory]
    [InlineData("snat", 2)]
    [InlineData("snat", 3)]
    [InlineData("dnat", 2)]
    [InlineData("dnat", 4)]
    public void Of_TcpAndUdpFlowsThroughTheEngine_BothDirectionsOnTheClientPortsShard(string mode, int shards)
    {
        var h = new EngineHarness(Farm.Replace("MODE", mode));
        h.LearnBackends();
        for (ushort port = 40000; port < 40012; port++)
        {
            var snap = h.Engine.Snapshot;
            bool udp = port % 2 == 0;
            var request = udp
                ? Udp(ClientMac, "192.168.101.1", "192.168.101.250", port, 80)
                : Tcp(ClientMac, "192.168.101.1", "192.168.101.250", port, 80, TcpFlags.Syn);
            int shard = FlowShard.Of(request, snap, shards);
            Assert.Equal(FlowShard.OfPort(port, shards), shard);
            var forwarded = h.Forward(request, S);
            string backend = Dst(forwarded), seenSource = Src(forwarded);
            ushort seenPort = udp ? Udp(forwarded).SourcePort : Tcp(forwarded).SourcePort;
            string bckMac = backend == "192.168.1.10" ? Bck0Mac : Bck1Mac;
            // The backend's reply: to the VIP (NAT) or to the client (DTA), at the port it saw.
            var reply = udp
                ? Udp(bckMac, backend, seenSource, 8080, seenPort)
                : Tcp(bckMac, backend, seenSource, 8080, seenPort, (byte)(TcpFlags.Syn | TcpFlags.Ack));
            Assert.Equal(shard, FlowShard.Of(reply, snap, shards));
            // An ICMP error from the backend about what the LB sent it, and from the client about the LB's answer.
            var fromBackend = Icmp(bckMac, backend, seenSource, IcmpTypes.DestUnreachable, 3, 0, IpOf(forwarded));
            Assert.Equal(shard, FlowShard.Of(fromBackend, snap, shards));
            var answer = h.Forward(reply, S + Ms);
            var fromClient = Icmp(ClientMac, "192.168.101.1", "192.168.101.250", IcmpTypes.DestUnreachable, 3, 0, IpOf(answer));
            Assert.Equal(shard, FlowShard.Of(fromClient, snap, shards));
        }
    }

    [Fact]
    public void Of_ArpAndNeighbourDiscovery_EveryShard()
    {
        var snap = new EngineHarness(Farm.Replace("MODE", "snat")).Engine.Snapshot;
        Assert.Equal(FlowShard.All, FlowShard.Of(ArpRequest(ClientMac, "192.168.101.1", "192.168.101.250"), snap, 2));
        Assert.Equal(FlowShard.All, FlowShard.Of(ArpReply(Bck0Mac, "192.168.1.10"), snap, 2));
        Assert.Equal(FlowShard.All, FlowShard.Of(NeighborSolicitation(ClientMac, "2001:db8::1", "2001:db8::fa"), snap, 2));
        Assert.Equal(0, FlowShard.Of(ArpReply(Bck0Mac, "192.168.1.10"), snap, 1));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Process_ClientPortClashOnShardedEngine_NewPortIsOfTheEnginesShard(int shardIndex)
    {
        // One backend: a second client with the same source port clashes on (bck0, VIP, 8080, port).
        var h = new EngineHarness("""
            {"farms":[{"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","protocol":"tcp","mode":"snat",
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
            """, new EngineOptions { Seed = 1, ShardCount = 2, ShardIndex = shardIndex });
        h.LearnBackends();
        for (int i = 0; i < 20; i++)
        {
            ushort port = (ushort)(40000 + 2 * i + shardIndex); // a port of this engine's shard, as FlowShard routes it
            var first = h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", port, 80, TcpFlags.Syn), S);
            Assert.Equal(port, Tcp(first).SourcePort); // kept when free
            var second = h.Forward(Tcp("02:00:00:00:00:02", "192.168.101.2", "192.168.101.250", port, 80, TcpFlags.Syn), S);
            Assert.NotEqual(port, Tcp(second).SourcePort);
            Assert.Equal(shardIndex, FlowShard.OfPort(Tcp(second).SourcePort, 2));
        }
        Assert.Equal(20, h.Counters.NatPortRemaps);
    }

    [Fact]
    public void PacketEngine_ShardIndexOutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PacketEngine(new EngineOptions { ShardCount = 2, ShardIndex = 2 }, new NullSink()));
    }

    private sealed class NullSink : IFrameSink
    {
        public void Send(ReadOnlySpan<byte> frame, int port)
        {
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(8)]
    public void OfPort_LinuxConnectPortsAllEven_SpreadEvenlyOverShards(int shards)
    {
        // Linux's connect() takes even ports from 32768-60999 (ip_local_port_range), in runs; each shard must get its share.
        var count = new int[shards];
        int total = 0;
        for (int port = 32768; port <= 60998; port += 2, total++) count[FlowShard.OfPort((ushort)port, shards)]++;
        foreach (int c in count) Assert.InRange(c, total / shards * 0.95, total / shards * 1.05);
        // And a short run of consecutive even ports (one client's burst) already uses every shard.
        var seen = new HashSet<int>();
        for (int port = 40000; port < 40000 + 2 * 4 * shards; port += 2) seen.Add(FlowShard.OfPort((ushort)port, shards));
        Assert.Equal(shards, seen.Count);
    }
}
