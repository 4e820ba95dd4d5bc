using System.Runtime.InteropServices;

namespace UserLB.IO.Live;

/// <summary>The calling thread's CPU time in nanoseconds (for <see cref="ReceiveThreadPolicy"/>, through <see cref="Receivers.PollClocks"/>).</summary>
public static partial class ThreadClock
{
    private const int CLOCK_THREAD_CPUTIME_ID = 3;

    /// <summary>CPU time the calling thread has used (one clock_gettime call); 0 when the system cannot tell.</summary>
    public static long CpuNs() => clock_gettime(CLOCK_THREAD_CPUTIME_ID, out var ts) == 0 ? ts.Sec * 1_000_000_000 + ts.Nsec : 0;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport("libc")]
    private static partial int clock_gettime(int clockId, out Timespec ts);
}
