using System.Runtime.InteropServices;

namespace UserLB.IO.Live;

/// <summary>poll() over several ports' descriptors (<see cref="IPollablePort.PollFd"/>): one thread sleeping on all of them.</summary>
public static unsafe partial class PortPoll
{
    private const short POLLIN = 1;

    /// <summary>Whether every port can be polled (<see cref="IPollablePort"/>, open), so one thread can serve them all.</summary>
    public static bool All(IReadOnlyList<IPortIo> ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        for (int i = 0; i < ports.Count; i++)
            if (ports[i] is not IPollablePort { PollFd: >= 0 }) return false;
        return ports.Count > 0;
    }

    /// <summary>
    /// Sleeps until one of <paramref name="fds"/> is readable or <paramref name="timeoutMs"/> passes; poll()'s result:
    /// how many are readable, 0 on timeout, -1 on an error or EINTR (callers check their ports again either way).
    /// </summary>
    public static int Wait(ReadOnlySpan<int> fds, int timeoutMs)
    {
        var set = stackalloc PollFdStruct[fds.Length];
        for (int i = 0; i < fds.Length; i++) set[i] = new PollFdStruct { Fd = fds[i], Events = POLLIN };
        return poll(set, (ulong)fds.Length, timeoutMs);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFdStruct
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFdStruct* fds, ulong nfds, int timeout);
}
