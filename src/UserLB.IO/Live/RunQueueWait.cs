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
