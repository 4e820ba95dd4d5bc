using UserLB.Engine.Conntrack;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;

namespace UserLB.Engine.Tests.Conntrack;

/// <summary>
/// conntrack's <c>-o extended|id|timestamp</c>, DESTROY with the TCP state and ICMP's real type and code, line for line
/// as conntrack-tools 1.4.7 prints the kernel's (6.x) entries and events: the expected lines follow lines captured from
/// the kernel (<c>conntrack -E -o timestamp,id</c>, <c>-E -o extended</c>, <c>-L -o extended|id</c>) with our addresses.
/// </summary>
public class ConntrackOutputTests
{
    private static readonly IpAddr Client = IpAddr.Parse("192.168.101.1"), Vip = IpAddr.Parse("192.168.101.250"), Bck0 = IpAddr.Parse("192.168.1.10");

    private static ConnEntry Tcp(TcpState state, ConnStatus status, uint mark = 512) => new()
    {
        Original = new FlowTuple(Client, Vip, 40001, 443, IpProtocols.Tcp),
        Reply = new FlowTuple(Bck0, Vip, 443, 40001, IpProtocols.Tcp),
        Id = 7,
        Mark = mark,
        TcpState = state,
        ExpiresNs = 120 * S,
        Status = ConnStatus.InUse | status,
        OriginalPackets = 5,
        OriginalBytes = 301,
        ReplyPackets = 4,
        ReplyBytes = 250,
    };

    public static TheoryData<string, string> Lines => new()
    {
        // kernel: "ipv4     2 tcp      6 59 CLOSE_WAIT src=10.77.0.2 … [ASSURED] mark=0 use=1"
        { "L extended", "ipv4     2 tcp      6 120 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40001 dport=443 packets=5 bytes=301 src=192.168.1.10 dst=192.168.101.250 sport=443 dport=40001 packets=4 bytes=250 [ASSURED] mark=512 use=1" },
        // kernel: "tcp      6 59 CLOSE_WAIT src=… [ASSURED] mark=0 use=1 id=2335985766"
        { "L id", "tcp      6 120 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40001 dport=443 packets=5 bytes=301 src=192.168.1.10 dst=192.168.101.250 sport=443 dport=40001 packets=4 bytes=250 [ASSURED] mark=512 use=1 id=7" },
        { "L extended,id", "ipv4     2 tcp      6 120 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40001 dport=443 packets=5 bytes=301 src=192.168.1.10 dst=192.168.101.250 sport=443 dport=40001 packets=4 bytes=250 [ASSURED] mark=512 use=1 id=7" },
        // kernel: "[1796516983.299432]\t [UPDATE] tcp      6 432000 ESTABLISHED src=… [ASSURED] id=3522889011" (mark 0: not printed)
        { "E timestamp,id", "[1700000000.001000]\t [UPDATE] tcp      6 120 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40001 dport=443 src=192.168.1.10 dst=192.168.101.250 sport=443 dport=40001 [ASSURED] mark=512 id=7" },
        // kernel: " [UPDATE] ipv4     2 tcp      6 60 SYN_RECV src=…"
        { "E extended", " [UPDATE] ipv4     2 tcp      6 120 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40001 dport=443 src=192.168.1.10 dst=192.168.101.250 sport=443 dport=40001 [ASSURED] mark=512" },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void Format_Output_AsConntrackPrintsIt(string what, string expected)
    {
        var e = Tcp(TcpState.Established, ConnStatus.SeenReply | ConnStatus.Assured);
        Assert.True(ConntrackFormatter.TryParseOutput(what[2..], out var output, out string? error), error);
        string line = what[0] == 'L'
            ? ConntrackFormatter.Line(e, 0, output: output)
            : ConntrackFormatter.EventLine(ConnEventType.Update, e, 0, output, 1_700_000_000_001_000_999);
        Assert.Equal(expected, line);
    }

    [Fact]
    public void EventLine_DestroyOfTimedOutEntry_StateAndCountersNoTimeout()
    {
        // kernel: "[DESTROY] tcp      6 TIME_WAIT src=10.77.0.2 dst=10.77.0.1 sport=38918 dport=8080 src=… [ASSURED]"
        var e = Tcp(TcpState.TimeWait, ConnStatus.SeenReply | ConnStatus.Assured);
        Assert.Equal(
            "[DESTROY] tcp      6 TIME_WAIT src=192.168.101.1 dst=192.168.101.250 sport=40001 dport=443 packets=5 bytes=301 src=192.168.1.10 dst=192.168.101.250 sport=443 dport=40001 packets=4 bytes=250 [ASSURED] mark=512",
            ConntrackFormatter.EventLine(ConnEventType.Destroy, e, 121 * S));
    }

    [Fact]
    public void EventLine_MarkZero_NotPrinted()
    {
        // ctnetlink puts CTA_MARK in an event only when the mark is set (or changed); -L always prints it.
        var e = Tcp(TcpState.SynSent, ConnStatus.None, mark: 0);
        Assert.Equal(
            "    [NEW] tcp      6 120 SYN_SENT src=192.168.101.1 dst=192.168.101.250 sport=40001 dport=443 [UNREPLIED] src=192.168.1.10 dst=192.168.101.250 sport=443 dport=40001",
            ConntrackFormatter.EventLine(ConnEventType.New, e, 0));
        Assert.EndsWith(" mark=0 use=1", ConntrackFormatter.Line(e, 0), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(IpProtocols.Icmp, IcmpTypes.EchoRequest, "type=8 code=0 id=4660", "type=0 code=0 id=4660")]
    [InlineData(IpProtocols.Icmp, 13, "type=13 code=0 id=4660", "type=14 code=0 id=4660")]
    [InlineData(IpProtocols.Icmpv6, IcmpTypes.V6EchoRequest, "type=128 code=0 id=4660", "type=129 code=0 id=4660")]
    public void Line_IcmpQuery_RealTypeAndTheAnswersType(byte protocol, byte type, string original, string reply)
    {
        bool v6 = protocol == IpProtocols.Icmpv6;
        var c = IpAddr.Parse(v6 ? "2001:db8:101::1" : "192.168.101.1");
        var v = IpAddr.Parse(v6 ? "2001:db8:101::250" : "192.168.101.250");
        var b = IpAddr.Parse(v6 ? "2001:db8:1::10" : "192.168.1.10");
        var e = new ConnEntry
        {
            Original = new FlowTuple(c, v, 0x1234, 0x1234, protocol),
            Reply = new FlowTuple(b, v, 0x1234, 0x1234, protocol),
            IcmpType = type,
            ExpiresNs = 30 * S,
            Status = ConnStatus.InUse,
            Mark = 512,
        };
        string name = v6 ? "icmpv6   58" : "icmp     1";
        Assert.Equal(
            $"{(v6 ? "ipv6     10" : "ipv4     2")} {name} 30 src={c} dst={v} {original} packets=0 bytes=0 [UNREPLIED] src={b} dst={v} {reply} packets=0 bytes=0 mark=512 use=1",
            ConntrackFormatter.Line(e, 0, output: ConntrackOutput.Extended));
    }

    [Fact]
    public void Json_SctpUpdate_StateAndOldStateByTheirSctpNames()
    {
        var e = new ConnEntry
        {
            Original = new FlowTuple(Client, Vip, 40001, 38412, IpProtocols.Sctp),
            Reply = new FlowTuple(Bck0, Vip, 38412, 40001, IpProtocols.Sctp),
            Id = 3,
            SctpState = SctpState.Established,
            ExpiresNs = 210 * S,
            Status = ConnStatus.InUse | ConnStatus.SeenReply | ConnStatus.Assured,
        };
        string line = ConntrackEventJson.Line(ConnEventType.Update, e, 0, ConnEventCause.ByPacket(4), new ConnEventContext("ngap", "bck0", "COOKIE_ECHOED"));
        Assert.StartsWith("{\"event\":\"UPDATE\",\"time\":0,\"time_ns\":0,\"id\":3,\"proto\":\"sctp\",\"state\":\"ESTABLISHED\",\"old_state\":\"COOKIE_ECHOED\",\"timeout\":210,", line, StringComparison.Ordinal);
        Assert.True(ConntrackEventReader.TryParse(line, 1, out var record, out string? error), error);
        Assert.Equal(("ESTABLISHED", "COOKIE_ECHOED"), (record!.State, record.OldState));
    }

    [Theory]
    [InlineData("extended,id", ConntrackOutput.Extended | ConntrackOutput.Id, null)]
    [InlineData("timestamp", ConntrackOutput.Timestamp, null)]
    [InlineData("json", ConntrackOutput.Json, null)]
    [InlineData("xml", ConntrackOutput.None, "output \"xml\" is not extended, id, timestamp or json")]
    [InlineData("json,id", ConntrackOutput.None, "output json goes alone (its lines carry the id and time)")]
    [InlineData(",", ConntrackOutput.None, "output \",\" is empty")]
    public void TryParseOutput_List_FlagsOrWhy(string text, ConntrackOutput expected, string? why)
    {
        bool ok = ConntrackFormatter.TryParseOutput(text, out var output, out string? error);
        Assert.Equal(why is null, ok);
        Assert.Equal(why, error);
        if (ok) Assert.Equal(expected, output);
    }
}
