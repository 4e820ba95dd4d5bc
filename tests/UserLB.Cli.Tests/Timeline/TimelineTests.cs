using System.Text;
using System.Text.RegularExpressions;
using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.IO.Replay;
using UserLB.IO.Timeline;
using static UserLB.Cli.Tests.ReplayFiles;

namespace UserLB.Cli.Tests.Timeline;

/// <summary>
/// <c>replay --timeline</c>, <c>--packet-events</c> and <c>userlb timeline</c>: a self-contained page with a lane per
/// connection of a known capture, its state bands in order, its frames as ticks, its end; and the events it is drawn from.
/// </summary>
public sealed partial class TimelineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-timeline-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [GeneratedRegex("<g class=\"lane\" data-id=\"(\\d+)\"(.*?)</g>\n", RegexOptions.Singleline)]
    private static partial Regex LaneRegex();

    [GeneratedRegex("class=\"band\" data-state=\"([A-Z_0-9]+)\"")]
    private static partial Regex BandRegex();

    [GeneratedRegex("class=\"tick (\\w+)\" data-t=\"[0-9.]+\" data-dir=\"(original|reply)\"")]
    private static partial Regex TickRegex();

    /// <summary>Replays a capture folder with a timeline and packet events; the page and the events file's text.</summary>
    internal static (string Page, string Events) Replay(string capture, string dir)
    {
        string folder = Capture(capture);
        using var events = new MemoryStream();
        using var page = new StringWriter();
        ReplayRunner.Run(ConfigParser.Parse(File.ReadAllText(Path.Combine(folder, "farms.json"))), Path.Combine(folder, "in.pcap"),
            Path.Combine(dir, capture + ".pcap"), new ReplayOptions { Seed = 1, Events = events, PacketEvents = true, Timeline = page });
        return (page.ToString(), Encoding.UTF8.GetString(events.ToArray()));
    }

    private static Dictionary<string, (List<string> Bands, List<(string Kind, string Dir)> Ticks, string Body)> Lanes(string page)
    {
        var lanes = new Dictionary<string, (List<string>, List<(string, string)>, string)>();
        foreach (Match m in LaneRegex().Matches(page))
        {
            string body = m.Groups[2].Value;
            lanes[m.Groups[1].Value] = (BandRegex().Matches(body).Select(b => b.Groups[1].Value).ToList(),
                TickRegex().Matches(body).Select(t => (t.Groups[1].Value, t.Groups[2].Value)).ToList(), body);
        }
        return lanes;
    }

    [Fact]
    public void ReplayTimeline_RefSnat_SelfContainedOneLanePerConnectionWithItsStates()
    {
        var (page, _) = Replay("ref-snat", _dir);
        // Self-contained: nothing is fetched — no URL at all, no src/href, no stylesheet link or import.
        Assert.DoesNotContain("://", page, StringComparison.Ordinal);
        Assert.DoesNotMatch("\\s(src|href)\\s*=", page);
        Assert.DoesNotContain("<link", page, StringComparison.Ordinal);
        Assert.DoesNotContain("@import", page, StringComparison.Ordinal);
        Assert.DoesNotContain("url(", page, StringComparison.Ordinal);
        Assert.Contains("<svg id=\"tl\"", page, StringComparison.Ordinal);
        Assert.Contains("<script>", page, StringComparison.Ordinal);

        var lanes = Lanes(page);
        Assert.Equal(["1", "2"], lanes.Keys);
        string[] states = ["SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT"];
        foreach (var (id, backend, client) in new[] { ("1", "bck0", "192.168.101.1:40001"), ("2", "bck1", "192.168.101.2:40002") })
        {
            var lane = lanes[id];
            Assert.Equal(states, lane.Bands);
            // Handshake, request, ACK, response, ACK, FIN both ways: 6 frames from the client, 5 from the backend, all forwarded.
            Assert.Equal(6, lane.Ticks.Count(t => t.Dir == "original"));
            Assert.Equal(5, lane.Ticks.Count(t => t.Dir == "reply"));
            Assert.All(lane.Ticks, t => Assert.Equal("fwd", t.Kind));
            Assert.Contains($"#{id} tcp {client} → 192.168.101.250:443", lane.Body, StringComparison.Ordinal);
            Assert.Contains($"backend {backend}", lane.Body, StringComparison.Ordinal);
            Assert.Contains("TIME_WAIT until +120.02", lane.Body, StringComparison.Ordinal);
        }
        Assert.Contains("→ DNAT to 192.168.1.10:443, SNAT to 192.168.101.250:40001 (backend bck0); forwarded", lanes["1"].Body, StringComparison.Ordinal);
    }

    [Fact]
    public void ReplayTimeline_TcpReopen_DestroyMarkedAndTheNewConnectionItsOwnLane()
    {
        var (page, events) = Replay("tcp-reopen", _dir);
        var records = ConntrackEventReader.Read(new StringReader(events), "events").ToList();
        var lanes = Lanes(page);
        Assert.Equal(records.Count(r => r.Event == "NEW"), lanes.Count);
        Assert.Equal(records.Where(r => r.Event == "NEW").Select(r => r.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), lanes.Keys);
        // Connection 1 ends in TIME_WAIT and is destroyed by the reopening SYN (a packet, not its timer).
        Assert.Equal(["SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT"], lanes["1"].Bands);
        Assert.Contains("<text class=\"end\"", lanes["1"].Body, StringComparison.Ordinal);
    }

    [Fact]
    public void PacketEvents_RefSnat_OneLinePerFrameOfAConnectionAndEventsReadAsBefore()
    {
        var (_, events) = Replay("ref-snat", _dir);
        var lines = events.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var packets = lines.Where(PacketLine.IsPacketLine).Select((l, i) => PacketLine.TryParse(l, i + 1, out var p, out _) ? p! : throw new InvalidDataException(l)).ToList();
        Assert.Equal(22, packets.Count); // 26 frames in, 4 of them ARP (no connection)
        Assert.Equal(14, ConntrackEventReader.Read(new StringReader(events), "events").Count()); // the conntrack events, PACKET lines skipped
        var first = packets[0];
        Assert.Equal((5L, 1L, false, "forwarded", "app", "bck0"), (first.Packet, first.Id, first.Reply, first.Verdict, first.Farm, first.Backend));
        Assert.Equal("192.168.101.1:40001 > 192.168.101.250:443 tcp [S], 60 bytes", first.Summary);
        Assert.Equal("DNAT to 192.168.1.10:443, SNAT to 192.168.101.250:40001", first.Nat);
        var reply = packets.First(p => p.Reply);
        Assert.Equal("source back to 192.168.101.250:443, destination back to 192.168.101.1:40001", reply.Nat);
    }

    [Fact]
    public void TickLabel_Frames_FlagsAndWhereTheLbSentThem()
    {
        var packet = new PacketRecord(0, 5, 1, false, "192.168.101.1:40001 > 192.168.101.250:443 tcp [S], 60 bytes", 60, "forwarded", null,
            "DNAT to 192.168.1.10:443, SNAT to 192.168.101.250:40001", "app", "bck0", 1);
        Assert.Equal("S → 192.168.1.10:443 bck0", TimelinePage.TickLabel(packet));
        Assert.Equal("S. → 192.168.101.1:40001", TimelinePage.TickLabel(packet with
        {
            Reply = true, Summary = "192.168.1.10:443 > 192.168.101.250:40001 tcp [S.], 60 bytes",
            Nat = "source back to 192.168.101.250:443, destination back to 192.168.101.1:40001",
        }));
        Assert.Equal("udp → 192.168.101.250:53", TimelinePage.TickLabel(packet with
        {
            Reply = true, Summary = "192.168.1.10:53 > 192.168.101.1:5353 udp, 42 bytes", Nat = "source back to 192.168.101.250:53",
        }));
        Assert.Equal("F. × tcp_invalid", TimelinePage.TickLabel(packet with { Summary = "… tcp [F.], 60 bytes", Verdict = "dropped", Drop = "tcp_invalid" }));
    }

    [Fact]
    public void TimelineCommand_EventsOfReplay_SamePageAsReplayTimeline()
    {
        var (page, events) = Replay("ref-snat", _dir);
        string eventsPath = Path.Combine(_dir, "ref.jsonl"), outPath = Path.Combine(_dir, "ref.html");
        File.WriteAllText(eventsPath, events);
        Assert.Equal(0, UserLB.Cli.Commands.TimelineCommand.Run(["--events", eventsPath, "--out", outPath, "--title", Path.Combine(Capture("ref-snat"), "in.pcap")]));
        Assert.Equal(page, File.ReadAllText(outPath));
    }

    [Fact]
    public void Model_LiveEventsWithoutFrames_BandsAndDeadlinesNoTicks()
    {
        var (_, events) = Replay("ref-snat", _dir);
        string withoutPackets = string.Join('\n', events.Split('\n').Where(l => !PacketLine.IsPacketLine(l)));
        var model = TimelineModel.Read(new StringReader(withoutPackets), "live.jsonl");
        Assert.False(model.HasPackets);
        Assert.Equal(2, model.Lanes.Count);
        Assert.All(model.Lanes, l => Assert.Empty(l.Packets));
        Assert.All(model.Lanes, l => Assert.False(l.End.Destroyed));
        Assert.Equal(120L, model.Lanes[0].Bands[^1].TimeoutSeconds);
        string page = TimelinePage.Render(model, "live.jsonl");
        Assert.Contains("These events carry no frames", page, StringComparison.Ordinal);
        Assert.DoesNotContain("class=\"tick", page, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"event\":\"NEW\"}", "live.jsonl line 2: no \"time_ns\"")]
    [InlineData("{\"event\":\"PACKET\",\"time_ns\":1,\"packet\":1,\"id\":1,\"dir\":\"sideways\"}", "live.jsonl line 2: \"dir\" is \"sideways\", not original or reply")]
    [InlineData("not json", "live.jsonl line 2: not JSON: ")]
    public void Model_BadLine_ErrorNamesTheLine(string bad, string message)
    {
        var (_, events) = Replay("ref-snat", _dir);
        string text = events.Split('\n')[0] + "\n" + bad + "\n";
        var ex = Assert.Throws<InvalidDataException>(() => TimelineModel.Read(new StringReader(text), "live.jsonl"));
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }
}
