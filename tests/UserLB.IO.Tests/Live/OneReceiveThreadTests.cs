using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.Live;

using static UserLB.IO.Tests.Live.LiveFrames;

namespace UserLB.IO.Tests.Live;

/// <summary>
/// Inline dispatch with one receive thread polling every port (<see cref="LiveReceive.OneThread"/>), over two in-memory
/// ports that poll like AF_PACKET rings: both directions are forwarded across the two ports by that one thread, and
/// busy polling keeps it awake between frames that come close together.
/// </summary>
public sealed class OneReceiveThreadTests
{
    private const string Farms = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"weight","iface":"m0","oface":"m1",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private static LiveForwarder Create(IPortIo[] ports, LiveDispatch dispatch = LiveDispatch.Inline, LiveReceive receive = LiveReceive.OneThread, long busyPollNs = 0) =>
        new(ports, (sink, shard) => new PacketEngine(new EngineOptions { Seed = 7, PortNames = ["m0", "m1"] }, sink), 1,
            dispatch: dispatch, receive: receive, busyPollNs: busyPollNs);

    /// <summary>Two polled ports (m0 client side, m1 backend side), the farm applied, the one receive thread started.</summary>
    private static async Task<(PolledMemoryPort Client, PolledMemoryPort Backends, LiveForwarder Fwd)> StartTwoPortsAsync(long busyPollNs)
    {
        var client = new PolledMemoryPort("m0");
        var backends = new PolledMemoryPort("m1");
        var fwd = Create([client, backends], busyPollNs: busyPollNs);
        var snapshot = EngineSnapshot.Build(ConfigParser.Parse(Farms), new IdRegistry(), null, 1);
        await fwd.InvokeAsync((e, _) => { e.Apply(snapshot); return 0; });
        fwd.Start();
        return (client, backends, fwd);
    }

    private static async Task<long> RxFramesAsync(LiveForwarder fwd) => await fwd.InvokeAsync((e, _) => e.Counters.RxFrames).WaitAsync(TimeSpan.FromSeconds(10));

    private static async Task WaitRxAsync(LiveForwarder fwd, long target)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        long rx;
        while ((rx = await RxFramesAsync(fwd)) < target)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the receive thread took {rx} of {target} frames");
            await Task.Delay(5);
        }
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(20_000_000L)]
    public async Task Process_OneThreadTwoPorts_ForwardsBothDirectionsAcrossThePorts(long busyPollNs)
    {
        var (client, backends, fwd) = await StartTwoPortsAsync(busyPollNs);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        backends.Add(ArpReply(Backends[0], BackendMac(0)));
        backends.Add(ArpReply(Backends[1], BackendMac(1)));
        client.Add(ArpReply(Client, ClientMac));
        await WaitRxAsync(fwd, 3);
        for (int i = 0; i < 24; i++) client.Add(Tcp(Client, Vip, (ushort)(40000 + i), 80, false, ClientMac));
        await WaitRxAsync(fwd, 27);
        var toBackends = TakeSentTcp(backends.Sent);
        Assert.Equal(24, toBackends.Count);
        Assert.Empty(TakeSentTcp(client.Sent));
        foreach (var (ip, tcp) in toBackends)
        {
            Assert.Equal(Vip, ip.SourceAddress.ToString()); // SNAT to the VIP, out of the backend side
            Assert.True(tcp.ValidTcpChecksum && ip.ValidIPChecksum);
            int b = Array.IndexOf(Backends, ip.DestinationAddress.ToString());
            Assert.InRange(b, 0, 1);
            backends.Add(Tcp(Backends[b], Vip, 80, tcp.SourcePort, true, BackendMac(b)));
        }
        await WaitRxAsync(fwd, 51);
        var toClient = TakeSentTcp(client.Sent);
        Assert.Equal(24, toClient.Count);
        foreach (var (ip, tcp) in toClient)
        {
            Assert.Equal((Vip, Client, (ushort)80), (ip.SourceAddress.ToString(), ip.DestinationAddress.ToString(), tcp.SourcePort));
            Assert.True(tcp.Synchronize && tcp.Acknowledgment && tcp.ValidTcpChecksum && ip.ValidIPChecksum);
        }
        Assert.Equal("rx-all", await fwd.InvokeAsync((e, _) => Thread.CurrentThread.Name).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(LiveReceive.OneThread, fwd.Receive);
        Assert.Equal(busyPollNs > 0 ? "inline dispatch, one receive thread, busy-poll 20000 us" : "inline dispatch, one receive thread", fwd.DispatchDescription());
        fwd.Stop();
        Assert.Equal(24, await fwd.InvokeAsync((e, _) => e.Table.Count)); // runs on the caller once stopped
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(100_000_000L)]
    public async Task PollLoop_FramesTwoMillisecondsApart_SleepsBetweenThemUnlessBusyPolling(long busyPollNs)
    {
        var (client, backends, fwd) = await StartTwoPortsAsync(busyPollNs);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        client.Add(ArpReply(Client, ClientMac));
        await WaitRxAsync(fwd, 1);
        const int Frames = 40;
        long before = fwd.ReceiveSleeps;
        for (int i = 0; i < Frames; i++)
        {
            var port = i % 2 == 0 ? backends : client; // alternate the ports, as requests and responses do
            port.Add(ArpReply(Backends[i % 2], BackendMac(i % 2)));
            Thread.Sleep(2);
        }
        long sleeps = fwd.ReceiveSleeps - before;
        await WaitRxAsync(fwd, 1 + Frames);
        if (busyPollNs > 0)
        {
            // The first gap is slept through and opens the window to twice it; the rest are polled through (a gap
            // stretched past the window by a busy machine is slept through once more, and widens the window).
            Assert.True(sleeps <= 8, $"busy polling up to 100 ms, the thread still slept {sleeps} times in 40 frames 2 ms apart");
            Assert.InRange(fwd.BusyPollWindowNs, 2_000_000, 100_000_000);
        }
        else
        {
            Assert.True(sleeps >= 15, $"without busy polling the thread slept only {sleeps} times in 40 frames 2 ms apart");
        }
        fwd.Stop();
    }

    [Fact]
    public async Task PollLoop_GapsLongerThanTheCeiling_WindowStaysClosedAndTheThreadSleeps()
    {
        var (client, backends, fwd) = await StartTwoPortsAsync(1_000_000); // at most 1 ms of polling
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        const int Frames = 15;
        long before = fwd.ReceiveSleeps;
        for (int i = 0; i < Frames; i++)
        {
            client.Add(ArpReply(Client, ClientMac));
            Thread.Sleep(10);
        }
        await WaitRxAsync(fwd, Frames);
        // Each 10 ms gap is longer than the ceiling, and the 5 ms poll timeouts between: the window halved to closed.
        Assert.Equal(0, fwd.BusyPollWindowNs);
        Assert.True(fwd.ReceiveSleeps - before >= Frames, $"slept {fwd.ReceiveSleeps - before} times in {Frames} gaps of 10 ms");
        fwd.Stop();
    }

    [Fact]
    public void Constructor_OneThreadWithoutInlinePollablePortsOrBusyPollPerPort_Throws()
    {
        using var a = new PolledMemoryPort("m0");
        using var b = new PolledMemoryPort("m1");
        Assert.Throws<ArgumentException>(() => Create([a, b], LiveDispatch.Queue));
        Assert.Throws<ArgumentException>(() => Create([a, new MemoryPort("m1")]));
        Assert.Throws<ArgumentException>(() => Create([a, b], receive: LiveReceive.PerPort, busyPollNs: 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => Create([a, b], busyPollNs: -1));
        using var ok = Create([a, b], receive: LiveReceive.PerPort);
        Assert.Equal("inline dispatch", ok.DispatchDescription());
    }
}
