using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using UserLB.Engine;
using UserLB.IO.Live;
using UserLB.Packets;

namespace UserLB.IO.Tests.Live;

/// <summary>
/// An in-memory interface that can be polled like an AF_PACKET ring: an eventfd in semaphore mode counts the frames in
/// <see cref="Incoming"/> (readable while any wait), <see cref="Pending"/> is exact, and <see cref="Receive"/> never blocks.
/// </summary>
internal sealed partial class PolledMemoryPort : IPortIo
{
    private const int EFD_SEMAPHORE = 1, EFD_NONBLOCK = 0x800;
    private readonly ConcurrentQueue<(byte[] Frame, long WallNs)> _incoming = new();
    private readonly int _fd;
    private volatile bool _closed;

    public PolledMemoryPort(string name)
    {
        Name = name;
        _fd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);
        if (_fd < 0) throw new InvalidOperationException("eventfd failed");
    }

    public string Name { get; }
    public MacAddress Mac => EngineOptions.DefaultMac;
    public ConcurrentQueue<byte[]> Sent { get; } = new();
    public int PollFd => _closed ? -1 : _fd;
    public bool Pending => !_closed && !_incoming.IsEmpty;
    public long PendingTimestampNs => _incoming.TryPeek(out var f) ? f.WallNs : 0;

    public void Add(byte[] frame)
    {
        _incoming.Enqueue((frame, AfPacketPort.WallClockNs())); // stamped on the clock the kernel stamps ring slots with
        ulong one = 1;
        write(_fd, ref one, 8);
    }

    /// <summary>Queues a frame without making the descriptor readable: only a thread that checks <see cref="Pending"/> finds it (or a poll timeout).</summary>
    public void AddQuietly(byte[] frame) => _incoming.Enqueue((frame, AfPacketPort.WallClockNs()));

    /// <summary>Names of the threads that received each frame, in order.</summary>
    public ConcurrentQueue<string?> ReceivedBy { get; } = new();

    /// <summary>Runs on every <see cref="Flush"/> (the hand-over of a batch: on a veth, where the receiving side's stack runs).</summary>
    public Action<PolledMemoryPort>? OnFlush { get; set; }

    public void Flush() => OnFlush?.Invoke(this);

    public int Receive(Span<byte> buffer)
    {
        if (_closed) return -1;
        if (!_incoming.TryDequeue(out var f)) return 0;
        read(_fd, out _, 8); // (nothing to read for a frame added quietly: the non-blocking read fails)
        ReceivedBy.Enqueue(Thread.CurrentThread.Name);
        f.Frame.CopyTo(buffer);
        return f.Frame.Length;
    }

    public void Send(ReadOnlySpan<byte> frame) => Sent.Enqueue(frame.ToArray());

    public void Dispose()
    {
        if (_closed) return;
        _closed = true;
        close(_fd);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, ref ulong value, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, out ulong value, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
