using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using UserLB.Engine;
using UserLB.IO.Live;
using UserLB.Packets;

namespace UserLB.IO.Tests.Live;

/// <summary>
/// An in-memory interface that can be polled like an AF_PACKET ring: an eventfd in semaphore mode counts the frames in
/// the incoming queue (readable while any wait), <see cref="Pending"/> is exact, and <see cref="Receive"/> never blocks.
/// </summary>
internal sealed partial class PolledMemoryPort : IPollablePort
{
    private const int EFD_SEMAPHORE = 1, EFD_NONBLOCK = 0x800;
    private readonly ConcurrentQueue<(byte[] Frame, long WallNs, bool Counted)> _incoming = new();
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
    public int PollFd
    {
        get
        {
            PolledBy.Enqueue(Thread.CurrentThread.Name);
            return _closed ? -1 : _fd;
        }
    }

    /// <summary>The thread of each read of <see cref="PollFd"/>, in order: a receive thread reads it to sleep on this port.</summary>
    public ConcurrentQueue<string?> PolledBy { get; } = new();
    public bool Pending => !_closed && !_incoming.IsEmpty;
    public long PendingTimestampNs => _incoming.TryPeek(out var f) ? f.WallNs : 0;
    public DelayHistogram? ReceiveDelay => null;

    /// <summary>The clock frames are stamped with as they are added (default: the one the kernel stamps ring slots with).</summary>
    public Func<long> StampClock { get; set; } = AfPacketPort.WallClockNs;

    public void Add(byte[] frame)
    {
        // Queued and counted in one step, taken and uncounted in one step: the descriptor is readable only while a
        // counted frame waits (else the loop would poll without sleeping, with nothing to take).
        lock (_incoming)
        {
            _incoming.Enqueue((frame, StampClock(), true));
            ulong one = 1;
            write(_fd, ref one, 8);
        }
    }

    /// <summary>Queues a frame without making the descriptor readable: only a thread that checks <see cref="Pending"/> finds it (or a poll timeout).</summary>
    public void AddQuietly(byte[] frame) => _incoming.Enqueue((frame, StampClock(), false));

    /// <summary>For each frame received, in order: the receiving thread's name and a reading of <see cref="Stamp"/> (0 without).</summary>
    public ConcurrentQueue<(string? Thread, long Stamp)> ReceivedBy { get; } = new();

    /// <summary>Read as each frame is received (e.g. the forwarder's count of sleeps), into <see cref="ReceivedBy"/>.</summary>
    public Func<long>? Stamp { get; set; }

    /// <summary>Runs on every <see cref="Flush"/> (the hand-over of a batch: on a veth, where the receiving side's stack runs).</summary>
    public Action<PolledMemoryPort>? OnFlush { get; set; }

    public void Flush() => OnFlush?.Invoke(this);

    public int Receive(Span<byte> buffer, out VnetHeader offload)
    {
        offload = default;
        if (_closed) return -1;
        (byte[] Frame, long WallNs, bool Counted) f;
        lock (_incoming)
        {
            if (!_incoming.TryDequeue(out f)) return 0;
            if (f.Counted) read(_fd, out _, 8);
        }
        ReceivedBy.Enqueue((Thread.CurrentThread.Name, Stamp?.Invoke() ?? 0));
        f.Frame.CopyTo(buffer);
        return f.Frame.Length;
    }

    public void Send(ReadOnlySpan<byte> frame, in VnetHeader offload) => Sent.Enqueue(frame.ToArray());

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
