using System.Buffers.Binary;
using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// dsr with <c>"tunnel": "ipip"</c> (PacketEngine.Ipip.cs): the client's packet inside an outer IPv4 header (protocol 4)
/// from the farm's source-addr to the backend, through the gateway; too big once encapsulated: ICMP fragmentation
/// needed when DF is set, outer fragments when not; no route to the backend: a counted drop.
/// </summary>
public class IpipTests
{
    private const string Vip = "192.168.101.250";
    private const string Client = "192.168.101.1";
    private const string GwMac = "02:00:00:00:00:99";
    private const string Gateway = "192.168.1.254";

    private const string Farm = """
        {"farms":[{"name":"l3","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"dsr","scheduler":"hash","source-addr":"192.168.1.1",
          "backends":[{"name":"far","ip-addr":"10.9.0.10","tunnel":"ipip"}]}]}
        """;

    private static EngineHarness WithGateway()
    {
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1, Gateway = IpAddr.Parse(Gateway), PortMtus = [1500] });
        h.Learn(GwMac, Gateway);
        return h;
    }

    /// <summary>The expected frame: Ethernet to the gateway, an outer header built here, then <paramref name="inner"/>'s
    /// IP packet (from offset <paramref name="offset"/>, <paramref name="length"/> bytes, or all of it).</summary>
    private static byte[] Encapsulated(byte[] inner, ushort id, ushort flags, int offset = 0, int length = -1)
    {
        var ip = inner.AsSpan(14);
        if (length < 0) length = ip.Length - offset;
        var f = new byte[14 + 20 + length];
        Mac(GwMac).CopyTo(f, 0);
        Mac(LbMac).CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var o = f.AsSpan(14, 20);
        o[0] = 0x45;
        o[1] = ip[1];
        BinaryPrimitives.WriteUInt16BigEndian(o[2..], (ushort)(20 + length));
        BinaryPrimitives.WriteUInt16BigEndian(o[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(o[6..], (ushort)(flags | (offset >> 3)));
        o[8] = 64;
        o[9] = 4;
        new byte[] { 192, 168, 1, 1 }.CopyTo(o[12..]);
        new byte[] { 10, 9, 0, 10 }.CopyTo(o[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(o[10..], Finish(Sum(o, 0)));
        ip.Slice(offset, length).CopyTo(f.AsSpan(34));
        return f;
    }

    private static byte[] WithoutDf(byte[] frame)
    {
        var f = (byte[])frame.Clone();
        var ip = f.AsSpan(14, 20);
        ip[6] &= 0xBF;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Finish(Sum(ip, 0)));
        return f;
    }

    [Fact]
    public void Process_SynToIpipBackend_EncapsulatedToGatewayInnerUntouched()
    {
        var h = WithGateway();
        var syn = Tcp(ClientMac, Client, Vip, 40000, 80, Syn);
        Assert.Equal(Encapsulated(syn, 1, 0x4000), Assert.Single(h.Process(syn, EngineHarness.S)));
        var ack = Tcp(ClientMac, Client, Vip, 40000, 80, Ack, payload: 50);
        Assert.Equal(Encapsulated(ack, 2, 0x4000), Assert.Single(h.Process(ack, EngineHarness.S + 1)));
        Assert.Equal(FlowForward.DsrIpip, h.SingleEntry().Forward);
    }

    [Fact]
    public void Process_TooBigWithDf_IcmpFragmentationNeededWithReducedMtu()
    {
        var h = WithGateway();
        h.Process(Tcp(ClientMac, Client, Vip, 40000, 80, Syn), EngineHarness.S);
        var big = Tcp(ClientMac, Client, Vip, 40000, 80, Ack, payload: 1460); // a 1500-byte IP packet
        var icmp = Assert.Single(h.Process(big, EngineHarness.S + 1));
        AssertChecksumsValid(icmp);
        Assert.Equal(Mac(ClientMac), icmp[..6]);
        Assert.Equal(Vip, EngineHarness.Src(icmp));
        Assert.Equal(Client, EngineHarness.Dst(icmp));
        Assert.Equal((byte)1, icmp[14 + 9]);
        Assert.Equal(new byte[] { 3, 4 }, icmp[34..36]);
        Assert.Equal(1480, BinaryPrimitives.ReadUInt16BigEndian(icmp.AsSpan(34 + 6)));
        Assert.Equal(big.AsSpan(14, 28).ToArray(), icmp[42..70]); // the IP header and the first 8 bytes quoted
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.FragmentationNeeded]);
    }

    [Fact]
    public void Process_TooBigWithoutDf_OuterFragments()
    {
        var h = WithGateway();
        h.Process(WithoutDf(Tcp(ClientMac, Client, Vip, 40000, 80, Syn)), EngineHarness.S);
        var big = WithoutDf(Tcp(ClientMac, Client, Vip, 40000, 80, Ack, payload: 1460));
        var sent = h.Process(big, EngineHarness.S + 1);
        Assert.Equal(2, sent.Count);
        Assert.Equal(Encapsulated(big, 2, 0x2000, 0, 1480), sent[0]);
        Assert.Equal(Encapsulated(big, 2, 0, 1480, 20), sent[1]);
        Assert.Equal(2, h.Counters.Forwarded);
    }

    [Fact]
    public void Process_IpipBackendWithoutRoute_CountedDropForThatBackend()
    {
        var h = new EngineHarness(Farm); // no gateway, and 10.9.0.10 never answers ARP
        long now = EngineHarness.S;
        var sent = h.Process(Tcp(ClientMac, Client, Vip, 40000, 80, Syn), now);
        var arp = Assert.Single(sent);
        Assert.Equal(new byte[] { 10, 9, 0, 10 }, arp[38..42]);
        for (int i = 0; i < 10; i++) h.Engine.Housekeeping(now += EngineHarness.S);
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.NeighborUnresolved]);
        Assert.Equal(0, h.Counters.Forwarded);
    }

    [Theory]
    [InlineData("\"family\":\"ipv6\",\"virtual-addr\":\"2001:db8::fa\",\"source-addr\":\"2001:db8::1\",", "\"ip-addr\":\"2001:db8::10\"", "\"ipip\" needs an IPv4 backend address")]
    [InlineData("\"virtual-addr\":\"192.168.101.250\",", "\"ip-addr\":\"10.9.0.10\"", "needs a \"source-addr\" (farm or backend)")]
    public void Validate_IpipBackendItCannotReach_ClearError(string farmKeys, string backendAddress, string message)
    {
        var json = """
            {"farms":[{"name":"l3","mode":"dsr",FARM
              "backends":[{"name":"far",ADDR,"tunnel":"ipip"}]}]}
            """.Replace("FARM", farmKeys).Replace("ADDR", backendAddress);
        var ex = Assert.Throws<ConfigException>(() => EngineSupport.Validate(ConfigParser.Parse(json)));
        Assert.Contains(message, ex.Message);
    }
}
