using System.Runtime.InteropServices;
using UserLB.IO.Live;
using static UserLB.IO.Live.PacketSockets;

namespace UserLB.IO.Routes;

/// <summary>An rtnetlink socket (AF_NETLINK, NETLINK_ROUTE) through libc (<see cref="PacketSockets"/>' calls): the route
/// dump and the change notifications.</summary>
internal sealed unsafe partial class NetlinkSocket : IDisposable
{
    private const int AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, NETLINK_ROUTE = 0;
    private const int MSG_DONTWAIT = 0x40, EINTR = 4, EAGAIN = 11;

    /// <summary>Multicast groups (bit masks of nl_groups): links, IPv4 routes, IPv6 routes.</summary>
    internal const uint RTMGRP_LINK = 0x1, RTMGRP_IPV4_ROUTE = 0x40, RTMGRP_IPV6_ROUTE = 0x400;

    private int _fd;

    private NetlinkSocket(int fd) => _fd = fd;

    /// <summary>A socket that receives the messages of <paramref name="groups"/> (0: only replies); null with the reason when the kernel refuses.</summary>
    public static NetlinkSocket? Open(uint groups, out string? why)
    {
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
        {
            why = $"socket(AF_NETLINK): errno {Marshal.GetLastPInvokeError()}";
            return null;
        }
        var addr = new SockaddrNl { Family = AF_NETLINK, Groups = groups };
        if (bind(fd, &addr, sizeof(SockaddrNl)) < 0)
        {
            why = $"bind(AF_NETLINK, groups 0x{groups:x}): errno {Marshal.GetLastPInvokeError()}";
            close(fd);
            return null;
        }
        why = null;
        return new NetlinkSocket(fd);
    }

    /// <summary>Parses one datagram of a dump reply.</summary>
    internal delegate NetlinkStatus DatagramParser(ReadOnlySpan<byte> datagram, out int error);

    /// <summary>Runs a dump of <paramref name="type"/> (RTM_GETROUTE, RTM_GETNEIGH) through <paramref name="parse"/> to its
    /// end: true when it ended, false with the reason.</summary>
    public static bool Dump(ushort type, DatagramParser parse, out string? why)
    {
        using var socket = Open(0, out why);
        if (socket is null) return false;
        Span<byte> request = stackalloc byte[RouteMessages.NlmsgHeader + RouteMessages.RtmsgLength];
        if (!socket.Send(request[..RouteMessages.WriteDumpRequest(request, type, 1)]))
        {
            why = "the dump request could not be sent";
            return false;
        }
        var buffer = new byte[1 << 16];
        while (true)
        {
            int n = socket.Receive(buffer, 2000, out int errno);
            if (n <= 0)
            {
                why = n == 0 ? "no reply to the dump request" : $"recv: errno {errno}";
                return false;
            }
            switch (parse(buffer.AsSpan(0, n), out int error))
            {
                case NetlinkStatus.Done:
                    return true;
                case NetlinkStatus.Error:
                    why = $"dump: error {error}";
                    return false;
            }
        }
    }

    /// <summary>Sends one request to the kernel.</summary>
    public bool Send(ReadOnlySpan<byte> message)
    {
        fixed (byte* p = message)
            return send(_fd, p, message.Length, 0) == message.Length;
    }

    /// <summary>Receives one datagram (several messages) into <paramref name="buffer"/>: its length; 0 when nothing came
    /// within <paramref name="timeoutMs"/> (0: do not wait); -1 on an error (errno in <paramref name="errno"/>).</summary>
    public int Receive(Span<byte> buffer, int timeoutMs, out int errno)
    {
        errno = 0;
        int ready = PortPoll.Wait([_fd], timeoutMs);
        if (ready < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return errno == EINTR ? 0 : -1;
        }
        if (ready == 0) return 0;
        fixed (byte* p = buffer)
        {
            nint n = recv(_fd, p, buffer.Length, MSG_DONTWAIT);
            if (n >= 0) return (int)n;
            errno = Marshal.GetLastPInvokeError();
            return errno is EAGAIN or EINTR ? 0 : -1;
        }
    }

    /// <summary>The interface's name for a route's RTA_OIF, in this namespace; null when it is gone.</summary>
    public static string? NameOf(int index)
    {
        byte* name = stackalloc byte[16]; // IF_NAMESIZE
        return if_indextoname((uint)index, name) is null ? null : Marshal.PtrToStringUTF8((nint)name);
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) close(fd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrNl
    {
        public ushort Family;
        public ushort Pad;
        public uint Pid;
        public uint Groups;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc")]
    private static partial byte* if_indextoname(uint index, byte* name);
}
