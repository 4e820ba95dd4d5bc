using System.Diagnostics;
using System.Runtime.InteropServices;

namespace UserLB.IO.Live;

/// <summary>The calling thread's CPU time and a monotonic wall clock, in nanoseconds (for <see cref="ReceiveThreadPolicy"/>).</summary>
public static partial class ThreadClock
{
    private const int CLOCK_THREAD_CPUTIME_ID = 3;

    /// <summary>CPU time the calling thread has used (one clock_gettime call); 0 when the system cannot tell.</summary>
    public static long CpuNs() => CpuNs(CLOCK_THREAD_CPUTIME_ID);

    /// <summary>
    /// CPU time used by the thread whose clock <paramref name="clockId"/> is (<see cref="CurrentThreadClockId"/>; one
    /// clock_gettime call, from any thread); 0 when the system cannot tell.
    /// </summary>
    public static long CpuNs(int clockId) => clock_gettime(clockId, out var ts) == 0 ? ts.Sec * 1_000_000_000 + ts.Nsec : 0;

    /// <summary>The calling thread's CPU clock, which other threads can read (pthread_getcpuclockid); -1 when none.</summary>
    public static int CurrentThreadClockId() => pthread_getcpuclockid(pthread_self(), out int id) == 0 ? id : -1;

    /// <summary>A monotonic wall clock (the real one, whatever clock the engine is given).</summary>
    public static long WallNs() => (long)(Stopwatch.GetTimestamp() * (1_000_000_000.0 / Stopwatch.Frequency));

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport("libc")]
    private static partial int clock_gettime(int clockId, out Timespec ts);

    [LibraryImport("libc")]
    private static partial nuint pthread_self();

    [LibraryImport("libc")]
    private static partial int pthread_getcpuclockid(nuint thread, out int clockId);
}
