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
/// the engine takes the frames waiting at the other port too. The tests of polling and of the policy run on clocks
/// that move only when the test moves them (<see cref="TestClock"/>): they count sleeps and polling spells, never time.
/// </summary>
public sealed class PolledReceiverTests
{
    private const string Farms = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"weight","iface":"m0","oface":"m1",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    /// <summary>
    /// The engines' clock (also the policy's and the gate's windows) and the ports' receive stamps, in ns, moved only by
    /// <see cref="Advance"/>; the first thread's CPU clock reads 0 (idle) or the same time (busy: every ns is CPU).
    /// </summary>
    private sealed class TestClock(bool cpuBusy = false) : TimeProvider
    {
        private long _ns = 1_000_000_000;

        public override long TimestampFrequency => 1_000_000_000;
        public override long GetTimestamp() => Interlocked.Read(ref _ns);
        public long NowNs => GetTimestamp();
        public PollClocks Clocks => new(() => cpuBusy ? NowNs : 0, () => NowNs);
        public void Advance(long ns) => Interlocked.Add(ref _ns, ns);
    }

    /// <summary>A policy that never engages the threads per port: one thread's CPU time never fills twice the wall time.</summary>
    private static ReceiveThreadPolicy Never() => new(windowNs: 1_000_000, saturatedFraction: 2.0, windowsToEngage: 1);

    /// <summary>A policy that engages the threads per port at the first thread's second round and keeps them.</summary>
    private static ReceiveThreadPolicy Engaged() => new(windowNs: 1, saturatedFraction: 0, windowsToEngage: 1, engagedNs: long.MaxValue);

    /// <summary>
    /// Two polled ports (m0 client side, m1 backend side), the farm applied, the receiver started (policy: as given, else
    /// one thread only). With <see cref="Engaged"/> it returns once the backend port's thread receives; with a
    /// <paramref name="clock"/>, once the first thread has gone through its first round (at the clock's start).
    /// </summary>
    private static async Task<(PolledMemoryPort Client, PolledMemoryPort Backends, LiveForwarder Fwd, PolledReceiver Rx)> StartTwoPortsAsync(
        long busyPollNs, ReceiveThreadPolicy? policy = null, Action<PolledMemoryPort, PolledMemoryPort>? beforeStart = null, PollingGate? gate = null,
        TestClock? clock = null)
    {
        var client = new PolledMemoryPort("m0");
        var backends = new PolledMemoryPort("m1");
        if (clock is not null) client.StampClock = backends.StampClock = () => clock.NowNs;
        beforeStart?.Invoke(client, backends);
        // Unless a test gives one, a gate that never holds polling back: these tests are about the polling itself, and a
        // busy test machine (the polling thread waiting for a CPU) would otherwise hold it back (PollingGateTests).
        var options = new PollOptions
        {
            BusyPollNs = busyPollNs,
            Policy = policy ?? Never(),
            Gate = gate ?? new PollingGate(contendedFraction: double.PositiveInfinity),
            Clocks = clock?.Clocks,
        };
        var fwd = new LiveForwarder([client, backends], (sink, shard) => new PacketEngine(new EngineOptions { Seed = 7, PortNames = ["m0", "m1"] }, sink), 1,
            clock, polling: options);
        var snapshot = EngineSnapshot.Build(ConfigParser.Parse(Farms), new IdRegistry(), null, 1);
        await fwd.InvokeAsync((e, _) => { e.Apply(snapshot); return 0; });
        fwd.Start();
        var rx = (PolledReceiver)fwd.Receiver;
        if (policy is { WindowNs: 1, EngagedNs: long.MaxValue }) await WaitUntilAsync(() => rx.JoinedThreads == 1, "the backend port's thread joined");
        if (clock is not null) await WaitUntilAsync(() => rx.Sleeps > 0, "the first thread asleep");
        return (client, backends, fwd, rx);
    }

    /// <summary>
    /// Moves the clock by <paramref name="gapNs"/>, adds <paramref name="frame"/> at <paramref name="port"/> and waits
    /// until the first thread has taken it (<paramref name="rxTarget"/> frames in all) and settled, polling or asleep:
    /// the clock never moves while it is between the two, so every gap is polled or slept whole.
    /// </summary>
    private static async Task StepAsync(LiveForwarder fwd, PolledReceiver rx, TestClock clock, long gapNs, PolledMemoryPort port, byte[] frame, long rxTarget)
    {
        long spells = rx.PollingSpells; // a spell that runs now started before: a new one starts after this frame
        clock.Advance(gapNs);
        port.Add(frame);
        await WaitRxAsync(fwd, rxTarget);
        long sleeps = rx.Sleeps; // a sleep after the frame was taken
        await WaitUntilAsync(() => rx.PollingSpells > spells || rx.Sleeps > sleeps, "the first thread polling or asleep");
    }

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

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not {what} after 10 s");
            await Task.Delay(1);
        }
    }

    [Theory]
    [InlineData(0L, false)]
    [InlineData(20_000_000L, false)]
    [InlineData(0L, true)]
    [InlineData(20_000_000L, true)]
    public async Task Process_PolledTwoPorts_ForwardsBothDirectionsAcrossThePorts(long busyPollNs, bool engaged)
    {
        var (client, backends, fwd, _) = await StartTwoPortsAsync(busyPollNs, engaged ? Engaged() : null);
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
        // cpusBusy: a gate for which every window (1 ms) is contended (any wait at all, fraction 0), as when the polling
        // thread keeps waiting for a CPU: polling is held back from the first window on, so the thread sleeps as without it.
        var clock = new TestClock();
        var gate = cpusBusy ? new PollingGate(windowNs: 1_000_000, contendedFraction: 0) : null;
        var (client, backends, fwd, rx) = await StartTwoPortsAsync(busyPollNs, gate: gate, clock: clock);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        const int Frames = 40;
        long sleepsWhenOpen = -1;
        for (int i = 0; i < Frames; i++)
        {
            var port = i % 2 == 0 ? backends : client; // alternate the ports, as requests and responses do
            await StepAsync(fwd, rx, clock, 2_000_000, port, ArpReply(Backends[i % 2], BackendMac(i % 2)), i + 1);
            if (sleepsWhenOpen < 0 && rx.WindowNs > 0) sleepsWhenOpen = rx.Sleeps;
        }
        if (busyPollNs > 0 && !cpusBusy)
        {
            // A sleep ended by a frame 2 ms after the last opens the window to twice that gap (normally the first); from
            // then on every gap is inside the window and polled through whole: no sleep, 2 ms of polling each.
            Assert.True(sleepsWhenOpen >= 0, "the busy-poll window never opened");
            Assert.Equal(4_000_000, rx.WindowNs);
            Assert.Equal(sleepsWhenOpen, rx.Sleeps);
            Assert.InRange(rx.PollingSpells, Frames / 2, Frames);
            Assert.Equal(2_000_000 * (rx.PollingSpells - 1), rx.PolledNs); // the last spell still runs
        }
        else
        {
            // The thread slept after every frame and never polled.
            Assert.True(rx.Sleeps >= Frames, $"slept {rx.Sleeps} times in {Frames} gaps");
            Assert.Equal(0, rx.PollingSpells);
            Assert.Equal(0, rx.PolledNs);
            if (cpusBusy) Assert.True(rx.HeldBackWindows > 0, "polling never held back");
            else Assert.Equal(0, rx.WindowNs);
        }
        fwd.Stop();
    }

    [Fact]
    public async Task LeadLoop_GapsLongerThanTheCeiling_WindowStaysClosedAndTheThreadSleeps()
    {
        var clock = new TestClock();
        var (client, backends, fwd, rx) = await StartTwoPortsAsync(1_000_000, clock: clock); // at most 1 ms of polling
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        const int Frames = 15;
        for (int i = 0; i < Frames; i++)
        {
            await StepAsync(fwd, rx, clock, 10_000_000, client, ArpReply(Client, ClientMac), i + 1);
            // Each 10 ms gap is longer than the ceiling: polling would not have caught the frame, the window stays closed.
            Assert.Equal(0, rx.WindowNs);
        }
        Assert.True(rx.Sleeps >= Frames, $"slept {rx.Sleeps} times in {Frames} gaps of 10 ms");
        Assert.Equal(0, rx.PollingSpells);
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
        var (client, backends, fwd, _) = await StartTwoPortsAsync(0, Engaged(), (_, b) => b.OnFlush = p =>
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
        PolledReceiver? receiver = null;
        long Sleeps() => receiver?.Sleeps ?? 0;
        var answered = new HashSet<ushort>();
        var flushes = new List<(string? Thread, long Sleeps)>();
        var (client, backends, fwd, rx) = await StartTwoPortsAsync(0, Engaged(), (_, b) =>
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
        receiver = rx;
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
        // A policy that cannot engage (one thread's CPU time never fills twice the wall time; here it is all of it): the
        // backend port's thread exists but never receives; the first thread sleeps on both ports and takes every frame.
        var clock = new TestClock(cpuBusy: true);
        var never = new ReceiveThreadPolicy(windowNs: 1_000_000, saturatedFraction: 2.0, windowsToEngage: 1);
        var (client, backends, fwd, rx) = await StartTwoPortsAsync(0, never, clock: clock);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        await LearnNeighboursAsync(client, backends, fwd);
        for (int i = 0; i < 20; i++) // each 2 ms step closes a window
            await StepAsync(fwd, rx, clock, 2_000_000, backends, ArpReply(Backends[i % 2], BackendMac(i % 2)), 4 + i);
        Assert.Equal(23, client.ReceivedBy.Count + backends.ReceivedBy.Count);
        Assert.All(client.ReceivedBy.Concat(backends.ReceivedBy), r => Assert.Equal("rx-m0", r.Thread));
        Assert.Equal(0, never.Engagements);
        Assert.False(never.Engaged);
        Assert.Equal(0, rx.JoinedThreads);
        Assert.Contains("rx-m0", backends.PolledBy); // it sleeps on m1's ring too
        Assert.DoesNotContain("rx-m1", backends.PolledBy); // m1's thread never sleeps on it
        fwd.Stop();
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(100_000_000L)]
    public async Task LeadLoop_Saturated_ThreadPerPortJoinsThenLeavesAtTheTry(long busyPollNs)
    {
        // Every window counts as saturated (fraction 0): engaged when the first 200 ms window closes, for 50 ms; the one
        // thread is tried again when the next window closes and engaged again at the one after. With busy polling the one
        // thread polls while alone only: engaged, it sleeps on its own port as the others do. (Its CPU time is all the
        // time: with a CPU clock that stood still, taking the polling off would leave less than nothing.)
        var clock = new TestClock(cpuBusy: true);
        var always = new ReceiveThreadPolicy(windowNs: 200_000_000, saturatedFraction: 0, windowsToEngage: 1, engagedNs: 50_000_000);
        var (client, backends, fwd, rx) = await StartTwoPortsAsync(busyPollNs, always, clock: clock);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        await LearnNeighboursAsync(client, backends, fwd);
        long sent = 3, elapsed = 0;
        // With busy polling, frames 2 ms apart at both ports: the one thread polls between them.
        for (int i = 0; busyPollNs > 0 && i < 20; i++, elapsed += 2_000_000)
        {
            var (port, frame) = i % 2 == 0 ? (client, ArpReply(Client, ClientMac)) : (backends, ArpReply(Backends[0], BackendMac(0)));
            await StepAsync(fwd, rx, clock, 2_000_000, port, frame, ++sent);
        }
        Assert.False(always.Engaged);
        Assert.Equal(0, rx.JoinedThreads);
        if (busyPollNs > 0) Assert.True(rx.PollingSpells > 0, "the one thread never polled while it received alone");

        // The first window closes; the round that sees it ends any polling (the gap is past the window) before it engages.
        clock.Advance(200_000_000 - elapsed);
        await WaitUntilAsync(() => always.Engaged, "engaged");
        await WaitUntilAsync(() => rx.JoinedThreads == 1, "m1's thread receiving");
        long spells = rx.PollingSpells, polled = rx.PolledNs;
        int m0SleptOnM1 = backends.PolledBy.Count(t => t == "rx-m0");
        // m0's thread now sleeps on its own port only: frames at m0, then frames at m1 that m1's thread wakes for.
        for (int i = 0; i < 10; i++, sent++) client.Add(ArpReply(Client, ClientMac));
        await WaitRxAsync(fwd, sent);
        int before = backends.ReceivedBy.Count;
        for (int i = 0; i < 20; i++)
        {
            clock.Advance(1_000_000);
            backends.Add(ArpReply(Backends[i % 2], BackendMac(i % 2)));
            await WaitRxAsync(fwd, ++sent);
        }
        var engaged = backends.ReceivedBy.Skip(before).Select(r => r.Thread).ToList();
        int byOwnThread = engaged.Count(t => t == "rx-m1");
        // m0's thread takes one only when its poll timeout falls between the frame's arrival and m1's wake-up.
        Assert.True(byOwnThread >= engaged.Count / 2, $"engaged: {byOwnThread} of {engaged.Count} of m1's frames taken by m1's own thread ({string.Join(",", engaged)})");
        Assert.Equal((spells, polled), (rx.PollingSpells, rx.PolledNs)); // engaged, the one thread does not poll
        Assert.Equal(m0SleptOnM1, backends.PolledBy.Count(t => t == "rx-m0")); // nor sleep on m1's ring
        Assert.Contains("rx-m1", backends.PolledBy);

        // The next window closes (200 ms after the engagement, longer than its 50 ms): the one thread is tried again.
        clock.Advance(200_000_000 - 20_000_000);
        await WaitUntilAsync(() => !always.Engaged, "back to one thread");
        await WaitUntilAsync(() => rx.JoinedThreads == 0, "m1's thread waiting to be engaged again");
        long engagements = always.Engagements;
        before = backends.ReceivedBy.Count;
        for (int i = 0; i < 10; i++)
        {
            clock.Advance(1_000_000);
            backends.Add(ArpReply(Backends[i % 2], BackendMac(i % 2)));
            await WaitRxAsync(fwd, ++sent);
        }
        Assert.Equal(engagements, always.Engagements); // the try lasts until the next window closes, 200 ms on
        var alone = backends.ReceivedBy.Skip(before).Select(r => r.Thread).ToList();
        Assert.True(alone.All(t => t == "rx-m0"), $"back to one thread: m1's frames taken by {string.Join(",", alone)}");
        clock.Advance(200_000_000);
        await WaitUntilAsync(() => always.Engagements > engagements, "engaged again");
        fwd.Stop();
    }

    [Fact]
    public async Task LeadLoop_BusyPolling_PollingIsNotCountedAsWork()
    {
        // Frames 2 ms apart with busy polling up to 100 ms, and every ns of the thread's time counted as CPU time: it
        // polls through the gaps, a CPU's worth of time, but forwards little; the policy (half a 20 ms window, twice) must
        // see the work, not the polling. Without the polling taken off, it engages within two windows.
        var clock = new TestClock(cpuBusy: true);
        var policy = new ReceiveThreadPolicy(windowNs: 20_000_000, saturatedFraction: 0.5, windowsToEngage: 2);
        var (client, backends, fwd, rx) = await StartTwoPortsAsync(100_000_000, policy, clock: clock);
        using var _ = fwd;
        using var clientPort = client;
        using var backendPort = backends;
        const int Frames = 100;
        long sleepsWhenOpen = -1;
        for (int i = 0; i < Frames; i++)
        {
            await StepAsync(fwd, rx, clock, 2_000_000, i % 2 == 0 ? backends : client, ArpReply(Backends[i % 2], BackendMac(i % 2)), i + 1);
            if (sleepsWhenOpen < 0 && rx.WindowNs > 0) sleepsWhenOpen = rx.Sleeps;
        }
        Assert.True(policy.Engagements == 0, $"polling counted as work: a thread per port engaged {policy.Engagements} times");
        Assert.True(sleepsWhenOpen >= 0, "the busy-poll window never opened");
        Assert.Equal(sleepsWhenOpen, rx.Sleeps); // polled through every gap once the window opened
        Assert.All(client.ReceivedBy.Concat(backends.ReceivedBy), r => Assert.Equal("rx-m0", r.Thread));
        fwd.Stop();
    }
}
