using System.Net;
using PacketDotNet;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine.Tests.Nat;

public class EngineNatTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"MODE","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10","port":"PORT"},{"name":"bck1","ip-addr":"192.168.1.11","port":"PORT"}]}]}
        """;

    private static readonly MacAddress LbMac = MacAddress.Parse("02:00:00:00:00:fe");

    private sealed class ListSink : IFrameSink
    {
        public List<byte[]> Frames { get; } = [];
        public void Send(ReadOnlySpan<byte> frame, int port) => Frames.Add(frame.ToArray());
    }

    private sealed class StringTrace : IPacketTrace
    {
        public System.Text.StringBuilder Text { get; } = new();
        public void Frame(long frameNumber, long nowNs, string summary) => Text.AppendLine(summary);
        public void Step(string text) => Text.AppendLine("  " + text);
    }

    private static (PacketEngine Engine, ListSink Sink) Create(string mode, string port = "")
    {
        var config = ConfigParser.Parse(Farm.Replace("MODE", mode).Replace("PORT", port));
        var sink = new ListSink();
        var engine = new PacketEngine(new EngineOptions { Seed = 1, PortMacs = [LbMac] }, sink);
        engine.Apply(EngineSnapshot.Build(config, new IdRegistry(), null, 1));
        return (engine, sink);
    }

    private static byte[] Tcp(string srcMac, string src, string dst, ushort sport, ushort dport, bool syn, bool ack)
    {
        var tcp = new TcpPacket(sport, dport) { Synchronize = syn, Acknowledgment = ack, SequenceNumber = 1, WindowSize = 1000 };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 64, PayloadPacket = tcp };
        var eth = new EthernetPacket(System.Net.NetworkInformation.PhysicalAddress.Parse(srcMac),
            System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-FE"), EthernetType.IPv4) { PayloadPacket = ip };
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    private static byte[] ArpReply(string mac, string ip) =>
        new EthernetPacket(System.Net.NetworkInformation.PhysicalAddress.Parse(mac), System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-FE"), EthernetType.Arp)
        {
            PayloadPacket = new ArpPacket(ArpOperation.Response, System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-FE"),
                IPAddress.Parse("192.168.101.250"), System.Net.NetworkInformation.PhysicalAddress.Parse(mac), IPAddress.Parse(ip)),
        }.Bytes;

    private static IPv4Packet Ip(byte[] frame) => (IPv4Packet)Packet.ParsePacket(LinkLayers.Ethernet, frame).PayloadPacket;

    [Theory]
    [InlineData("snat", "", "192.168.101.250", 443)]
    [InlineData("dnat", "", "192.168.101.1", 443)]
    [InlineData("snat", "8443", "192.168.101.250", 8443)]
    public void Process_HandshakeThroughFarm_TranslatesBothDirections(string mode, string port, string sourceAtBackend, int backendPort)
    {
        var (engine, sink) = Create(mode, port);
        var trace = new StringTrace();
        engine.Trace = trace;
        engine.Process(Tcp("02-00-00-00-00-01", "192.168.101.1", "192.168.101.250", 40000, 443, true, false), 0, 1_000_000_000);
        // Backend unknown: an ARP request goes out and the SYN waits.
        Assert.True(sink.Frames.Count == 1, trace.Text.ToString());
        var arp = Packet.ParsePacket(LinkLayers.Ethernet, sink.Frames[0]).Extract<ArpPacket>();
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal("192.168.1.10", arp.TargetProtocolAddress.ToString());
        engine.Process(ArpReply("02-00-00-00-00-10", "192.168.1.10"), 0, 1_000_100_000);
        Assert.Equal(2, sink.Frames.Count);
        var syn = Ip(sink.Frames[1]);
        Assert.Equal(sourceAtBackend, syn.SourceAddress.ToString());
        Assert.Equal("192.168.1.10", syn.DestinationAddress.ToString());
        Assert.Equal(63, syn.TimeToLive);
        var synTcp = (TcpPacket)syn.PayloadPacket;
        Assert.Equal(backendPort, synTcp.DestinationPort);
        Assert.True(syn.ValidIPChecksum);
        Assert.True(synTcp.ValidTcpChecksum);

        // Reply from the backend goes back to the client from the VIP.
        engine.Process(Tcp("02-00-00-00-00-10", "192.168.1.10", sourceAtBackend, (ushort)backendPort, 40000, true, true), 0, 1_000_200_000);
        var synAck = Ip(sink.Frames[2]);
        Assert.Equal("192.168.101.250", synAck.SourceAddress.ToString());
        Assert.Equal("192.168.101.1", synAck.DestinationAddress.ToString());
        var t = (TcpPacket)synAck.PayloadPacket;
        Assert.Equal(443, t.SourcePort);
        Assert.Equal(40000, t.DestinationPort);
        Assert.True(t.ValidTcpChecksum);
        Assert.True(synAck.ValidIPChecksum);
        Assert.Equal(1, engine.Table.Count);
        var c = engine.Counters;
        Assert.Equal(c.RxFrames, c.Forwarded + c.Consumed + c.Dropped + engine.Neighbors.PendingFrames);
    }

    [Fact]
    public void Process_TwoClientsSameSourcePort_SecondGetsAnotherPort()
    {
        var (engine, sink) = Create("snat");
        engine.Process(ArpReply("02-00-00-00-00-10", "192.168.1.10"), 0, 1);
        engine.Process(ArpReply("02-00-00-00-00-11", "192.168.1.11"), 0, 1);
        // rr: first flow to bck0, second to bck1, third to bck0 again — the first and third clash on (bck0, VIP, 443, 40000).
        engine.Process(Tcp("02-00-00-00-00-01", "192.168.101.1", "192.168.101.250", 40000, 443, true, false), 0, 2);
        engine.Process(Tcp("02-00-00-00-00-02", "192.168.101.2", "192.168.101.250", 40000, 443, true, false), 0, 3);
        engine.Process(Tcp("02-00-00-00-00-03", "192.168.101.3", "192.168.101.250", 40000, 443, true, false), 0, 4);
        var third = (TcpPacket)Ip(sink.Frames[^1]).PayloadPacket;
        Assert.Equal("192.168.1.10", Ip(sink.Frames[^1]).DestinationAddress.ToString());
        Assert.NotEqual(40000, third.SourcePort);
        Assert.InRange(third.SourcePort, 1024, 65535);
        Assert.True(third.ValidTcpChecksum);
        Assert.Equal(1, engine.Counters.NatPortRemaps);
    }

    [Fact]
    public void Process_NoFarmForPort_DropsAndCounts()
    {
        var (engine, sink) = Create("snat");
        engine.Process(Tcp("02-00-00-00-00-01", "192.168.101.1", "192.168.101.250", 40000, 80, true, false), 0, 1);
        Assert.Empty(sink.Frames);
        Assert.Equal(1, engine.Counters.Drops[(int)DropReason.NoFarm]);
    }
}
