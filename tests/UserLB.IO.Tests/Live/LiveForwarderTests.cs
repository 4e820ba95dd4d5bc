using System.Collections.Concurrent;
using UserLB.Engine;
using UserLB.IO.Live;
using UserLB.Packets;
using Xunit;

namespace UserLB.IO.Tests.Live;

public sealed class LiveForwarderTests
{
    [Fact]
    public async Task InvokeAsync_WorkerRunning_RunsOnWorkerThread()
    {
        using var fwd = new LiveForwarder([new MemoryPort("m0")], sink => new PacketEngine(new EngineOptions(), sink));
        fwd.Start();
        string? thread = await fwd.InvokeAsync((e, now) => Thread.CurrentThread.Name).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("worker-0", thread);
        fwd.Stop();
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
