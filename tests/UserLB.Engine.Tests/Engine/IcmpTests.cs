using System.Buffers.Binary;
using PacketDotNet;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

public class IcmpTests
{
    private const string Farm = """
        {"farms":[{"name":"dns","virtual-addr":"192.168.101.250","virtual-ports":"53","protocol":"udp","mode":"MODE","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10","port":"5353"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private const string V6Farm = """
        {"farms":[{"name":"v6","family":"ipv6","virtual-addr":"2001:db8::fa","virtual-ports":"443",
          "backends":[{"name":"b0","ip-addr":"2001:db8:1::10"}]}]}
        """;

    private static byte[] Query() => Udp(ClientMac, "192.168.101.1", "192.168.101.250", 5000, 53, payload: 24);

    /// <summary>The IP packet (no Ethernet header) of a frame.</summary>
    private static byte[] IpOf(byte[] frame) => frame[14..];

    [Theory]
    [InlineData("snat", "192.168.101.250")]
    [InlineData("dnat", "192.168.101.1")]
    public void Process_PortUnreachableFromBackendAboutUdpFlow_RelayedToClientTranslated(string mode, string sourceAtBackend)
    {
        var h = new EngineHarness(Farm.Replace("MODE", mode));
        h.LearnBackends();
        var forwarded = h.Forward(Query(), S);
        Assert.Equal(sourceAtBackend, Src(forwarded));
        Assert.Equal(5353, Udp(forwarded).DestinationPort);

        // The backend answers with port unreachable quoting the whole datagram it received (as Linux does).
        var error = Icmp(Bck0Mac, "192.168.1.10", sourceAtBackend, IcmpTypes.DestUnreachable, 3, 0, IpOf(forwarded));
        var relayed = h.Forward(error, S + Ms); // checksums verified there: outer IPv4, ICMP, quoted IPv4 header, quoted UDP
        Assert.Equal(1, h.Counters.IcmpErrorsRelayed);
        Assert.Equal(ClientMac, EthDst(relayed));

        var outer = (IPv4Packet)Ip(relayed);
        Assert.Equal("192.168.101.250", outer.SourceAddress.ToString());
        Assert.Equal("192.168.101.1", outer.DestinationAddress.ToString());
        Assert.Equal(63, outer.TimeToLive);
        Assert.True(outer.ValidIPChecksum);
        var icmp = relayed.AsSpan(14 + 20);
        Assert.Equal(IcmpTypes.DestUnreachable, icmp[0]);
        Assert.Equal(3, icmp[1]);

        // The quoted packet is the client's own query again: client:5000 → VIP:53.
        var quoted = new IPv4Packet(new PacketDotNet.Utils.ByteArraySegment(icmp[8..].ToArray()));
        Assert.Equal("192.168.101.1", quoted.SourceAddress.ToString());
        Assert.Equal("192.168.101.250", quoted.DestinationAddress.ToString());
        Assert.True(quoted.ValidIPChecksum);
        var quotedUdp = icmp[(8 + 20)..];
        Assert.Equal(5000, BinaryPrimitives.ReadUInt16BigEndian(quotedUdp));
        Assert.Equal(53, BinaryPrimitives.ReadUInt16BigEndian(quotedUdp[2..]));
        // Byte for byte what the client sent, but for the TTL the LB took off (and the header checksum that covers it).
        var original = IpOf(Query());
        var expected = original.ToArray();
        expected[8] = 63;
        BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(10), Finish(Sum(expected.AsSpan(0, 20), 0)));
        Assert.Equal(expected, icmp[8..].ToArray());

        // A RELATED error does not end the connection.
        Assert.Single(h.LiveEntries());
    }

    [Fact]
    public void Process_IcmpErrorFromClientAboutReply_RelayedToBackendTranslated()
    {
        var h = new EngineHarness(Farm.Replace("MODE", "snat"));
        h.LearnBackends();
        h.Forward(Query(), S);
        var answer = h.Forward(Udp(Bck0Mac, "192.168.1.10", "192.168.101.250", 5353, 5000), S + Ms);
        Assert.Equal(53, Udp(answer).SourcePort);

        var error = Icmp(ClientMac, "192.168.101.1", "192.168.101.250", IcmpTypes.DestUnreachable, 3, 0, IpOf(answer));
        var relayed = h.Forward(error, S + 2 * Ms);
        Assert.Equal("192.168.101.250", Src(relayed));
        Assert.Equal("192.168.1.10", Dst(relayed));
        var quoted = relayed.AsSpan(14 + 20 + 8);
        Assert.Equal("192.168.1.10", new System.Net.IPAddress(quoted.Slice(12, 4)).ToString());
        Assert.Equal("192.168.101.250", new System.Net.IPAddress(quoted.Slice(16, 4)).ToString());
        Assert.Equal(5353, BinaryPrimitives.ReadUInt16BigEndian(quoted[20..]));
        Assert.Equal(5000, BinaryPrimitives.ReadUInt16BigEndian(quoted[22..]));
    }

    [Fact]
    public void Process_IcmpErrorQuotingOnlyEightBytes_RelayedWithValidChecksums()
    {
        var h = new EngineHarness(Farm.Replace("MODE", "snat"));
        h.LearnBackends();
        var forwarded = h.Forward(Query(), S);
        var error = Icmp(Bck0Mac, "192.168.1.10", "192.168.101.250", IcmpTypes.DestUnreachable, 3, 0, IpOf(forwarded).AsSpan(0, 28));
        var relayed = h.Forward(error, S + Ms);
        Assert.Equal("192.168.101.1", Dst(relayed));
        Assert.Equal(5000, BinaryPrimitives.ReadUInt16BigEndian(relayed.AsSpan(14 + 20 + 8 + 20)));
    }

    [Fact]
    public void Process_V6PacketTooBigFromBackend_RelayedToClientTranslated()
    {
        var h = new EngineHarness(V6Farm);
        h.Process(NeighborAdvertisement(Bck0Mac, "2001:db8:1::10", "2001:db8::fa"), S);
        var forwarded = h.Forward(Tcp(ClientMac, "2001:db8::1", "2001:db8::fa", 40000, 443, Ack, payload: 100), S);
        Assert.Equal("2001:db8::fa", Src(forwarded));
        var error = Icmp(Bck0Mac, "2001:db8:1::10", "2001:db8::fa", IcmpTypes.V6PacketTooBig, 0, 1280, IpOf(forwarded));
        var relayed = h.Forward(error, S + Ms); // ICMPv6 (with pseudo-header) and quoted TCP checksums recomputed there
        Assert.Equal(ClientMac, EthDst(relayed));
        Assert.Equal("2001:db8::fa", Src(relayed));
        Assert.Equal("2001:db8::1", Dst(relayed));
        var icmp = relayed.AsSpan(14 + 40);
        Assert.Equal(IcmpTypes.V6PacketTooBig, icmp[0]);
        Assert.Equal(1280u, BinaryPrimitives.ReadUInt32BigEndian(icmp[4..]));
        var quoted = icmp[8..];
        Assert.Equal("2001:db8::1", new System.Net.IPAddress(quoted.Slice(8, 16)).ToString());
        Assert.Equal("2001:db8::fa", new System.Net.IPAddress(quoted.Slice(24, 16)).ToString());
        Assert.Equal(40000, BinaryPrimitives.ReadUInt16BigEndian(quoted[40..]));
        Assert.Equal(443, BinaryPrimitives.ReadUInt16BigEndian(quoted[42..]));
        Assert.Equal(1, h.Counters.IcmpErrorsRelayed);
    }

    [Fact]
    public void Process_IcmpErrorAboutUntrackedFlow_Dropped()
    {
        var h = new EngineHarness(Farm.Replace("MODE", "snat"));
        h.LearnBackends();
        var stray = IpOf(Udp(ClientMac, "192.168.101.250", "192.168.1.10", 7777, 5353));
        Assert.Empty(h.Process(Icmp(Bck0Mac, "192.168.1.10", "192.168.101.250", IcmpTypes.DestUnreachable, 3, 0, stray), S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.IcmpErrorUntracked]);
    }

    [Theory]
    [InlineData("192.168.101.1", "192.168.101.250")]
    [InlineData("2001:db8::1", "2001:db8::fa")]
    public void Process_EchoRequestToVip_Answered(string client, string vip)
    {
        var h = new EngineHarness(vip.Contains(':', StringComparison.Ordinal) ? V6Farm : Farm.Replace("MODE", "snat"));
        var request = EchoRequest(ClientMac, client, vip, id: 0x4242, seq: 7);
        var reply = h.Forward(request, S);
        Assert.Equal(ClientMac, EthDst(reply));
        Assert.Equal(LbMac, MacAddress.Read(reply.AsSpan(6)).ToString());
        Assert.Equal(vip, Src(reply));
        Assert.Equal(client, Dst(reply));
        int icmp = client.Contains(':', StringComparison.Ordinal) ? 14 + 40 : 14 + 20;
        Assert.Equal(client.Contains(':', StringComparison.Ordinal) ? IcmpTypes.V6EchoReply : IcmpTypes.EchoReply, reply[icmp]);
        // Identifier, sequence number and data echoed unchanged.
        Assert.Equal(request.AsSpan(icmp + 4).ToArray(), reply.AsSpan(icmp + 4).ToArray());
        Assert.Equal(1, h.Counters.EchoRepliesSent);
        Assert.Equal(1, h.Counters.Consumed);
        Assert.Empty(h.LiveEntries());
    }

    [Theory]
    [InlineData("192.168.1.10")]     // a backend, through the LB's MAC
    [InlineData("192.168.101.77")]   // some other address
    public void Process_EchoRequestToNonVip_Dropped(string target)
    {
        var h = new EngineHarness(Farm.Replace("MODE", "snat"));
        h.LearnBackends();
        Assert.Empty(h.Process(EchoRequest(ClientMac, "192.168.101.1", target), S));
        Assert.Equal(1, h.Counters.Dropped);
        Assert.Equal(0, h.Counters.EchoRepliesSent);
    }
}
