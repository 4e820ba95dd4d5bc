using System.Collections.Concurrent;
using UserLB.Engine;
using UserLB.IO.Live;
using UserLB.IO.Live.Receivers;
using UserLB.Packets;
using Xunit;

namespace UserLB.IO.Tests.Live;

public sealed class LiveForwarderTests
{
    private static LiveForwarder Create(IPortIo[] ports, int workers, PollOptions? polling = null) =>
        new(ports, (sink, shard) => new PacketEngine(new EngineOptions { ShardCount = workers, ShardIndex = shard }, sink), workers, polling: polling);

    /// <summary>One worker runs on the receive thread of its port (inline); several each on a worker thread of its own (queue).</summary>
    [Theory]
    [InlineData(1, "rx-m0")]
    [InlineData(2, "worker-0")]
    public async Task InvokeAsync_WorkerRunning_RunsOnTheThreadThatOwnsTheEngine(int workers, string expected)
    {
        using var fwd = Create([new MemoryPort("m0")], workers);
        fwd.Start();
        string? thread = await fwd.InvokeAsync((e, now) => Thread.CurrentThread.Name).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(expected, thread);
        fwd.Stop();
    }

    /// <summary>
    /// The receiver follows from the workers and the ports, as <c>userlb run</c> chose before it had no options for it:
    /// several workers queue; one over afpacket's rings (pollable) polls them; one over pcap or TAP a thread per port.
    /// </summary>
    [Theory]
    [InlineData(1, true, typeof(PolledReceiver), "inline", "inline dispatch, one receive thread, a thread per interface while it is saturated")]
    [InlineData(1, false, typeof(PerPortReceiver), "inline", "inline dispatch")]
    [InlineData(2, true, typeof(QueueReceiver), "queue", "queue dispatch")]
    [InlineData(3, false, typeof(QueueReceiver), "queue", "queue dispatch")]
    public void Constructor_WorkersAndPorts_PicksTheReceiver(int workers, bool pollable, Type receiver, string dispatch, string description)
    {
        IPortIo[] ports = pollable ? [new PolledMemoryPort("m0"), new PolledMemoryPort("m1")] : [new MemoryPort("m0"), new MemoryPort("m1")];
        using var fwd = Create(ports, workers);
        Assert.IsType(receiver, fwd.Receiver);
        Assert.Equal(dispatch, fwd.Receiver.Dispatch);
        Assert.Equal(description, fwd.Receiver.Description);
        Assert.Equal(workers > 1 ? 8192 * workers : 0, fwd.QueueCapacity);
    }

    [Fact]
    public void Constructor_PollingWithoutOneWorkerOverPollablePorts_Throws()
    {
        using var a = new PolledMemoryPort("m0");
        using var b = new PolledMemoryPort("m1");
        // Ports that cannot be polled together (one of them is not), or several workers (queues): nothing to poll.
        Assert.Throws<ArgumentException>(() => Create([a, new MemoryPort("m1")], 1, new PollOptions { BusyPollNs = 1000 }));
        Assert.Throws<ArgumentException>(() => Create([a, new MemoryPort("m1")], 1, new PollOptions()));
        Assert.Throws<ArgumentException>(() => Create([a, b], 2, new PollOptions { BusyPollNs = 1000 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Create([a, b], 1, new PollOptions { BusyPollNs = -1 }));
        using var polled = Create([a, b], 1, new PollOptions { BusyPollNs = 50_000 });
        Assert.Equal("inline dispatch, one receive thread, a thread per interface while it is saturated, busy-poll 50 us", polled.Receiver.Description);
        Assert.Equal(50_000, ((PolledReceiver)polled.Receiver).BusyPollNs);
    }

    [Fact]
    public async Task InvokeAsync_NotStartedOrStopped_RunsInline()
    {
        using var fwd = new LiveForwarder([new MemoryPort("m0")], sink => new PacketEngine(new EngineOptions(), sink));
        Assert.Same(fwd.Engine, await fwd.InvokeAsync((e, now) => e));
        fwd.Start();
        fwd.Stop();
        Assert.Equal(0, await fwd.InvokeAsync((e, now) => e.Table.Count).WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task InvokeAllAsync_NoPortsStarted_RunsInlineAndStopReturns(int workers)
    {
        // userlb run with no interface yet (farms to come through the API): no receive thread runs control actions.
        using var fwd = new LiveForwarder([], (sink, shard) => new PacketEngine(new EngineOptions { ShardCount = workers, ShardIndex = shard }, sink), workers);
        fwd.Start();
        var counts = await fwd.InvokeAllAsync((e, now) => e.Table.Count).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(new int[workers], counts);
        fwd.Stop();
        Assert.Equal(0, await fwd.InvokeAsync((e, now) => e.Table.Count).WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task InvokeAsync_ActionThrows_FaultsTaskAndWorkerGoesOn()
    {
        using var fwd = new LiveForwarder([new MemoryPort("m0")], sink => new PacketEngine(new EngineOptions(), sink));
        fwd.Start();
        await Assert.ThrowsAsync<InvalidOperationException>(() => fwd.InvokeAsync<int>((e, now) => throw new InvalidOperationException("x")).WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(7, await fwd.InvokeAsync((e, now) => 7).WaitAsync(TimeSpan.FromSeconds(5)));
        fwd.Stop();
    }

    [Fact]
    public void Process_ArpRequestForNothing_CountedNotAnswered()
    {
        var port = new MemoryPort("m0");
        using var fwd = new LiveForwarder([port], sink => new PacketEngine(new EngineOptions(), sink));
        fwd.Start();
        // ARP request for 10.9.9.9 (no farm): the engine counts the frame and answers nothing.
        byte[] arp = Convert.FromHexString("ffffffffffff02000000000108060001080006040001020000000001c0a80101000000000000" + "0a090909");
        port.Incoming.Add(arp);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (fwd.Engine.Counters.RxFrames == 0 && DateTime.UtcNow < deadline) Thread.Sleep(10);
        fwd.Stop();
        Assert.Equal(1, fwd.Engine.Counters.RxFrames);
        Assert.Empty(port.Sent);
    }
}
