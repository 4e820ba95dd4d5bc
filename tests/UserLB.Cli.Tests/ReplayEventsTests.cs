using System.Text;
using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.IO.Replay;
using UserLB.Packets;
using static UserLB.Cli.Tests.ReplayFiles;

namespace UserLB.Cli.Tests;

/// <summary><c>userlb replay --events</c>: conntrack's events as JSON lines, with their cause; and reading them back.</summary>
public sealed class ReplayEventsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-replay-events-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (ReplayResult Result, List<ConnEventRecord> Events, List<long> Times) ReplayEvents(string capture)
    {
        string folder = Capture(capture);
        using var events = new MemoryStream();
        string input = Path.Combine(folder, "in.pcap");
        var result = ReplayRunner.Run(ConfigParser.Parse(File.ReadAllText(Path.Combine(folder, "farms.json"))),
            input, Path.Combine(_dir, capture + ".pcap"), new ReplayOptions { Seed = 1, Events = events });
        var records = ConntrackEventReader.Read(new StringReader(Encoding.UTF8.GetString(events.ToArray())), capture + ".jsonl").ToList();
        Assert.Equal(result.EventsWritten, records.Count);
        return (result, records, ReadPcap(input).Select(f => f.TimestampNs).ToList());
    }

    [Fact]
    public void Run_TcpReopen_EveryEventWithItsPacketStateAndTuples()
    {
        var (_, events, times) = ReplayEvents("tcp-reopen");
        Assert.Equal(
            [
                ("NEW", 1L, "SYN_SENT", (string?)null, 5L), ("UPDATE", 1, "SYN_RECV", "SYN_SENT", 6), ("UPDATE", 1, "ESTABLISHED", "SYN_RECV", 7),
                ("UPDATE", 1, "FIN_WAIT", "ESTABLISHED", 12), ("UPDATE", 1, "CLOSE_WAIT", "FIN_WAIT", 13), ("UPDATE", 1, "LAST_ACK", "CLOSE_WAIT", 14),
                ("UPDATE", 1, "TIME_WAIT", "LAST_ACK", 15),
                ("DESTROY", 1, "TIME_WAIT", null, 16), ("NEW", 2, "SYN_SENT", null, 16),
                ("UPDATE", 2, "SYN_RECV", "SYN_SENT", 17), ("UPDATE", 2, "ESTABLISHED", "SYN_RECV", 18),
                // client2 → bck0 refused: the RST before any reply moves the entry to CLOSE and destroys it at once.
                ("NEW", 3, "SYN_SENT", null, 19), ("DESTROY", 3, "CLOSE", null, 20),
                ("NEW", 4, "SYN_SENT", null, 21), ("UPDATE", 4, "SYN_RECV", "SYN_SENT", 22), ("UPDATE", 4, "ESTABLISHED", "SYN_RECV", 23),
            ],
            events.Select(e => (e.Event, e.Id, e.State, e.OldState, e.CausePacket ?? 0)));
        Assert.All(events, e => Assert.Equal(times[(int)e.CausePacket!.Value - 1], e.TimeNs));
        Assert.All(events, e => Assert.Null(e.CauseTimer));
        Assert.All(events, e => Assert.Equal(("tcp", "app"), (e.Proto, e.Farm)));

        var first = events[0];
        Assert.Equal(new EventTuple("192.168.101.1", "192.168.101.250", 40100, 443, 0, 0), first.Original);
        Assert.Equal(new EventTuple("192.168.1.10", "192.168.101.250", 443, 40100, 0, 0), first.Reply);
        Assert.Equal((120L, false, false, "bck0"), (first.Timeout, first.SeenReply, first.Assured, first.Backend));
        Assert.NotEqual(0, first.Mark);
        var established = events[2];
        Assert.Equal((true, true, 432000L), (established.SeenReply, established.Assured, established.Timeout));
        // The DESTROY of the reopened entry carries its final counters: the whole first connection (6 + 5 packets).
        var destroyed = events[7];
        Assert.Equal((6L, 5L), (destroyed.Original.Packets, destroyed.Reply.Packets));
        Assert.Equal("bck1", events[8].Backend);
    }

    [Fact]
    public void Run_UdpExpiry_DestroyCausedByTheTimeoutNoticedAtTheNextPacket()
    {
        var (_, events, times) = ReplayEvents("udp-expiry");
        var destroy = Assert.Single(events, e => e.Event == "DESTROY");
        Assert.Equal(("timeout", 7L), (destroy.CauseTimer, destroy.CausePacket));
        Assert.Equal(times[6], destroy.TimeNs);
        Assert.Null(destroy.State); // UDP: no TCP state
        Assert.Equal(0, destroy.Timeout);
        Assert.Equal(["NEW", "DESTROY", "NEW"], events.Where(e => e.Event != "UPDATE").Select(e => e.Event));
    }

    [Fact]
    public void Line_IcmpEntry_TypeCodeAndIdInsteadOfPorts()
    {
        var e = new ConnEntry
        {
            Original = new FlowTuple(IpAddr.Parse("192.168.101.1"), IpAddr.Parse("192.168.101.250"), 77, 0, IpProtocols.Icmp),
            Reply = new FlowTuple(IpAddr.Parse("192.168.1.10"), IpAddr.Parse("192.168.101.250"), 77, 0, IpProtocols.Icmp),
            Id = 9,
            ExpiresNs = 31_000_000_000,
            Status = ConnStatus.InUse,
            IcmpType = IcmpTypes.EchoRequest,
        };
        string line = ConntrackEventJson.Line(ConnEventType.New, e, 1_000_000_000, ConnEventCause.ByPacket(3), new ConnEventContext("ping", "bck0", null));
        Assert.Equal(
            "{\"event\":\"NEW\",\"time\":1,\"time_ns\":1000000000,\"id\":9,\"proto\":\"icmp\",\"timeout\":30," +
            "\"original\":{\"src\":\"192.168.101.1\",\"dst\":\"192.168.101.250\",\"type\":8,\"code\":0,\"icmp_id\":77,\"packets\":0,\"bytes\":0}," +
            "\"reply\":{\"src\":\"192.168.1.10\",\"dst\":\"192.168.101.250\",\"type\":0,\"code\":0,\"icmp_id\":77,\"packets\":0,\"bytes\":0}," +
            "\"seen_reply\":false,\"assured\":false,\"mark\":0,\"farm\":\"ping\",\"backend\":\"bck0\",\"cause\":{\"packet\":3}}",
            line);
        Assert.True(ConntrackEventReader.TryParse(line, 1, out var record, out string? error), error);
        Assert.Equal(new EventTuple("192.168.101.1", "192.168.101.250", 77, 0, 0, 0), record!.Original);
    }

    [Fact]
    public void Line_SynProxiedEntry_SeqAndTimestampOffsetsReadBackAndShownOnItsLane()
    {
        var e = new ConnEntry
        {
            Original = new FlowTuple(IpAddr.Parse("192.168.101.1"), IpAddr.Parse("192.168.101.250"), 40000, 443, IpProtocols.Tcp),
            Reply = new FlowTuple(IpAddr.Parse("192.168.1.10"), IpAddr.Parse("192.168.101.250"), 443, 40000, IpProtocols.Tcp),
            Id = 4,
            ExpiresNs = 60_000_000_000,
            Status = ConnStatus.InUse | ConnStatus.SeqAdjust | ConnStatus.DstNat,
            TcpState = TcpState.SynRecv,
            SeqOffset = 3_000_000_000,
            TsOffset = 77,
        };
        string line = ConntrackEventJson.Line(ConnEventType.New, e, 1_000_000_000, ConnEventCause.ByPacket(2));
        Assert.Contains("\"mark\":0,\"seq_offset\":3000000000,\"ts_offset\":77,\"cause\"", line, StringComparison.Ordinal);
        Assert.True(ConntrackEventReader.TryParse(line, 1, out var record, out string? error), error);
        Assert.Equal(3_000_000_000, record!.SeqOffset);
        var model = UserLB.IO.Timeline.TimelineModel.Read(new StringReader(line), "events");
        Assert.EndsWith("; SYN proxy: backend seq + 3000000000", Assert.Single(model.Lanes).Translation, StringComparison.Ordinal);
        // An entry the SYN proxy did not open carries neither field.
        e.Status &= ~ConnStatus.SeqAdjust;
        Assert.DoesNotContain("seq_offset", ConntrackEventJson.Line(ConnEventType.New, e, 1_000_000_000, ConnEventCause.ByPacket(2)), StringComparison.Ordinal);
    }

    private const string Good = """{"event":"NEW","time":1,"time_ns":1000000000,"id":1,"proto":"udp","timeout":30,"original":{"src":"a","dst":"b","sport":1,"dport":2,"packets":0,"bytes":0},"reply":{"src":"b","dst":"a","sport":2,"dport":1,"packets":0,"bytes":0},"seen_reply":false,"assured":false,"mark":0,"cause":{"packet":1}}""";

    [Theory]
    [InlineData("{\"event\":", "not JSON")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("{}", "no \"event\"")]
    [InlineData("NEW udp 30 src=1.2.3.4", "not JSON")]
    [InlineData("""{"event":"CREATE"}""", "\"event\" is \"CREATE\", not NEW, UPDATE or DESTROY")]
    [InlineData("""{"event":"NEW","time_ns":"soon"}""", "\"time_ns\" is string, not number")]
    [InlineData("""{"event":"NEW","time_ns":1.5}""", "\"time_ns\" is not a whole number")]
    [InlineData("""{"event":"NEW","time_ns":1,"id":1,"proto":"udp","timeout":30,"cause":{}}""", "no \"original\"")]
    public void Read_BadLine_StopsWithAnErrorNamingFileAndLine(string bad, string why)
    {
        string file = Good + "\n\n" + Good + "\n" + bad + "\n" + Good + "\n";
        var read = new List<ConnEventRecord>();
        var ex = Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var r in ConntrackEventReader.Read(new StringReader(file), "events.jsonl")) read.Add(r);
        });
        Assert.StartsWith("events.jsonl line 4: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.Equal([1L, 3L], read.Select(r => r.LineNumber));
    }
}
