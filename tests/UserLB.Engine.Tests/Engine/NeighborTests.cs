using PacketDotNet;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

public class NeighborTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","source-addr":"192.168.1.254",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]},
          {"name":"v6","family":"ipv6","virtual-addr":"2001:db8::fa","virtual-ports":"443","mode":"snat","scheduler":"rr",
          "backends":[{"name":"b0","ip-addr":"2001:db8:1::10"},{"name":"b1","ip-addr":"2001:db8:1::11"}]}]}
        """;

    [Theory]
    [InlineData("192.168.101.250")] // the VIP
    [InlineData("192.168.1.254")]   // the SNAT source address
    public void Process_ArpRequestForOwnAddress_AnsweredWithLbMac(string target)
    {
        var h = new EngineHarness(Farm);
        var sent = h.Process(ArpRequest(ClientMac, "192.168.101.1", target), S);
        var frame = Assert.Single(sent);
        Assert.Equal(ClientMac, EthDst(frame));
        Assert.Equal(LbMac, MacAddress.Read(frame.AsSpan(6)).ToString());
        var arp = Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<ArpPacket>();
        Assert.Equal(ArpOperation.Response, arp.Operation);
        Assert.Equal(target, arp.SenderProtocolAddress.ToString());
        Assert.Equal("02-00-00-00-00-FE", ToDashed(arp.SenderHardwareAddress));
        Assert.Equal("192.168.101.1", arp.TargetProtocolAddress.ToString());
        Assert.Equal("02-00-00-00-00-01", ToDashed(arp.TargetHardwareAddress));
        Assert.Equal(1, h.Counters.ArpRepliesSent);
        Assert.Equal(1, h.Counters.Consumed);
        // The requester was learned on the way.
        Assert.True(h.Engine.Neighbors.TryGet(IpAddr.Parse("192.168.101.1"), out var mac, out _));
        Assert.Equal(ClientMac, mac.ToString());
    }

    private static string ToDashed(System.Net.NetworkInformation.PhysicalAddress a) =>
        string.Join('-', a.GetAddressBytes().Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData("192.168.101.77")]
    [InlineData("192.168.1.10")] // a backend: it answers for itself
    public void Process_ArpRequestForOtherAddress_NotAnswered(string target)
    {
        var h = new EngineHarness(Farm);
        Assert.Empty(h.Process(ArpRequest(ClientMac, "192.168.101.1", target), S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.ArpNotForUs]);
        Assert.Equal(0, h.Counters.ArpRepliesSent);
    }

    [Fact]
    public void Process_NeighborSolicitationForV6Vip_Advertised()
    {
        var h = new EngineHarness(Farm);
        var sent = h.Process(NeighborSolicitation(ClientMac, "2001:db8::1", "2001:db8::fa"), S);
        var na = Assert.Single(sent);
        AssertChecksumsValid(na);
        Assert.Equal(ClientMac, EthDst(na));
        var ip = (IPv6Packet)Ip(na);
        Assert.Equal("2001:db8::fa", ip.SourceAddress.ToString());
        Assert.Equal("2001:db8::1", ip.DestinationAddress.ToString());
        Assert.Equal(255, ip.HopLimit);
        var icmp = na.AsSpan(14 + 40);
        Assert.Equal(IcmpTypes.V6NeighborAdvertisement, icmp[0]);
        Assert.Equal(0x60, icmp[4] & 0x60); // solicited + override
        Assert.Equal("2001:db8::fa", new System.Net.IPAddress(icmp.Slice(8, 16)).ToString());
        Assert.Equal(2, icmp[24]); // target link-layer address option
        Assert.Equal(LbMac, MacAddress.Read(icmp[26..]).ToString());
        Assert.Equal(1, h.Counters.NdpAdvertisementsSent);
    }

    [Fact]
    public void Process_V6HandshakeSnat_SolicitsBackendThenForwardsBothWays()
    {
        var h = new EngineHarness(Farm);
        var syn = Tcp(ClientMac, "2001:db8::1", "2001:db8::fa", 40000, 443, Syn);

        // The backend's MAC is unknown: a neighbour solicitation goes to its solicited-node group, the SYN waits.
        var first = h.Process(syn, S);
        var ns = Assert.Single(first);
        AssertChecksumsValid(ns);
        Assert.Equal("33:33:ff:00:00:10", EthDst(ns));
        var nsIp = (IPv6Packet)Ip(ns);
        Assert.Equal("ff02::1:ff00:10", nsIp.DestinationAddress.ToString());
        Assert.Equal("2001:db8::fa", nsIp.SourceAddress.ToString());
        Assert.Equal(255, nsIp.HopLimit);
        var nsIcmp = ns.AsSpan(14 + 40);
        Assert.Equal(IcmpTypes.V6NeighborSolicitation, nsIcmp[0]);
        Assert.Equal("2001:db8:1::10", new System.Net.IPAddress(nsIcmp.Slice(8, 16)).ToString());
        Assert.Equal(1, h.Engine.Neighbors.PendingFrames);

        // The advertisement releases the SYN, translated.
        var released = h.Process(NeighborAdvertisement(Bck0Mac, "2001:db8:1::10", "2001:db8::fa"), S + Ms);
        var fwd = Assert.Single(released);
        AssertChecksumsValid(fwd);
        Assert.Equal(Bck0Mac, EthDst(fwd));
        var ip = (IPv6Packet)Ip(fwd);
        Assert.Equal("2001:db8::fa", ip.SourceAddress.ToString());
        Assert.Equal("2001:db8:1::10", ip.DestinationAddress.ToString());
        Assert.Equal(63, ip.HopLimit);
        Assert.Equal(443, Tcp(fwd).DestinationPort);
        Assert.True(Tcp(fwd).Synchronize);
        Assert.Equal(0, h.Engine.Neighbors.PendingFrames);

        var synAck = h.Forward(Tcp(Bck0Mac, "2001:db8:1::10", "2001:db8::fa", 443, (ushort)Tcp(fwd).SourcePort, Syn | Ack), S + 2 * Ms);
        Assert.Equal(ClientMac, EthDst(synAck));
        Assert.Equal("2001:db8::fa", Src(synAck));
        Assert.Equal("2001:db8::1", Dst(synAck));
        Assert.Equal(443, Tcp(synAck).SourcePort);
        Assert.Equal(40000, Tcp(synAck).DestinationPort);

        var ack = h.Forward(Tcp(ClientMac, "2001:db8::1", "2001:db8::fa", 40000, 443, Ack), S + 3 * Ms);
        Assert.Equal("2001:db8:1::10", Dst(ack));
        var e = h.SingleEntry();
        Assert.Equal(UserLB.Engine.Conntrack.TcpState.Established, e.TcpState);
        Assert.True(e.Assured);
        Assert.Equal(1, h.Counters.NdpSolicitationsSent);
    }

    [Fact]
    public void Process_UnknownBackendNeverAnswers_QueuedFrameDroppedAfterThreeSolicitations()
    {
        var h = new EngineHarness(Farm);
        Assert.Single(h.Process(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, Syn), S)); // ARP request
        Assert.Equal(1, h.Engine.Neighbors.PendingFrames);
        for (int k = 1; k <= 3; k++)
        {
            h.Engine.Housekeeping(S + k * S);
            h.AssertInvariant();
        }
        Assert.Equal(0, h.Engine.Neighbors.PendingFrames);
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.NeighborUnresolved]);
        Assert.Equal(3, h.Counters.ArpRequestsSent);
        h.AssertInvariant();
    }
}
