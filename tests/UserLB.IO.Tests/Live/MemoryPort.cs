using System.Collections.Concurrent;
using UserLB.Engine;
using UserLB.IO.Live;
using UserLB.Packets;

namespace UserLB.IO.Tests.Live;

/// <summary>An in-memory interface: frames put in <see cref="Incoming"/> are received; sent frames land in <see cref="Sent"/>.</summary>
internal sealed class MemoryPort(string name) : IPortIo
{
    public BlockingCollection<byte[]> Incoming { get; } = [];
    public ConcurrentQueue<byte[]> Sent { get; } = new();
    public string Name => name;
    public MacAddress Mac => EngineOptions.DefaultMac;

    /// <summary>The offload state of each sent frame, in the order of <see cref="Sent"/>.</summary>
    public ConcurrentQueue<VnetHeader> SentOffloads { get; } = new();

    public int Receive(Span<byte> buffer, out VnetHeader offload)
    {
        offload = default;
        if (!Incoming.TryTake(out var f, 5)) return 0;
        f.CopyTo(buffer);
        return f.Length;
    }

    public void Send(ReadOnlySpan<byte> frame, in VnetHeader offload)
    {
        Sent.Enqueue(frame.ToArray());
        SentOffloads.Enqueue(offload);
    }

    public void Flush()
    {
    }

    public void Dispose() => Incoming.Dispose();
}
