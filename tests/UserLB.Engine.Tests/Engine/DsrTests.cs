using UserLB.Engine.Conntrack;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// <c>"mode": "dsr"</c> (PacketEngine.Dsr.cs): the client's frame leaves byte for byte as it came but for its MACs
/// (destination the backend's, source the LB's), or is dropped with a named reason; one-directional TCP tracking with
/// IPVS's input-only table; no ARP answer for the VIP; mid-stream pickup to the backend the hash gives.
/// </summary>
public class DsrTests
{
    private const string Vip = "192.168.101.250";
    private const string Client = "192.168.101.1";

    private const string OneBackend = """
        {"farms":[{"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","protocol":"all","mode":"dsr","scheduler":"hash",
          "sched-param":"srcip srcport","STRICT"
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10","ether-addr":"02:00:00:00:00:10"}]}]}
        """;

    private const string TwoBackends = """
        {"farms":[{"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"dsr","scheduler":"hash",
          "sched-param":"srcip srcport",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private static string Config(bool strict = false) => OneBackend.Replace("\"STRICT\"", strict ? "\"tcp-strict\":\"on\"," : "");


    public static TheoryData<string, bool, byte[], byte[]?, DropReason> FirstPackets() => new()
    {
        { "SYN to the VIP", false, Tcp(ClientMac, Client, Vip, 40000, 80, Syn), WithMacs(Tcp(ClientMac, Client, Vip, 40000, 80, Syn), Bck0Mac, LbMac), DropReason.None },
        { "mid-stream ACK, picked up (tcp_loose)", false, Tcp(ClientMac, Client, Vip, 40001, 80, Ack, payload: 100), WithMacs(Tcp(ClientMac, Client, Vip, 40001, 80, Ack, payload: 100), Bck0Mac, LbMac), DropReason.None },
        { "mid-stream FIN, picked up", false, Tcp(ClientMac, Client, Vip, 40002, 80, Fin | Ack), WithMacs(Tcp(ClientMac, Client, Vip, 40002, 80, Fin | Ack), Bck0Mac, LbMac), DropReason.None },
        { "mid-stream ACK with tcp-strict", true, Tcp(ClientMac, Client, Vip, 40003, 80, Ack), null, DropReason.TcpNoSynForNewFlow },
        { "RST without a connection", false, Tcp(ClientMac, Client, Vip, 40004, 80, Rst), null, DropReason.TcpNoSynForNewFlow },
        { "segment without SYN/FIN/ACK/RST", false, Tcp(ClientMac, Client, Vip, 40005, 80, Psh), null, DropReason.TcpNoSynForNewFlow },
        { "UDP datagram, TTL 1 kept", false, Udp(ClientMac, Client, Vip, 5353, 80, ttl: 1), WithMacs(Udp(ClientMac, Client, Vip, 5353, 80, ttl: 1), Bck0Mac, LbMac), DropReason.None },
        { "other port of the VIP", false, Tcp(ClientMac, Client, Vip, 40006, 81, Syn), null, DropReason.NoFarm },
        { "ARP request for the VIP (the backends own it)", false, ArpRequest(ClientMac, Client, Vip), null, DropReason.ArpNotForUs },
    };

    [Theory]
    [MemberData(nameof(FirstPackets))]
    public void Process_FirstPacket_ForwardsByMacOrDrops(string name, bool strict, byte[] input, byte[]? expected, DropReason reason)
    {
        var h = new EngineHarness(Config(strict));
        var sent = h.Process(input, EngineHarness.S);
        if (expected is null)
        {
            Assert.True(sent.Count == 0, name);
            Assert.Equal(1, h.Counters.Drops[(int)reason]);
            return;
        }
        Assert.True(sent.Count == 1, $"{name}: {h.DropSummary()}");
        Assert.Equal(expected, sent[0]);
        Assert.Equal(FlowForward.Dsr, h.SingleEntry().Forward);
    }

    /// <summary>(client flags, state after, timeout in s after, ASSURED after): IPVS's INPUT-ONLY rows and tcp_timeouts.</summary>
    public static TheoryData<string, (byte Flags, TcpState State, int Timeout, bool Assured)[]> Sequences() => new()
    {
        { "handshake, data, close", [(Syn, TcpState.SynRecv, 60, false), (Ack, TcpState.Established, 900, true), (Ack | Psh, TcpState.Established, 900, true),
            (Fin | Ack, TcpState.FinWait, 120, true), (Ack, TcpState.FinWait, 120, true)] },
        { "RST after the handshake", [(Syn, TcpState.SynRecv, 60, false), (Ack, TcpState.Established, 900, true), (Rst, TcpState.Close, 10, true)] },
        { "RST in SYN_RECV stays", [(Syn, TcpState.SynRecv, 60, false), (Rst | Ack, TcpState.SynRecv, 60, false)] },
        { "picked up: ASSURED from the second packet", [(Ack, TcpState.Established, 900, false), (Ack, TcpState.Established, 900, true)] },
        { "SYN retransmitted", [(Syn, TcpState.SynRecv, 60, false), (Syn, TcpState.SynRecv, 60, false)] },
    };

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Process_ClientSegments_FollowIpvsInputOnlyTable(string name, (byte Flags, TcpState State, int Timeout, bool Assured)[] steps)
    {
        var h = new EngineHarness(Config());
        long now = EngineHarness.S;
        foreach (var (flags, state, timeout, assured) in steps)
        {
            now += EngineHarness.Ms;
            var input = Tcp(ClientMac, Client, Vip, 40000, 80, flags);
            var sent = h.Process(input, now);
            Assert.True(sent.Count == 1, $"{name}: {h.DropSummary()}");
            Assert.Equal(WithMacs(input, Bck0Mac, LbMac), sent[0]);
            var e = h.SingleEntry();
            Assert.Equal(state, e.TcpState);
            Assert.Equal(now + timeout * EngineHarness.S, e.ExpiresNs);
            Assert.Equal(assured, e.Assured);
            Assert.False(e.SeenReply);
        }
    }

    [Fact]
    public void Process_AckFloodFromSpoofedSources_PickupsStopUnderPressure()
    {
        var h = new EngineHarness(Config(), new EngineOptions { Seed = 1, MaxConnections = 64 });
        int sent = 0;
        for (int i = 0; i < 1000; i++)
        {
            string spoofed = IpAddr.FromV4(0xC612_0000u + (uint)i + 1).ToString();
            sent += h.Process(Tcp(ClientMac, spoofed, Vip, (ushort)(1024 + i), 80, Ack), EngineHarness.S + i * 50_000L).Count;
        }
        // Picked up until the table is 90 % full (57 of 64), then refused: the flood cannot fill it.
        Assert.Equal(57, sent);
        Assert.Equal(57, h.Engine.Table.Count);
        Assert.Equal($"tcp_loose_under_pressure={1000 - 57}", h.DropSummary());
        // A SYN is still admitted.
        Assert.Single(h.Process(Tcp(ClientMac, Client, Vip, 40000, 80, Syn), 2 * EngineHarness.S));
    }

    [Fact]
    public void Process_ReplyDirectionOfDsrFlow_DroppedNamed()
    {
        var h = new EngineHarness(Config());
        h.Process(Tcp(ClientMac, Client, Vip, 40000, 80, Syn), EngineHarness.S);
        var sent = h.Process(Tcp(Bck0Mac, Vip, Client, 80, 40000, Syn | Ack), EngineHarness.S + 1);
        Assert.Empty(sent);
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.DsrReplyDirection]);
    }

    [Fact]
    public void Process_BackendWithoutMac_ArpThenForwardedToIt()
    {
        var h = new EngineHarness(TwoBackends.Replace("\"ip-addr\":\"192.168.1.11\"", "\"ip-addr\":\"192.168.1.11\",\"state\":\"down\""));
        var syn = Tcp(ClientMac, Client, Vip, 40000, 80, Syn);
        var sent = h.Process(syn, EngineHarness.S);
        // An ARP who-has for the backend, from 0.0.0.0 (the VIP is the backends'; the engine owns no other address here).
        var arp = Assert.Single(sent);
        Assert.Equal(EtherTypes.Arp, (ushort)(arp[12] << 8 | arp[13]));
        Assert.Equal(new byte[4], arp[28..32]);
        Assert.Equal(new byte[] { 192, 168, 1, 10 }, arp[38..42]);
        sent = h.Process(ArpReply(Bck0Mac, "192.168.1.10", "0.0.0.0"), EngineHarness.S + EngineHarness.Ms);
        Assert.Equal(WithMacs(syn, Bck0Mac, LbMac), Assert.Single(sent));
    }

    [Fact]
    public void Process_Ipv6BackendWithoutMac_DadStyleSolicitationThenForwarded()
    {
        var h = new EngineHarness("""
            {"farms":[{"name":"web6","family":"ipv6","virtual-addr":"2001:db8::fa","virtual-ports":"80","mode":"dsr","scheduler":"hash",
              "backends":[{"name":"bck0","ip-addr":"2001:db8:1::10"}]}]}
            """);
        var syn = Tcp(ClientMac, "2001:db8::1", "2001:db8::fa", 40000, 80, Syn);
        var ns = Assert.Single(h.Process(syn, EngineHarness.S));
        AssertChecksumsValid(ns);
        Assert.Equal(new byte[16], ns[22..38]); // from ::, the engine owning no IPv6 address here
        Assert.Equal(14 + 40 + 24, ns.Length);  // and so without a source link-layer option
        Assert.Equal((byte)135, ns[54]);
        // The backend answers duplicate address detection to all-nodes, with its target link-layer address.
        var sent = h.Process(NeighborAdvertisement(Bck0Mac, "2001:db8:1::10", "ff02::1"), EngineHarness.S + 1);
        Assert.Equal(WithMacs(syn, Bck0Mac, LbMac), Assert.Single(sent));
    }

    [Fact]
    public void Process_BackendNeverAnswersArp_CountedDropNeverAnotherBackend()
    {
        var h = new EngineHarness(TwoBackends.Replace("\"ip-addr\":\"192.168.1.11\"", "\"ip-addr\":\"192.168.1.11\",\"state\":\"down\""));
        h.Learn(Bck1Mac, "192.168.1.11", 0);
        long now = EngineHarness.S;
        for (int i = 0; i < 10; i++, now += EngineHarness.S)
        {
            foreach (var f in h.Process(Tcp(ClientMac, Client, Vip, (ushort)(40000 + i), 80, Syn), now))
                Assert.NotEqual(Mac(Bck1Mac), f[..6]); // only ARP requests go out, never a frame to the other backend
            h.Engine.Housekeeping(now + EngineHarness.S / 2);
        }
        h.Engine.Housekeeping(now + 30 * EngineHarness.S);
        Assert.True(h.Counters.Drops[(int)DropReason.NeighborUnresolved] >= 1, h.DropSummary());
        Assert.Equal(0, h.Counters.Forwarded);
        // Counted against the backend that does not resolve (userlb stats shows it), none against the other.
        int bck0 = h.BackendId("web", "bck0"), bck1 = h.BackendId("web", "bck1");
        Assert.Equal(h.Counters.Drops[(int)DropReason.NeighborUnresolved], h.Counters.BackendDrops[bck0 * (int)DropReason.Count + (int)DropReason.NeighborUnresolved]);
        Assert.Equal(0, h.Counters.Backends[bck1].Drops);
        h.AssertInvariant();
    }

    [Theory]
    [InlineData("dsr")]
    [InlineData("dnat")] // DTA with hash: the moved flow's replies come back through the new instance (its gateway)
    public void Process_MovedFlowsAckOnly_SameBackendAsTheInstanceThatSawTheSyn(string mode)
    {
        // Two instances with one configuration but different seeds (their connection tables hash differently).
        var config = TwoBackends.Replace("\"dsr\"", $"\"{mode}\"");
        var a = new EngineHarness(config, new EngineOptions { Seed = 1 });
        var b = new EngineHarness(config, new EngineOptions { Seed = 99 });
        a.LearnBackends();
        b.LearnBackends();
        var seen = new HashSet<string>();
        for (int i = 0; i < 200; i++)
        {
            string client = $"10.0.{i / 250}.{1 + i % 250}";
            ushort port = (ushort)(30000 + i * 7);
            var fromA = a.Process(Tcp(ClientMac, client, Vip, port, 80, Syn), EngineHarness.S);
            var fromB = b.Process(Tcp(ClientMac, client, Vip, port, 80, Ack, payload: 10), EngineHarness.S);
            Assert.Single(fromA);
            Assert.Single(fromB);
            Assert.Equal(fromA[0][..6], fromB[0][..6]);
            seen.Add(Convert.ToHexString(fromA[0][..6]));
        }
        Assert.Equal(2, seen.Count); // both backends took flows: the comparison could fail
    }

    [Fact]
    public void Process_EstablishedFastPath_SameBytesCountersAndEntryAsGeneralPath()
    {
        var fast = new EngineHarness(Config());
        var general = new EngineHarness(Config());
        general.Engine.Trace = new NullTrace();
        var frames = new List<byte[]> { Tcp(ClientMac, Client, Vip, 40000, 80, Syn), Tcp(ClientMac, Client, Vip, 40000, 80, Ack) };
        for (int i = 0; i < 20; i++) frames.Add(Tcp(ClientMac, Client, Vip, 40000, 80, (byte)(Ack | (i % 2 == 0 ? Psh : 0)), seq: (uint)(1000 + i * 100), payload: 100));
        frames.Add(Tcp(ClientMac, Client, Vip, 40000, 80, Fin | Ack));
        long now = EngineHarness.S;
        foreach (var f in frames)
        {
            now += EngineHarness.Ms;
            Assert.Equal(general.Process(f, now), fast.Process(f, now));
        }
        var ef = fast.SingleEntry();
        var eg = general.SingleEntry();
        Assert.Equal((eg.TcpState, eg.ExpiresNs, eg.OriginalPackets, eg.OriginalBytes, eg.Status), (ef.TcpState, ef.ExpiresNs, ef.OriginalPackets, ef.OriginalBytes, ef.Status));
        Assert.Equal(general.Counters.Forwarded, fast.Counters.Forwarded);
        Assert.Equal(general.Counters.Farms[0].Packets, fast.Counters.Farms[0].Packets);
    }

    [Fact]
    public void Process_IcmpErrorAboutBackendsReply_RelayedToThatBackend()
    {
        var h = new EngineHarness(Config());
        h.Process(Tcp(ClientMac, Client, Vip, 40000, 80, Syn), EngineHarness.S);
        // A router on the client's side refuses the backend's reply VIP:80 → client:40000 (fragmentation needed).
        var quoted = Tcp(Bck0Mac, Vip, Client, 80, 40000, Ack, payload: 8)[14..(14 + 28)];
        var error = Icmp(ClientMac, "192.168.101.254", Vip, 3, 4, 1400, quoted);
        var sent = h.Process(error, EngineHarness.S + 1);
        Assert.Equal(WithMacs(error, Bck0Mac, LbMac), Assert.Single(sent));
    }

    [Fact]
    public void ImportConnections_DsrFlowsAfterRestart_KeepTheirBackends()
    {
        // weight draws at random: only the restored entries keep the flows where they were.
        string config = TwoBackends.Replace("\"hash\"", "\"weight\"");
        var before = new EngineHarness(config, new EngineOptions { Seed = 5 });
        before.LearnBackends();
        var backendOf = new Dictionary<ushort, string>();
        for (ushort port = 41000; port < 41040; port++)
        {
            before.Process(Tcp(ClientMac, Client, Vip, port, 80, Syn), EngineHarness.S);
            backendOf[port] = Convert.ToHexString(before.Process(Tcp(ClientMac, Client, Vip, port, 80, Ack), EngineHarness.S + 1)[0][..6]);
        }
        var after = new EngineHarness(config, new EngineOptions { Seed = 6 });
        after.LearnBackends();
        Assert.Equal(40, after.Engine.ImportConnections(before.Engine.ExportConnections(2 * EngineHarness.S), 2 * EngineHarness.S).Imported);
        foreach (var (port, mac) in backendOf)
        {
            var sent = after.Process(Tcp(ClientMac, Client, Vip, port, 80, Ack, payload: 10), 3 * EngineHarness.S);
            Assert.Equal(mac, Convert.ToHexString(Assert.Single(sent)[..6]));
        }
        Assert.Equal(2, backendOf.Values.Distinct().Count());
        Assert.Equal(40, after.Engine.Table.Count);
    }

    private sealed class NullTrace : IPacketTrace
    {
        public void Frame(long frameNumber, long nowNs, string summary) { }
        public void Step(string text) { }
    }
}
