using UserLB.Engine.Conntrack;
using UserLB.Engine.Tests.Engine;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Conntrack;

/// <summary>conntrack -L/-D/-C/-E on the engine: filters, counting, deleting and the event hook, with real frames.</summary>
public class ConntrackViewTests
{
    private const string Farms = """
        {"farms":[
          {"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"rr",
           "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]},
          {"name":"dns","virtual-addr":"192.168.101.250","virtual-ports":"53","protocol":"udp","mode":"dnat","scheduler":"rr",
           "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
        """;

    private const long T0 = 10 * S;

    private static ConntrackFilter Filter(params (string Key, string Value)[] pairs) =>
        ConntrackFilter.Parse(pairs.Select(p => KeyValuePair.Create(p.Key, p.Value)));

    /// <summary>Two TCP flows of client .1 (one answered by bck0 and established, one unreplied to bck1) and a UDP flow of client .2 to bck0.</summary>
    private static EngineHarness ThreeFlows()
    {
        var h = new EngineHarness(Farms);
        h.LearnBackends();
        h.Learn(ClientMac, "192.168.101.1");
        h.Learn(ClientMac, "192.168.101.2");
        h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 80, Syn), T0);
        h.Forward(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 80, 40000, Syn | Ack), T0 + Ms);
        h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 80, Ack), T0 + 2 * Ms);
        h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40001, 80, Syn), T0 + 3 * Ms);
        h.Forward(Udp(ClientMac, "192.168.101.2", "192.168.101.250", 5353, 53), T0 + 4 * Ms);
        Assert.Equal(3, h.Engine.Table.Count);
        return h;
    }

    private static int Count(EngineHarness h, ConntrackFilter f) =>
        h.Engine.Table.CountMatching(f.Bind(h.Engine.Snapshot), T0 + 5 * Ms);

    [Theory]
    [InlineData("", "", 3)]
    [InlineData("proto", "tcp", 2)]
    [InlineData("proto", "17", 1)]
    [InlineData("proto", "icmp", 0)]
    [InlineData("src", "192.168.101.1", 2)]
    [InlineData("src", "192.168.101.0/24", 3)]
    [InlineData("src", "192.168.101.2/32", 1)]
    [InlineData("src", "10.0.0.0/8", 0)]
    [InlineData("dst", "192.168.101.250", 3)]
    [InlineData("reply-src", "192.168.1.11", 1)]
    [InlineData("reply-dst", "192.168.101.250", 2)]
    [InlineData("reply-dst", "192.168.101.2", 1)]
    [InlineData("sport", "40001", 1)]
    [InlineData("dport", "80", 2)]
    [InlineData("dport", "53", 1)]
    [InlineData("reply-port-src", "80", 2)]
    [InlineData("reply-port-dst", "40000", 1)]
    [InlineData("state", "ESTABLISHED", 1)]
    [InlineData("state", "syn_sent", 1)]
    [InlineData("state", "TIME_WAIT", 0)]
    [InlineData("mark", "512", 1)]
    [InlineData("mark", "514", 1)]
    [InlineData("mark", "0x201", 1)]
    [InlineData("mark", "0x200/0xf00", 3)]
    [InlineData("status", "ASSURED", 1)]
    [InlineData("status", "SEEN_REPLY", 1)]
    [InlineData("status", "UNREPLIED", 2)]
    [InlineData("status", "SRC_NAT", 2)]
    [InlineData("status", "DST_NAT,UNREPLIED", 2)]
    [InlineData("family", "ipv4", 3)]
    [InlineData("family", "ipv6", 0)]
    [InlineData("farm", "web", 2)]
    [InlineData("farm", "dns", 1)]
    [InlineData("farm", "nope", 0)]
    [InlineData("backend", "bck0", 2)]
    [InlineData("backend", "bck1", 1)]
    public void CountMatching_OneField_CountsMatchingEntries(string key, string value, int expected)
    {
        var h = ThreeFlows();
        var f = key.Length == 0 ? ConntrackFilter.All : Filter((key, value));
        Assert.Equal(expected, Count(h, f));
    }

    [Fact]
    public void CountMatching_SeveralFields_AllMustMatch()
    {
        var h = ThreeFlows();
        Assert.Equal(1, Count(h, Filter(("farm", "dns"), ("backend", "bck0"))));
        Assert.Equal(1, Count(h, Filter(("farm", "web"), ("backend", "bck0"), ("state", "ESTABLISHED"))));
        Assert.Equal(0, Count(h, Filter(("farm", "web"), ("backend", "bck0"), ("state", "SYN_SENT"))));
        Assert.Equal(0, Count(h, Filter(("proto", "udp"), ("state", "ESTABLISHED"))));
    }

    [Theory]
    [InlineData("proto", "tcpx", "filter proto: \"tcpx\" is not a protocol (tcp, udp, icmp, icmpv6, sctp or 0-255)")]
    [InlineData("proto", "300", "filter proto: \"300\" is not a protocol (tcp, udp, icmp, icmpv6, sctp or 0-255)")]
    [InlineData("src", "192.168.1", "filter src: \"192.168.1\" is not an IPv4 or IPv6 address")]
    [InlineData("src", "10.0.0.0/33", "filter src: \"10.0.0.0/33\" has a prefix length outside 0-32")]
    [InlineData("dst", "fe80::1/x", "filter dst: \"fe80::1/x\" has a bad prefix length")]
    [InlineData("dport", "65536", "filter dport: \"65536\" is not a port (0-65535)")]
    [InlineData("sport", "-1", "filter sport: \"-1\" is not a port (0-65535)")]
    [InlineData("state", "OPEN", "filter state: \"OPEN\" is not a TCP state (SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2) or an SCTP state (CLOSED, COOKIE_WAIT, COOKIE_ECHOED, SHUTDOWN_SENT, SHUTDOWN_RECD, SHUTDOWN_ACK_SENT, HEARTBEAT_SENT)")]
    [InlineData("mark", "0xZZ", "filter mark: \"0xZZ\" is not a mark (N or N/MASK, decimal or 0x hex)")]
    [InlineData("mark", "1/", "filter mark: \"1/\" has a bad mask (N/MASK, decimal or 0x hex)")]
    [InlineData("status", "FOO", "filter status: \"FOO\" is not a list of ASSURED, SEEN_REPLY, UNREPLIED, SRC_NAT, DST_NAT")]
    [InlineData("status", "SEEN_REPLY,UNREPLIED", "filter status: \"SEEN_REPLY,UNREPLIED\" asks for SEEN_REPLY and UNREPLIED at once")]
    [InlineData("family", "ipx", "filter family: \"ipx\" is not ipv4 or ipv6")]
    [InlineData("colour", "red", "unknown filter \"colour\"")]
    public void Parse_BadValue_ThrowsNamingKeyAndValue(string key, string value, string message)
    {
        var ex = Assert.Throws<ConntrackFilterException>(() => Filter((key, value)));
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void ToQueryString_RoundTrips()
    {
        var f = Filter(("proto", "tcp"), ("orig-src", "2001:db8::/32"), ("status", "ASSURED,SRC_NAT"));
        Assert.Equal("?proto=tcp&src=2001%3Adb8%3A%3A%2F32&status=ASSURED%2CSRC_NAT", f.ToQueryString());
        var back = ConntrackFilter.Parse(f.ToQueryString()[1..].Split('&').Select(kv => kv.Split('='))
            .Select(kv => KeyValuePair.Create(kv[0], Uri.UnescapeDataString(kv[1]))));
        Assert.Equal(f.ToQueryString(), back.ToQueryString());
        Assert.Equal(new IpPrefix(IpAddr.Parse("2001:db8::"), 32), back.Src);
    }

    [Fact]
    public void IpPrefix_Contains_ComparesOnlyThePrefixAndFamily()
    {
        var p = new IpPrefix(IpAddr.Parse("10.1.0.0"), 16);
        Assert.True(p.Contains(IpAddr.Parse("10.1.255.3")));
        Assert.False(p.Contains(IpAddr.Parse("10.2.0.1")));
        Assert.False(p.Contains(IpAddr.Parse("::a01:1")));
        Assert.True(new IpPrefix(IpAddr.Parse("0.0.0.0"), 0).Contains(IpAddr.Parse("255.1.2.3")));
        Assert.False(new IpPrefix(IpAddr.Parse("0.0.0.0"), 0).Contains(IpAddr.Parse("2001:db8::1")));
        var v6 = new IpPrefix(IpAddr.Parse("2001:db8:0:1::"), 64);
        Assert.True(v6.Contains(IpAddr.Parse("2001:db8:0:1:ffff::1")));
        Assert.False(v6.Contains(IpAddr.Parse("2001:db8:0:2::1")));
        var v6Long = new IpPrefix(IpAddr.Parse("2001:db8::1:0"), 112);
        Assert.True(v6Long.Contains(IpAddr.Parse("2001:db8::1:abcd")));
        Assert.False(v6Long.Contains(IpAddr.Parse("2001:db8::2:0")));
    }

    [Fact]
    public void RemoveMatching_Filter_RemovesOnlyThoseAndReleasesCounters()
    {
        var h = ThreeFlows();
        int bck0 = h.BackendId("web", "bck0");
        Assert.Equal(1, h.Counters.Backends[bck0].Active);
        int removed = h.Engine.Table.RemoveMatching(Filter(("farm", "web"), ("backend", "bck0")).Bind(h.Engine.Snapshot), T0 + 5 * Ms);
        Assert.Equal(1, removed);
        Assert.Equal(2, h.Engine.Table.Count);
        Assert.Equal(0, h.Counters.Backends[bck0].Active);
        Assert.Equal(0, Count(h, Filter(("state", "ESTABLISHED"))));
        // The next packet of the deleted flow is a new flow again (mid-stream pickup with tcp_loose).
        long newFlows = h.Counters.NewFlows;
        h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 80, Ack), T0 + 6 * Ms);
        Assert.Equal(newFlows + 1, h.Counters.NewFlows);
    }

    [Fact]
    public void CopyMatching_SmallBuffer_ResumesFromCursorUntilDone()
    {
        var h = ThreeFlows();
        var f = ConntrackFilter.All;
        var buffer = new ConnEntry[2];
        int cursor = 0;
        var seen = new List<uint>();
        while (cursor < h.Engine.Table.HighWater)
        {
            int n = h.Engine.Table.CopyMatching(f, T0 + 5 * Ms, ref cursor, buffer);
            for (int i = 0; i < n; i++) seen.Add(buffer[i].Id);
        }
        Assert.Equal(3, seen.Count);
        Assert.Equal(3, seen.Distinct().Count());
    }

    [Fact]
    public void Matches_FarmFilterNotBound_Throws()
    {
        var h = ThreeFlows();
        var f = Filter(("farm", "web"));
        Assert.Throws<InvalidOperationException>(() => h.Engine.Table.CountMatching(f, T0));
    }

    [Fact]
    public void EventHub_TcpFlow_NewUpdatesDestroyInOrder()
    {
        var h = new EngineHarness(Farms);
        h.LearnBackends();
        h.Learn(ClientMac, "192.168.101.1");
        var hub = new ConntrackEventHub();
        using var sub = hub.Subscribe();
        h.Engine.Table.Events = hub;
        h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 80, Syn), T0);
        h.Forward(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 80, 40000, Syn | Ack), T0 + Ms);
        h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 80, Ack), T0 + 2 * Ms);
        h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 80, Psh | Ack, payload: 10), T0 + 3 * Ms); // no change: no event
        h.Engine.Table.RemoveMatching(ConntrackFilter.All, T0 + 4 * Ms);
        var lines = new List<string>();
        while (sub.Reader.TryRead(out var ev)) lines.Add(ConntrackFormatter.EventLine(ev.Type, ev.Entry, ev.NowNs));
        Assert.Equal(
        [
            "    [NEW] tcp      6 120 SYN_SENT src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=80 [UNREPLIED] src=192.168.1.10 dst=192.168.101.250 sport=80 dport=40000 mark=512",
            " [UPDATE] tcp      6 60 SYN_RECV src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=80 src=192.168.1.10 dst=192.168.101.250 sport=80 dport=40000 mark=512",
            " [UPDATE] tcp      6 432000 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=80 src=192.168.1.10 dst=192.168.101.250 sport=80 dport=40000 [ASSURED] mark=512",
            "[DESTROY] tcp      6 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=80 packets=3 bytes=130 src=192.168.1.10 dst=192.168.101.250 sport=80 dport=40000 packets=1 bytes=40 [ASSURED] mark=512",
        ], lines);
        Assert.Equal(4, hub.Delivered);
        Assert.Equal(0, hub.Dropped);
    }

    [Fact]
    public void EventHub_FullBuffer_DropsAndCounts()
    {
        var h = new EngineHarness(Farms);
        h.LearnBackends();
        h.Learn(ClientMac, "192.168.101.1");
        var hub = new ConntrackEventHub();
        using var sub = hub.Subscribe(capacity: 2);
        h.Engine.Table.Events = hub;
        for (ushort p = 1; p <= 5; p++) h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", p, 80, Syn), T0);
        Assert.Equal(2, hub.Delivered);
        Assert.Equal(3, hub.Dropped);
        Assert.Equal(3, sub.Dropped);
        Assert.True(sub.Reader.TryRead(out var first));
        Assert.Equal(ConnEventType.New, first.Type);
        Assert.Equal(1, first.Entry.Original.SrcPort);
    }

    [Fact]
    public void EventHub_Unsubscribed_StopsDelivering()
    {
        var hub = new ConntrackEventHub();
        var sub = hub.Subscribe();
        Assert.True(hub.HasSubscribers);
        sub.Dispose();
        Assert.False(hub.HasSubscribers);
        Assert.True(sub.Reader.Completion.IsCompleted);
        hub.OnEvent(ConnEventType.New, default, 0);
        Assert.Equal(0, hub.Delivered);
    }

    [Fact]
    public void EventLine_UdpUnreplied_HasNoStateField()
    {
        var h = ThreeFlows();
        var e = h.Engine.Table[h.LiveEntries().Single(i => h.Engine.Table[i].Original.Protocol == IpProtocols.Udp)];
        Assert.Equal("    [NEW] udp      17 30 src=192.168.101.2 dst=192.168.101.250 sport=5353 dport=53 [UNREPLIED] src=192.168.1.10 dst=192.168.101.2 sport=53 dport=5353 mark=514",
            ConntrackFormatter.EventLine(ConnEventType.New, e, T0 + 4 * Ms));
    }
}
