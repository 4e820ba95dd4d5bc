using System.Buffers.Text;
using Microsoft.Win32.SafeHandles;

namespace UserLB.IO.Live;

/// <summary>
/// How long the calling thread has waited on a run queue — runnable, but another task had the CPU — from
/// /proc/thread-self/schedstat (its second field, ns). Busy polling only pays while a CPU is spare: when the polling
/// thread itself waits for a CPU, the machine's CPUs are all taken and its polling takes one from the traffic's own
/// ends. Open it on the thread it is for (thread-self is resolved at open); one pread per reading, no allocation.
/// </summary>
public sealed class RunQueueWait : IDisposable
{
    private readonly SafeFileHandle? _file;
    private readonly byte[] _buffer = new byte[96];

    private RunQueueWait(SafeFileHandle? file) => _file = file;

    /// <summary>The calling thread's figures; <see cref="Available"/> false where the kernel does not keep them.</summary>
    public static RunQueueWait ForCurrentThread()
    {
        try
        {
            return new RunQueueWait(File.OpenHandle("/proc/thread-self/schedstat"));
        }
        catch (IOException)
        {
            return new RunQueueWait(null);
        }
        catch (UnauthorizedAccessException)
        {
            return new RunQueueWait(null);
        }
    }

    public bool Available => _file is not null;

    /// <summary>Nanoseconds spent waiting on a run queue so far; -1 when unknown.</summary>
    public long WaitNs()
    {
        if (_file is null) return -1;
        int n;
        try
        {
            n = RandomAccess.Read(_file, _buffer, 0);
        }
        catch (IOException)
        {
            return -1;
        }
        return Parse(_buffer.AsSpan(0, n));
    }

    /// <summary>The wait field of a schedstat line ("RUN_NS WAIT_NS TIMESLICES"); -1 when it is not one.</summary>
    public static long Parse(ReadOnlySpan<byte> line)
    {
        int space = line.IndexOf((byte)' ');
        if (space <= 0) return -1;
        var rest = line[(space + 1)..];
        return Utf8Parser.TryParse(rest, out long wait, out int used) && used > 0 && wait >= 0 ? wait : -1;
    }

    public void Dispose() => _file?.Dispose();
}

/// <summary>
/// Whether busy polling is allowed in the next window: not after a window in which the polling thread waited on a run
/// queue for <see cref="ContendedFraction"/> of it or more (the CPUs were all taken). Fed once per window.
/// </summary>
public sealed class PollingGate
{
    private long _windowStart = -1, _windowWait;
    private long _contendedWindows;

    public PollingGate(long windowNs = 20_000_000, double contendedFraction = 0.15)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowNs, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(contendedFraction);
        WindowNs = windowNs;
        ContendedFraction = contendedFraction;
    }

    public long WindowNs { get; }
    public double ContendedFraction { get; }

    /// <summary>Whether polling is allowed now (true until a window says otherwise).</summary>
    public bool Open { get; private set; } = true;

    /// <summary>Windows after which polling was held back (read from any thread).</summary>
    public long ContendedWindows => Interlocked.Read(ref _contendedWindows);

    public bool WindowDue(long wallNs) => _windowStart < 0 || wallNs - _windowStart >= WindowNs;

    /// <summary>The clocks now (wall, and the thread's run-queue wait; ns, any origin; a negative wait: unknown, always open).</summary>
    public void Observe(long wallNs, long waitNs)
    {
        if (waitNs < 0)
        {
            Open = true;
            return;
        }
        if (_windowStart < 0)
        {
            (_windowStart, _windowWait) = (wallNs, waitNs);
            return;
        }
        if (!WindowDue(wallNs)) return;
        bool contended = waitNs - _windowWait >= ContendedFraction * (wallNs - _windowStart);
        (_windowStart, _windowWait) = (wallNs, waitNs);
        Open = !contended;
        if (contended) Interlocked.Increment(ref _contendedWindows);
    }
}
