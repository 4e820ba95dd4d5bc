using System.Runtime.InteropServices;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>
/// An AF_PACKET raw socket without libpcap: bound to one interface, PACKET_IGNORE_OUTGOING so the engine never reads
/// its own sends, promiscuous membership, a 5 ms receive timeout so the worker can do timer work on idle links.
/// </summary>
public sealed partial class AfPacketPort : IPortIo
{
    private const int AF_PACKET = 17;
    private const int SOCK_RAW = 3;
    private const ushort ETH_P_ALL = 0x0003;
    private const int SOL_PACKET = 263;
    private const int SOL_SOCKET = 1;
    private const int SO_RCVTIMEO = 20;
    private const int SO_RCVBUF = 8;
    private const int PACKET_ADD_MEMBERSHIP = 1;
    private const int PACKET_MR_PROMISC = 1;
    private const int PACKET_IGNORE_OUTGOING = 23;
    private const int EAGAIN = 11;
    private const int EINTR = 4;

    private readonly int _fd;
    private volatile bool _closed;

    public AfPacketPort(string name)
    {
        Name = name;
        Mac = Interfaces.MacOf(name);
        int ifindex = Interfaces.IndexOf(name);
        _fd = socket(AF_PACKET, SOCK_RAW, Htons(ETH_P_ALL));
        if (_fd < 0) throw new InvalidOperationException($"AF_PACKET socket: {Marshal.GetLastPInvokeErrorMessage()} (needs root or CAP_NET_RAW)");
        var sll = new SockaddrLl { Family = AF_PACKET, Protocol = Htons(ETH_P_ALL), IfIndex = ifindex };
        if (bind(_fd, ref sll, Marshal.SizeOf<SockaddrLl>()) != 0) Fail("bind");
        int one = 1;
        if (setsockopt(_fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, ref one, sizeof(int)) != 0) Fail("PACKET_IGNORE_OUTGOING");
        var mreq = new PacketMreq { IfIndex = ifindex, Type = PACKET_MR_PROMISC };
        if (setsockopt(_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, ref mreq, Marshal.SizeOf<PacketMreq>()) != 0) Fail("PACKET_ADD_MEMBERSHIP");
        int rcvbuf = 16 * 1024 * 1024;
        setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, ref rcvbuf, sizeof(int));
        var tv = new Timeval { Sec = 0, Usec = 5000 };
        if (setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, ref tv, Marshal.SizeOf<Timeval>()) != 0) Fail("SO_RCVTIMEO");
    }

    private void Fail(string what)
    {
        string msg = Marshal.GetLastPInvokeErrorMessage();
        close(_fd);
        throw new InvalidOperationException($"AF_PACKET {what} on {Name}: {msg}");
    }

    public string Name { get; }
    public MacAddress Mac { get; }

    public unsafe int Receive(Span<byte> buffer)
    {
        if (_closed) return -1;
        fixed (byte* p = buffer)
        {
            nint n = recv(_fd, p, buffer.Length, 0);
            if (n >= 0) return (int)n;
            int err = Marshal.GetLastPInvokeError();
            return err is EAGAIN or EINTR ? 0 : (_closed ? -1 : 0);
        }
    }

    public unsafe void Send(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame) send(_fd, p, frame.Length, 0);
    }

    public void Dispose()
    {
        if (_closed) return;
        _closed = true;
        close(_fd);
    }

    private static ushort Htons(ushort v) => (ushort)((v << 8) | (v >> 8));

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLen;
        public ulong Addr;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PacketMreq
    {
        public int IfIndex;
        public ushort Type;
        public ushort AddrLen;
        public ulong Address;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timeval
    {
        public long Sec;
        public long Usec;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, ref SockaddrLl addr, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, ref int value, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, ref PacketMreq value, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, ref Timeval value, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint recv(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint send(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
