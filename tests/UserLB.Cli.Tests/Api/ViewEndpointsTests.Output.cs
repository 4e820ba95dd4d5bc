using Microsoft.Extensions.Time.Testing;
using UserLB.Cli.Commands;
using UserLB.Engine.Conntrack;

namespace UserLB.Cli.Tests.Api;

/// <summary>
/// conntrack's <c>-o</c> formats against a running instance (its clock a fake one, so lines are exact): <c>-L -o
/// extended,id</c>, <c>-D</c> printing each deleted entry before the count, <c>-E -o timestamp,id</c> and the live event
/// stream as JSON (<c>-E -o json</c>), read back with <see cref="ConntrackEventReader"/>.
/// </summary>
public sealed partial class ViewEndpointsTests
{
    private static StartedClock FakeTime() => StartedClock.Create();

    private const string UdpEntry = "udp      17 30 src=192.168.101.2 dst=192.168.101.250 sport=5353 dport=53 packets=1 bytes=32 [UNREPLIED] src=192.168.1.11 dst=192.168.101.2 sport=53 dport=5353 packets=0 bytes=0 mark=513 use=1";

    [Fact]
    public async Task ConntrackCommand_ListExtendedId_AsConntrackPrints()
    {
        await using var api = await StartAsync(FakeTime());
        await FeedAsync(api, Udp(Client, "192.168.101.2", "192.168.101.250", 5353, 53));
        var output = new StringWriter();
        Assert.Equal(0, await ConntrackCommand.RunAsync(Cli(api, "-L", "-p", "udp", "-o", "extended,id"), output, new StringWriter(), CancellationToken.None));
        Assert.Equal("ipv4     2 " + UdpEntry + " id=1\n", output.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task ConntrackCommand_Delete_PrintsEachEntryThenTheCount()
    {
        await using var api = await StartAsync(FakeTime());
        await FeedAsync(api, Udp(Client, "192.168.101.2", "192.168.101.250", 5353, 53));
        await FeedAsync(api, ClientSyn(40001));
        var output = new StringWriter();
        var errors = new StringWriter();
        Assert.Equal(0, await ConntrackCommand.RunAsync(Cli(api, "-D", "-p", "udp"), output, errors, CancellationToken.None));
        Assert.Equal(UdpEntry + "\n", output.ToString().ReplaceLineEndings("\n"));
        Assert.Equal("userlb conntrack: 1 flow entries have been deleted.", errors.ToString().Trim());
        Assert.Equal(1, await api.Forwarder.InvokeAsync((e, _) => e.Table.Count));
    }

    [Fact]
    public async Task ConntrackCommand_EventsTimestampId_StampedWithTheEventsWallTime()
    {
        var time = FakeTime();
        await using var api = await StartAsync(time);
        var output = new LineWriter();
        using var cts = new CancellationTokenSource();
        var run = ConntrackCommand.RunAsync(Cli(api, "-E", "-o", "timestamp,id", "-p", "udp"), output, new StringWriter(), cts.Token);
        await WaitUntilAsync(async () => await api.Forwarder.InvokeAsync((e, _) => e.Table.Events is not null), "the hub to be attached");
        time.Advance(TimeSpan.FromMilliseconds(1.5));
        await FeedAsync(api, Udp(Client, "192.168.101.2", "192.168.101.250", 5353, 53));
        await WaitUntilAsync(() => Task.FromResult(output.Lines.Count >= 1), "an event line");
        cts.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("[1700000000.001500]\t    [NEW] udp      17 30 src=192.168.101.2 dst=192.168.101.250 sport=5353 dport=53 [UNREPLIED] src=192.168.1.11 dst=192.168.101.2 sport=53 dport=5353 mark=513 id=1",
            output.Lines[0]);
    }

    [Fact]
    public async Task ConntrackCommand_EventsJson_TheReplayEventsFormat()
    {
        var time = FakeTime();
        await using var api = await StartAsync(time);
        var output = new LineWriter();
        using var cts = new CancellationTokenSource();
        var run = ConntrackCommand.RunAsync(Cli(api, "-E", "-o", "json", "--farm", "web"), output, new StringWriter(), cts.Token);
        await WaitUntilAsync(async () => await api.Forwarder.InvokeAsync((e, _) => e.Table.Events is not null), "the hub to be attached");
        await FeedAsync(api, ClientSyn(40000));
        time.Advance(TimeSpan.FromSeconds(2));
        await FeedAsync(api, Tcp(Bck0, "192.168.1.10", "192.168.101.250", 80, 40000, true, true));
        await WaitUntilAsync(() => Task.FromResult(output.Lines.Count >= 2), "two event lines");
        cts.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(
            "{\"event\":\"NEW\",\"time\":1700000000,\"time_ns\":1700000000000000000,\"id\":1,\"proto\":\"tcp\",\"state\":\"SYN_SENT\",\"timeout\":120," +
            "\"original\":{\"src\":\"192.168.101.1\",\"dst\":\"192.168.101.250\",\"sport\":40000,\"dport\":80,\"packets\":0,\"bytes\":0}," +
            "\"reply\":{\"src\":\"192.168.1.10\",\"dst\":\"192.168.101.250\",\"sport\":80,\"dport\":40000,\"packets\":0,\"bytes\":0}," +
            "\"seen_reply\":false,\"assured\":false,\"mark\":512,\"farm\":\"web\",\"backend\":\"bck0\",\"cause\":{}}",
            output.Lines[0]);
        var events = ConntrackEventReader.Read(new StringReader(string.Join('\n', output.Lines)), "stream").ToList();
        Assert.Equal(["NEW", "UPDATE"], events.Select(e => e.Event));
        Assert.Equal("SYN_RECV", events[1].State);
        Assert.Equal(1_700_000_002_000_000_000, events[1].TimeNs);
        Assert.All(events, e => Assert.Equal(("web", "bck0"), (e.Farm, e.Backend)));
    }

    [Fact]
    public async Task ConntrackCommand_ListJson_OneObjectPerEntry()
    {
        await using var api = await StartAsync(FakeTime());
        await FeedAsync(api, Udp(Client, "192.168.101.2", "192.168.101.250", 5353, 53));
        var output = new StringWriter();
        Assert.Equal(0, await ConntrackCommand.RunAsync(Cli(api, "-L", "-o", "json"), output, new StringWriter(), CancellationToken.None));
        Assert.Equal(
            "{\"time\":1700000000,\"time_ns\":1700000000000000000,\"id\":1,\"proto\":\"udp\",\"timeout\":30," +
            "\"original\":{\"src\":\"192.168.101.2\",\"dst\":\"192.168.101.250\",\"sport\":5353,\"dport\":53,\"packets\":1,\"bytes\":32}," +
            "\"reply\":{\"src\":\"192.168.1.11\",\"dst\":\"192.168.101.2\",\"sport\":53,\"dport\":5353,\"packets\":0,\"bytes\":0}," +
            "\"seen_reply\":false,\"assured\":false,\"mark\":513,\"farm\":\"dns\",\"backend\":\"bck1\"}\n",
            output.ToString().ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData(new[] { "-C", "-o", "id" }, "conntrack: --output goes with -L, -E or -D")]
    [InlineData(new[] { "-L", "-o", "timestamp" }, "conntrack: --output timestamp goes with -E")]
    [InlineData(new[] { "-E", "-o", "xml" }, "conntrack: output \"xml\" is not extended, id, timestamp or json")]
    [InlineData(new[] { "-E", "-o", "json,id" }, "conntrack: output json goes alone (its lines carry the id and time)")]
    public async Task ConntrackCommand_BadOutput_UsageError(string[] args, string message)
    {
        var ex = await Assert.ThrowsAsync<UsageException>(() => ConntrackCommand.RunAsync([.. args, "--api", "127.0.0.1:1"], new StringWriter(), new StringWriter(), CancellationToken.None));
        Assert.Equal(message, ex.Message);
    }
}
