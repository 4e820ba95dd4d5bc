using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.Live;
using UserLB.IO.Live.Receivers;

using static UserLB.IO.Tests.Live.LiveFrames;

namespace UserLB.IO.Tests.Live;

/// <summary>
/// <see cref="PolledReceiver"/> over two in-memory ports that poll like AF_PACKET rings. The first thread receiving
/// alone: both directions are forwarded across the two ports by that one thread, and busy polling keeps it awake between
/// frames that come close together. The threads per port engaged: the same forwarding; the hand-over of a batch (the
/// port's flush, where a veth runs the receiving side's stack) runs outside the engine's lock, and the thread that holds
/// the engine takes the frames waiting at the other port too.
/// </summary>
public sealed class OneReceiveThreadTests
{
    private const string Farms = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"weight","iface":"m0","oface":"m1",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    /// <summary>A policy that never engages the threads per port: one thread's CPU time never fills twice the wall time.</summary>
    private static ReceiveThreadPolicy Never() => new(windowNs: 1_000_000, saturatedFraction: 2.0, windowsToEngage: 1);

    /// <summary>A policy that engages the threads per port at the first thread's second round and keeps them.</summary>
    private static ReceiveThreadPolicy Engaged() => new(windowNs: 1, saturatedFraction: 0, windowsToEngage: 1, engagedNs: long.MaxValue);

    /// <summary>
    /// Two polled ports (m0 client side, m1 backend side), the farm applied, the receiver started (policy: as given,
    /// else one thread only). With <see cref="Engaged"/> it returns once the backend port's thread receives.
    /// </summary>
    private static async Task<(PolledMemoryPort Client, PolledMemoryPort Backends, LiveForwarder Fwd)> StartTwoPortsAsync(long busyPollNs,
        ReceiveThreadPolicy? policy = null, Action<PolledMemoryPort, PolledMemoryPort>? beforeStart = null, PollingGate? gate = null)
    {
        var client = new PolledMemoryPort("m0");
        var backends = new PolledMemoryPort("m1");
        beforeStart?.Invoke(client, backends);
        // Unless a test gives one, a gate that never holds polling back: these tests are about the polling itself, and a
        // busy test machine (the polling thread waiting for a CPU) would otherwise hold it back (PollingGateTests).
        var fwd = new LiveForwarder([client, backends], (sink, shard) => new PacketEngine(new EngineOptions { Seed = 7, PortNames = ["m0", "m1"] }, sink), 1,
            polling: new PollOptions { BusyPollNs = busyPollNs, Policy = policy ?? Never(), Gate = gate ?? new PollingGate(contendedFraction: double.PositiveInfinity) });
        var snapshot = EngineSnapshot.Build(ConfigParser.Parse(Farms), new IdRegistry(), null, 1);
        await fwd.InvokeAsync((e, _) => { e.Apply(snapshot); return 0; });
        fwd.Start();
        var rx = (PolledReceiver)fwd.Receiver;
        if (policy is { WindowNs: 1, EngagedNs: long.MaxValue }) await WaitUntilAsync(() => rx.JoinedThreads == 1, "the backend port's thread joined");
        return (client, backends, fwd);
    }

    private static PolledReceiver Rx(LiveForwarder fwd) => (PolledReceiver)fwd.Receiver;

    /// <summary>ARP replies from both backends and the client, so the engine can address frames to them.</summary>
    private static async Task LearnNeighboursAsync(PolledMemoryPort client, PolledMemoryPort backends, LiveForwarder fwd)
    {
        backends.Add(ArpReply(Backends[0], BackendMac(0)));
        backends.Add(ArpReply(Backends[1], BackendMac(1)));
        client.Add(ArpReply(Client, ClientMac));
        await WaitRxAsync(fwd, 3);
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
    [InlineData(0L, false)]
    [InlineData(20_000_000L, false)]
    [InlineData(0L, true)]
    [InlineData(20_000_000L, true)]
    public async Task Process_PolledTwoPorts_ForwardsBothDirectionsAcrossThePorts(long busyPollNs, bool engaged)
    {
        var (client, backends, fwd) = await StartTwoPortsAsync(busyPollNs, engaged ? Engaged() : null);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        await LearnNeighboursAsync(client, backends, fwd);
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
        string? controlThread = await fwd.InvokeAsync((e, _) => Thread.CurrentThread.Name).WaitAsync(TimeSpan.FromSeconds(10));
        if (engaged) Assert.Contains(controlThread, new[] { "rx-m0", "rx-m1" }); // whichever port's thread holds the engine between batches
        else Assert.Equal("rx-m0", controlThread); // the first port's thread receives alone while it keeps up
        Assert.Equal("inline dispatch, one receive thread, a thread per interface while it is saturated" + (busyPollNs > 0 ? ", busy-poll 20000 us" : ""),
            fwd.Receiver.Description);
        fwd.Stop();
        Assert.Equal(24, await fwd.InvokeAsync((e, _) => e.Table.Count)); // runs on the caller once stopped
    }

    [Theory]
    [InlineData(0L, false)]
    [InlineData(100_000_000L, false)]
    [InlineData(100_000_000L, true)]
    public async Task LeadLoop_FramesTwoMillisecondsApart_SleepsBetweenThemUnlessBusyPolling(long busyPollNs, bool cpusBusy)
    {
        // cpusBusy: a gate for which every window is contended (any wait at all, fraction 0), as when the polling thread
        // keeps waiting for a CPU: polling is held back from the first window (1 ms) on, so the thread sleeps as without it.
        var gate = cpusBusy ? new PollingGate(windowNs: 1_000_000, contendedFraction: 0) : null;
        var (client, backends, fwd) = await StartTwoPortsAsync(busyPollNs, gate: gate);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        client.Add(ArpReply(Client, ClientMac));
        await WaitRxAsync(fwd, 1);
        const int Frames = 40;
        long before = Rx(fwd).Sleeps;
        for (int i = 0; i < Frames; i++)
        {
            var port = i % 2 == 0 ? backends : client; // alternate the ports, as requests and responses do
            port.Add(ArpReply(Backends[i % 2], BackendMac(i % 2)));
            Thread.Sleep(2);
        }
        long sleeps = Rx(fwd).Sleeps - before;
        await WaitRxAsync(fwd, 1 + Frames);
        if (busyPollNs > 0 && !cpusBusy)
        {
            // The first gap is slept through and opens the window to twice it; the rest are polled through (a gap
            // stretched past the window by a busy machine is slept through once more, and widens the window).
            Assert.True(sleeps <= 8, $"busy polling up to 100 ms, the thread still slept {sleeps} times in 40 frames 2 ms apart");
            Assert.InRange(Rx(fwd).WindowNs, 2_000_000, 100_000_000);
        }
        else
        {
            Assert.True(sleeps >= 15, $"without busy polling the thread slept only {sleeps} times in 40 frames 2 ms apart");
            if (cpusBusy) Assert.True(Rx(fwd).HeldBackWindows > 0 && Rx(fwd).PolledNs < 5_000_000,
                $"held back {Rx(fwd).HeldBackWindows} windows, polled {Rx(fwd).PolledNs / 1000} µs");
        }
        fwd.Stop();
    }

    [Fact]
    public async Task LeadLoop_GapsLongerThanTheCeiling_WindowStaysClosedAndTheThreadSleeps()
    {
        var (client, backends, fwd) = await StartTwoPortsAsync(1_000_000); // at most 1 ms of polling
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        const int Frames = 15;
        long before = Rx(fwd).Sleeps;
        for (int i = 0; i < Frames; i++)
        {
            client.Add(ArpReply(Client, ClientMac));
            Thread.Sleep(10);
        }
        await WaitRxAsync(fwd, Frames);
        // Each 10 ms gap is longer than the ceiling, and the 5 ms poll timeouts between: the window halved to closed.
        Assert.Equal(0, Rx(fwd).WindowNs);
        Assert.True(Rx(fwd).Sleeps - before >= Frames, $"slept {Rx(fwd).Sleeps - before} times in {Frames} gaps of 10 ms");
        fwd.Stop();
    }

    [Fact]
    public async Task JoinLoop_FlushBlocked_OtherPortsThreadStillForwards()
    {
        // The backend side's flush (on a veth: the backends' stack running inside the send) is held up. The engine's
        // lock is not held meanwhile, so the backend port's thread forwards the replies to the client.
        // The first flush that has frames to hand over is held; the other thread's flushes (with the frames already
        // handed to the port, nothing of theirs) go through, as a flush with nothing pending does.
        using var gate = new ManualResetEventSlim(false);
        int held = 0;
        var (client, backends, fwd) = await StartTwoPortsAsync(0, Engaged(), (_, b) => b.OnFlush = p =>
        {
            if (!p.Sent.IsEmpty && Interlocked.Exchange(ref held, 1) == 0) gate.Wait(TimeSpan.FromSeconds(20));
        });
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        try
        {
            await LearnNeighboursAsync(client, backends, fwd);
            for (int i = 0; i < 8; i++) client.Add(Tcp(Client, Vip, (ushort)(41000 + i), 80, false, ClientMac));
            await WaitRxAsync(fwd, 11); // forwarded to m1 (counted before the flush: the frames may not be handed over yet)
            await WaitUntilAsync(() => Volatile.Read(ref held) == 1, "a flush held"); // the thread that forwarded them waits in m1's flush
            var toBackends = TakeSentTcp(backends.Sent);
            Assert.Equal(8, toBackends.Count);
            foreach (var (ip, tcp) in toBackends)
            {
                int b = Array.IndexOf(Backends, ip.DestinationAddress.ToString());
                backends.Add(Tcp(Backends[b], Vip, 80, tcp.SourcePort, true, BackendMac(b)));
            }
            await WaitRxAsync(fwd, 19); // with the flush under the engine's lock this times out
            Assert.Equal(1, Volatile.Read(ref held));
            Assert.False(gate.IsSet);
            Assert.Equal(8, TakeSentTcp(client.Sent).Count);
        }
        finally
        {
            gate.Set();
        }
        fwd.Stop();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task JoinLoop_ReplyCausedByFlush_TakenByTheFlushingThreadWithoutSleeping(bool onlyOtherThreadFlushes)
    {
        // As on a veth, where a backend answers inside the send that delivers the SYN: the flush of m1 puts the SYN-ACK
        // on m1's ring without waking m1's thread (a quiet add), so it is taken at once only if the thread that ran the
        // flush looks at every port again before it sleeps. Both threads flush every port: usually m0's thread, which
        // forwarded the SYN, runs the flush; with onlyOtherThreadFlushes the frames wait for m1's thread's round (its
        // poll timeout), the case where the flusher itself had taken no frame.
        LiveForwarder? forwarder = null;
        long Sleeps() => forwarder is null ? 0 : Rx(forwarder).Sleeps;
        var answered = new HashSet<ushort>();
        var flushes = new List<(string? Thread, long Sleeps)>();
        var (client, backends, fwd) = await StartTwoPortsAsync(0, Engaged(), (_, b) =>
        {
            b.Stamp = Sleeps;
            b.OnFlush = p =>
            {
                if (onlyOtherThreadFlushes && Thread.CurrentThread.Name != "rx-m1") return;
                lock (flushes)
                {
                    foreach (var (ip, tcp) in TakeSentTcp(p.Sent))
                    {
                        if (!answered.Add(tcp.SourcePort)) continue;
                        int bck = Array.IndexOf(Backends, ip.DestinationAddress.ToString());
                        flushes.Add((Thread.CurrentThread.Name, Sleeps()));
                        p.AddQuietly(Tcp(Backends[bck], Vip, 80, tcp.SourcePort, true, BackendMac(bck)));
                    }
                }
            };
        });
        forwarder = fwd;
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        await LearnNeighboursAsync(client, backends, fwd);
        const int Flows = 40;
        for (int i = 0; i < Flows; i++)
        {
            client.Add(Tcp(Client, Vip, (ushort)(42000 + i), 80, false, ClientMac));
            await WaitRxAsync(fwd, 3 + 2L * (i + 1)); // the SYN, then its SYN-ACK
        }
        Assert.Equal(Flows, TakeSentTcp(client.Sent).Count);
        var takes = backends.ReceivedBy.Skip(2).ToList(); // after the two ARP replies
        Assert.Equal(Flows, takes.Count);
        Assert.Equal(Flows, flushes.Count);
        int atOnce = 0;
        for (int i = 0; i < Flows; i++)
            if (takes[i].Thread == flushes[i].Thread && takes[i].Stamp == flushes[i].Sleeps) atOnce++;
        // A thread that slept after the flush left the SYN-ACK to a 5 ms poll timeout (any thread's): 0–5 of 40 pass
        // this way with onlyOtherThreadFlushes. The other thread's poll timeout falling between the flush and the take
        // (the two 5 ms timers often fire together) also counts as a sleep here: 35–40 of 40 with the look after the flush.
        Assert.True(atOnce >= Flows * 3 / 4, $"{atOnce} of {Flows} SYN-ACKs taken by the flushing thread before any sleep" +
            $" (taken: {string.Join(",", takes)}; flushed: {string.Join(",", flushes)})");
        if (onlyOtherThreadFlushes) Assert.All(flushes, f => Assert.Equal("rx-m1", f.Thread));
        fwd.Stop();
    }

    [Fact]
    public async Task LeadLoop_NeverSaturated_FirstThreadTakesEveryPortsFrames()
    {
        // A policy that cannot engage (one thread's CPU time never fills twice the wall time): the backend port's
        // thread exists but never receives; the first thread sleeps on both ports and takes every frame.
        var never = new ReceiveThreadPolicy(windowNs: 1_000_000, saturatedFraction: 2.0, windowsToEngage: 1);
        var (client, backends, fwd) = await StartTwoPortsAsync(0, never);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        await LearnNeighboursAsync(client, backends, fwd);
        for (int i = 0; i < 20; i++)
        {
            backends.Add(ArpReply(Backends[i % 2], BackendMac(i % 2)));
            Thread.Sleep(2);
        }
        await WaitRxAsync(fwd, 23);
        Assert.Equal(23, client.ReceivedBy.Count + backends.ReceivedBy.Count);
        Assert.All(client.ReceivedBy.Concat(backends.ReceivedBy), r => Assert.Equal("rx-m0", r.Thread));
        Assert.Equal(0, never.Engagements);
        Assert.False(never.Engaged);
        fwd.Stop();
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(100_000_000L)]
    public async Task LeadLoop_Saturated_ThreadPerPortJoinsThenLeavesAtTheTry(long busyPollNs)
    {
        // Every window counts as saturated (fraction 0): engaged when the first 200 ms window closes, for 50 ms; the
        // one thread is tried again when the next window closes (~400 ms) and engaged again at the one after (~600 ms).
        // With busy polling the one thread polls while alone only: engaged, it sleeps on its own port as the others do.
        var always = new ReceiveThreadPolicy(windowNs: 200_000_000, saturatedFraction: 0, windowsToEngage: 1, engagedNs: 50_000_000);
        var (client, backends, fwd) = await StartTwoPortsAsync(busyPollNs, always);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        await LearnNeighboursAsync(client, backends, fwd);
        long sent = 3;
        // With busy polling, frames 2 ms apart at both ports until engaged: the one thread's window is open (it is
        // polling) when the threads per port join, and it must stop polling then.
        for (int i = 0; busyPollNs > 0 && !always.Engaged; i++, sent++)
        {
            if (i % 2 == 0) client.Add(ArpReply(Client, ClientMac));
            else backends.Add(ArpReply(Backends[0], BackendMac(0)));
            Thread.Sleep(2);
        }
        await WaitUntilAsync(() => always.Engaged, "engaged");
        // m0's thread now sleeps on its own port only (its next poll after the change); frames at m0 meanwhile, which
        // would keep it polling every port if it still did.
        for (int i = 0; i < 10; i++, sent++)
        {
            client.Add(ArpReply(Client, ClientMac));
            Thread.Sleep(1);
        }
        int before = backends.ReceivedBy.Count;
        long polledBefore = Rx(fwd).PolledNs;
        for (int i = 0; i < 20; i++, sent++)
        {
            backends.Add(ArpReply(Backends[i % 2], BackendMac(i % 2)));
            Thread.Sleep(1);
        }
        await WaitRxAsync(fwd, sent);
        var engaged = backends.ReceivedBy.Skip(before).Select(r => r.Thread).ToList();
        int byOwnThread = engaged.Count(t => t == "rx-m1");
        // m0's thread takes one only when its 5 ms poll timeout falls between the frame's arrival and m1's wake-up.
        Assert.True(byOwnThread >= engaged.Count / 2, $"engaged: {byOwnThread} of {engaged.Count} of m1's frames taken by m1's own thread ({string.Join(",", engaged)})");
        long polled = Rx(fwd).PolledNs - polledBefore;
        Assert.True(polled < 1_000_000, $"engaged, the one thread still polled for {polled / 1000} µs while 20 frames came 1 ms apart");
        if (busyPollNs > 0) Assert.True(polledBefore > 0, "the one thread never polled while it received alone");

        // At the start of a try (the next change to one thread), so that it lasts the frames out.
        await WaitUntilAsync(() => always.Engaged, "engaged");
        await WaitUntilAsync(() => !always.Engaged, "back to one thread");
        long engagements = always.Engagements;
        Thread.Sleep(10); // m1's thread finishes its poll (≤ 5 ms) and waits to be engaged again
        before = backends.ReceivedBy.Count;
        for (int i = 0; i < 10; i++, sent++)
        {
            backends.Add(ArpReply(Backends[i % 2], BackendMac(i % 2)));
            Thread.Sleep(1);
        }
        await WaitRxAsync(fwd, sent);
        Assert.True(always.Engagements == engagements, "engaged again before the frames sent in the try were taken (the window is 200 ms)");
        var alone = backends.ReceivedBy.Skip(before).Select(r => r.Thread).ToList();
        Assert.True(alone.All(t => t == "rx-m0"), $"back to one thread: m1's frames taken by {string.Join(",", alone)}");
        await WaitUntilAsync(() => always.Engagements > engagements, "engaged again");
        fwd.Stop();
    }

    [Fact]
    public async Task LeadLoop_BusyPolling_PollingIsNotCountedAsWork()
    {
        // Frames 2 ms apart with busy polling up to 100 ms: the one thread polls through the gaps, a CPU's worth of
        // time, but forwards little; the policy (half a 20 ms window, twice) must see the work, not the polling.
        var policy = new ReceiveThreadPolicy(windowNs: 20_000_000, saturatedFraction: 0.5, windowsToEngage: 2);
        var (client, backends, fwd) = await StartTwoPortsAsync(100_000_000, policy);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        await LearnNeighboursAsync(client, backends, fwd);
        long before = Rx(fwd).Sleeps;
        const int Frames = 100;
        for (int i = 0; i < Frames; i++)
        {
            (i % 2 == 0 ? backends : client).Add(ArpReply(Backends[i % 2], BackendMac(i % 2)));
            Thread.Sleep(2);
        }
        await WaitRxAsync(fwd, 3 + Frames);
        long sleeps = Rx(fwd).Sleeps - before;
        Assert.True(policy.Engagements == 0, $"polling counted as work: a thread per port engaged {policy.Engagements} times");
        Assert.True(sleeps <= Frames / 4, $"busy polling up to 100 ms, the thread still slept {sleeps} times in {Frames} frames 2 ms apart");
        Assert.All(client.ReceivedBy.Concat(backends.ReceivedBy), r => Assert.Equal("rx-m0", r.Thread));
        fwd.Stop();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not {what} after 10 s");
            await Task.Delay(1);
        }
    }
}
