using System.Buffers.Binary;
using UserLB.CaptureGen;
using UserLB.Engine.Config;
using UserLB.IO.PcapFiles;
using UserLB.IO.Replay;
using UserLB.IO.Tests.PcapFiles;
using UserLB.Packets;
using static UserLB.Cli.Tests.ReplayFiles;

namespace UserLB.Cli.Tests;

/// <summary><c>userlb replay</c> into pcapng: interfaces, directions, each frame's story, offloads as sent.</summary>
public sealed class ReplayPcapNgTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-replay-ng-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Lazy<Dictionary<string, CaptureScenario>> Generated =
        new(() => CaptureGen.Scenarios.All().ToDictionary(s => s.Name, StringComparer.Ordinal));

    public static TheoryData<string> Captures()
    {
        var data = new TheoryData<string>();
        foreach (var name in CaptureGen.Scenarios.All().Select(s => s.Name).Order(StringComparer.Ordinal)) data.Add(name);
        return data;
    }

    private (ReplayResult Result, string Path) Replay(string capture, string? format = null)
    {
        var scenario = Generated.Value[capture];
        string folder = Capture(capture);
        string output = Path.Combine(_dir, capture + "." + (format ?? "pcapng"));
        var result = ReplayRunner.Run(ConfigParser.Parse(File.ReadAllText(Path.Combine(folder, "farms.json"))),
            Path.Combine(folder, scenario.InputFileName), output, new ReplayOptions { Seed = 1 });
        Assert.Null(result.ReadError);
        return (result, output);
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void Run_CaptureToPcapNg_InputFramesKeptAndSentFramesAsThePcapOutputHasThem(string capture)
    {
        var scenario = Generated.Value[capture];
        var (result, path) = Replay(capture);
        Assert.Equal(ReplayFormat.PcapNg, result.Format);
        var frames = ReadNg(path);
        var input = frames.Where(f => f.Interface == "input").ToList();
        var sent = frames.Where(f => f.Interface != "input").ToList();

        // Every input frame, in order, inbound, unchanged (dropped and consumed ones too), with its story.
        var inFile = ReadNg(Path.Combine(Capture(capture), scenario.InputFileName));
        Assert.Equal(inFile.Count, input.Count);
        for (int i = 0; i < input.Count; i++)
        {
            Assert.Equal(inFile[i].Data, input[i].Data);
            Assert.Equal(inFile[i].TimestampNs, input[i].TimestampNs);
            Assert.Equal(PacketDirection.Inbound, input[i].Direction);
            Assert.StartsWith($"#{i + 1}: ", input[i].Comment, StringComparison.Ordinal);
            Assert.InRange(input[i].CommentLines.Count(l => !l.StartsWith("vnet: ", StringComparison.Ordinal)), 1, 2);
        }

        // The frames sent: those of the expected capture as sent (with offloads: as expected-sent.pcapng has them).
        var expected = scenario.HasOffloads
            ? ReadNg(Path.Combine(Capture(capture), CaptureWriter.AsSentFileName)).Select(f => (f.TimestampNs, f.Data, Vnet(f))).ToList()
            : ReplayAsPcap(capture).Select(f => (f.TimestampNs, f.Data, "")).ToList();
        Assert.Equal(expected.Count, sent.Count);
        Assert.Equal(expected.Count, result.FramesOut);
        for (int i = 0; i < sent.Count; i++)
        {
            Assert.Equal("port0", sent[i].Interface);
            Assert.Equal(PacketDirection.Outbound, sent[i].Direction);
            Assert.Equal(expected[i].TimestampNs, sent[i].TimestampNs);
            Assert.Equal(expected[i].Item3, Vnet(sent[i]));
            Assert.True(SameFrame(expected[i].Data, sent[i].Data), $"{capture}: sent frame {i} differs from the expected one");
            Assert.Matches(@"^for #\d+( \(queued until #\d+\))?: ", sent[i].Comment);
        }
    }

    private List<TimedFrame> ReplayAsPcap(string capture) => ReadPcap(Replay(capture, "pcap").Path);

    private static string Vnet(NgFrame f) => f.CommentLines.FirstOrDefault(l => l.StartsWith("vnet: ", StringComparison.Ordinal)) ?? "";

    /// <summary>Equal bytes, but for a partial checksum's pseudo-header sum, where 0x0000 and 0xFFFF are the same number.</summary>
    private static bool SameFrame(byte[] expected, byte[] actual)
    {
        if (expected.AsSpan().SequenceEqual(actual)) return true;
        if (expected.Length != actual.Length || expected.Length < 14 + 20 + 18) return false;
        int field = 14 + ((expected[14] & 0xF) * 4) + 16;
        ushort e = BinaryPrimitives.ReadUInt16BigEndian(expected.AsSpan(field)), a = BinaryPrimitives.ReadUInt16BigEndian(actual.AsSpan(field));
        return e is 0 or 0xFFFF && a is 0 or 0xFFFF
            && expected.AsSpan(0, field).SequenceEqual(actual.AsSpan(0, field)) && expected.AsSpan(field + 2).SequenceEqual(actual.AsSpan(field + 2));
    }

    [SkippableFact]
    public void Run_RefSnatToPcapNg_TsharkShowsInterfacesDirectionsAndStories()
    {
        Skip.IfNot(Tshark.Available, Tshark.Missing);
        var (_, path) = Replay("ref-snat");
        var frames = Tshark.Fields(path, "frame.interface_name", "frame.packet_flags_direction", "frame.comment", "ip.dst", "tcp.flags.syn", "tcp.flags.ack");
        Assert.Equal(["input", "port0"], frames.Select(f => f.One("frame.interface_name")).Distinct());
        Assert.All(frames, f => Assert.Equal(f.One("frame.interface_name") == "input" ? 1 : 2, f.Number("frame.packet_flags_direction")));
        Assert.All(frames, f => Assert.NotEmpty(f.All("frame.comment")));

        // The first SYN through the LB: its story names the farm, the backend rr picked and both translations; the
        // frame sent for it says the same, and conntrack's NEW is on the input frame.
        var syn = frames.First(f => f.One("frame.interface_name") == "input" && f.One("tcp.flags.syn") == "1" && f.One("tcp.flags.ack") == "0");
        var comment = syn.All("frame.comment");
        Assert.Equal(2, comment.Length);
        Assert.Matches(@"^#5: farm app, new connection 1 to backend bck0 \(rr: .*\): DNAT to 192\.168\.1\.10:443, SNAT to 192\.168\.101\.250:40001$", comment[0]);
        Assert.Equal("conntrack: NEW entry 1 SYN_SENT, timeout 120 s", comment[1]);
        var sentSyn = frames[frames.IndexOf(syn) + 1];
        Assert.Equal("port0", sentSyn.One("frame.interface_name"));
        Assert.Equal("192.168.1.10", sentSyn.One("ip.dst"));
        Assert.Contains("DNAT to 192.168.1.10:443", sentSyn.One("frame.comment"), StringComparison.Ordinal);
        Assert.StartsWith("for #5: farm app", sentSyn.One("frame.comment"), StringComparison.Ordinal);

        // The backend's SYN|ACK (#7, after the second client's SYN): the reply direction's story and conntrack's state change.
        var synAck = frames.First(f => f.One("frame.interface_name") == "input" && f.One("tcp.flags.syn") == "1" && f.One("tcp.flags.ack") == "1");
        Assert.Equal(
            ["#7: farm app, connection 1, reply: source back to 192.168.101.250:443, destination back to 192.168.101.1:40001",
             "conntrack: UPDATE entry 1 SYN_SENT → SYN_RECV, first reply, timeout 60 s"],
            synAck.All("frame.comment"));
        // ARP replies are consumed: a story, nothing sent for them.
        Assert.StartsWith("#1: arp: learned 192.168.1.10 is-at 02:aa:00:00:00:10", frames[0].One("frame.comment"), StringComparison.Ordinal);
        Assert.Equal("input", frames[1].One("frame.interface_name"));
    }

    [SkippableFact]
    public void Run_DroppedFramesToPcapNg_CommentSaysDropAndWhy()
    {
        Skip.IfNot(Tshark.Available, Tshark.Missing);
        string input = Path.Combine(_dir, "invalid.pcapng"), output = Path.Combine(_dir, "invalid.out.pcapng");
        WriteHandshakeThenInvalid(input);
        var result = ReplayRunner.Run(ConfigParser.Parse(ReferenceFarm), input, output, new ReplayOptions());
        Assert.Equal(1, result.Counters.Drops[(int)DropReason.TcpInvalid]);
        var frames = Tshark.Fields(output, "frame.interface_name", "frame.comment");
        Assert.Equal(["#7: drop: tcp_invalid (conntrack: INVALID tcp flags in ESTABLISHED: not NATed)"], frames[^1].All("frame.comment"));
        Assert.Equal("input", frames[^1].One("frame.interface_name"));

        var (_, malformed) = Replay("malformed");
        var comments = Tshark.Fields(malformed, "frame.comment").Select(f => f.One("frame.comment")).ToList();
        Assert.Contains("#4: drop: ipv4_bad_checksum (192.168.101.1:41000 > 192.168.101.250:443 tcp [S], 60 bytes)", comments);
        Assert.Contains("#15: drop: no_farm (mangle PREROUTING: no farm of 192.168.101.250 takes tcp port 80)", comments);
    }

    [SkippableFact]
    public void Run_OffloadsCapture_PcapNgKeepsTheSuperFrameWholeAndPcapHasItsSegments()
    {
        Skip.IfNot(Tshark.Available, Tshark.Missing);
        var (_, ng) = Replay("offloads");
        var sent = Tshark.Fields(ng, "frame.interface_name", "frame.len", "frame.comment")
            .Where(f => f.One("frame.interface_name") == "port0").ToList();
        var super = Assert.Single(sent, f => f.One("frame.len") == "3054");
        Assert.Equal("vnet: needs_csum start=34 offset=16 gso=tcpv4 size=1448 hdr_len=54", super.All("frame.comment")[^1]);
        Assert.Single(sent, f => f.All("frame.comment").Contains("vnet: needs_csum start=34 offset=16"));

        var (_, pcap) = Replay("offloads", "pcap");
        var wire = Tshark.Fields(pcap, "frame.len", "tcp.len", "tcp.flags.push", "ip.id");
        Assert.All(wire, f => Assert.InRange(int.Parse(f.One("frame.len")!, System.Globalization.CultureInfo.InvariantCulture), 54, 1514));
        Assert.Equal(["1448", "1448", "104"], wire.Select(f => f.One("tcp.len")).Where(l => l is "1448" or "104"));
        Assert.Equal(expected: 8, wire.Count);
    }

    [Theory]
    [InlineData("", "port0")]
    [InlineData(""","iface":"eth0" """, "eth0")]
    [InlineData(""","iface":"eth0","oface":"eth1" """, "eth0+eth1")]
    public void Run_FarmsNameInterfaces_LbPortInterfaceNamedAfterThem(string ifaces, string expected)
    {
        string config = ReferenceFarm.Replace("\"scheduler\":\"rr\"", "\"scheduler\":\"rr\"" + ifaces.TrimEnd(), StringComparison.Ordinal);
        string input = Path.Combine(_dir, "in.pcapng"), output = Path.Combine(_dir, "out.pcapng");
        WriteHandshakeThenInvalid(input);
        ReplayRunner.Run(ConfigParser.Parse(config), input, output, new ReplayOptions());
        var frames = ReadNg(output);
        Assert.Equal(["input", expected], frames.Select(f => f.Interface).Distinct());
    }

    [Fact]
    public void Run_OutFormatOption_OverridesTheExtension()
    {
        string input = Path.Combine(_dir, "in.pcapng");
        WriteHandshakeThenInvalid(input);
        string ngNamedPcap = Path.Combine(_dir, "out.pcap"), pcapNamedNg = Path.Combine(_dir, "out.pcapng");
        var config = ConfigParser.Parse(ReferenceFarm);
        Assert.Equal(ReplayFormat.PcapNg, ReplayRunner.Run(config, input, ngNamedPcap, new ReplayOptions { Format = ReplayFormat.PcapNg }).Format);
        Assert.Equal(ReplayFormat.Pcap, ReplayRunner.Run(config, input, pcapNamedNg, new ReplayOptions { Format = ReplayFormat.Pcap }).Format);
        using (var r = PcapReader.Open(ngNamedPcap)) Assert.True(r.IsPcapNg);
        using (var r = PcapReader.Open(pcapNamedNg)) Assert.False(r.IsPcapNg);
    }
}
