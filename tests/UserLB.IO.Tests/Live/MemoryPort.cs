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

    public int Receive(Span<byte> buffer)
    {
        if (!Incoming.TryTake(out var f, 5)) return 0;
        f.CopyTo(buffer);
        return f.Length;
    }

    public void Send(ReadOnlySpan<byte> frame) => Sent.Enqueue(frame.ToArray());
    public void Dispose() => Incoming.Dispose();
}
