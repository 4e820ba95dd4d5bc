using System.Runtime.InteropServices;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>
/// A TAP device through /dev/net/tun (TUNSETIFF with IFF_TAP | IFF_NO_PI): the engine is the far end of a virtual
/// Ethernet link whose near end is the kernel's interface. Attaches to an existing (persistent, e.g.
/// <c>ip tuntap add dev NAME mode tap</c>) device or creates one that lives while userlb runs; brings it up.
/// Every frame the kernel sends into the TAP is read here (there is nothing else on that link); frames written are
/// received by the kernel as if from the wire. The engine's MAC is its own locally administered address, not the
/// kernel interface's. With a virtio-net header on every frame (IFF_VNET_HDR) and the kernel told it may hand over
/// partial checksums and TSO/USO super-frames (TUNSETOFFLOAD), frames keep their offloads both ways, as a VM's would.
/// </summary>
public sealed partial class TapPort : IPortIo
{
    private const int O_RDWR = 2;
    private const int O_CLOEXEC = 0x80000;
    private const ulong TUNSETIFF = 0x400454CA;
    private const short IFF_TAP = 0x0002;
    private const short IFF_NO_PI = 0x1000;
    private const short IFF_VNET_HDR = 0x4000;
    private const ulong TUNSETOFFLOAD = 0x400454D0;
    private const ulong TUNSETVNETHDRSZ = 0x400454D8;
    private const uint TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04, TUN_F_TSO_ECN = 0x08, TUN_F_USO4 = 0x20, TUN_F_USO6 = 0x40;
    private const short IFF_UP = 0x1;
    private const ulong SIOCGIFFLAGS = 0x8913;
    private const ulong SIOCSIFFLAGS = 0x8914;
    private const short POLLIN = 1;
    private const int AF_INET = 2;
    private const int SOCK_DGRAM = 2;
    private const int EAGAIN = 11;
    private const int EINTR = 4;

    private readonly int _fd;
    private volatile bool _closed;

    public TapPort(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 15 || name.Contains('/', StringComparison.Ordinal))
            throw new InvalidOperationException($"\"{name}\" is not a valid interface name for a TAP device");
        Name = name;
        _fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (_fd < 0) throw new InvalidOperationException($"/dev/net/tun: {Marshal.GetLastPInvokeErrorMessage()} (needs root or CAP_NET_ADMIN)");
        var req = IfReq.For(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
        if (ioctl(_fd, TUNSETIFF, ref req) != 0)
        {
            string msg = Marshal.GetLastPInvokeErrorMessage();
            close(_fd);
            throw new InvalidOperationException($"TUNSETIFF {name} (tap, no packet info): {msg} (an existing device must be a TAP without pi: `ip tuntap add dev {name} mode tap`)");
        }
        int hdr = VnetHeader.Length;
        if (ioctl(_fd, TUNSETVNETHDRSZ, ref hdr) != 0) FailOffloads(name, "TUNSETVNETHDRSZ");
        // Checksum, TSO and (where the kernel has it) USO offloads: the kernel stops completing and segmenting for us.
        uint offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
        if (ioctl(_fd, TUNSETOFFLOAD, offloads | TUN_F_USO4 | TUN_F_USO6) != 0 && ioctl(_fd, TUNSETOFFLOAD, offloads) != 0)
            FailOffloads(name, "TUNSETOFFLOAD");
        SetUp(name);
        int ifindex = Interfaces.IndexOf(name);
        // 02:75:6c:62:XX:YY ("ulb"), XX:YY from the ifindex with bit 15 set so it cannot equal EngineOptions.DefaultMac.
        Mac = new MacAddress(0x0275_6C62_0000UL | 0x8000UL | (uint)(ifindex & 0x7FFF));
    }

    public string Name { get; }
    public MacAddress Mac { get; }

    private void FailOffloads(string name, string what)
    {
        string msg = Marshal.GetLastPInvokeErrorMessage();
        close(_fd);
        throw new InvalidOperationException($"TAP {name}: {what}: {msg}");
    }

    /// <summary>Reads one frame: its virtio-net header, then the frame into <paramref name="buffer"/>.</summary>
    public unsafe int Receive(Span<byte> buffer, out VnetHeader offload)
    {
        offload = default;
        if (_closed) return -1;
        var pfd = new PollFd { Fd = _fd, Events = POLLIN };
        int ready = poll(ref pfd, 1, 5);
        if (ready <= 0) return _closed ? -1 : 0;
        byte* header = stackalloc byte[VnetHeader.Length];
        fixed (byte* p = buffer)
        {
            var iov = stackalloc IoVec[2];
            iov[0] = new IoVec { Base = header, Length = VnetHeader.Length };
            iov[1] = new IoVec { Base = p, Length = (nuint)buffer.Length };
            nint n = readv(_fd, iov, 2);
            if (n > VnetHeader.Length)
            {
                offload = VnetHeader.Read(new ReadOnlySpan<byte>(header, VnetHeader.Length));
                return (int)n - VnetHeader.Length;
            }
            if (n >= 0) return 0;
            int err = Marshal.GetLastPInvokeError();
            return err is EAGAIN or EINTR ? 0 : (_closed ? -1 : 0);
        }
    }

    /// <summary>Writes one frame behind its virtio-net header: the kernel completes or segments it as it would a VM's.</summary>
    public unsafe void Send(ReadOnlySpan<byte> frame, in VnetHeader offload)
    {
        byte* header = stackalloc byte[VnetHeader.Length];
        offload.Write(new Span<byte>(header, VnetHeader.Length));
        fixed (byte* p = frame)
        {
            var iov = stackalloc IoVec[2];
            iov[0] = new IoVec { Base = header, Length = VnetHeader.Length };
            iov[1] = new IoVec { Base = p, Length = (nuint)frame.Length };
            writev(_fd, iov, 2);
        }
    }

    public void Flush()
    {
    }

    public void Dispose()
    {
        if (_closed) return;
        _closed = true;
        close(_fd);
    }

    private static void SetUp(string name)
    {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        if (s < 0) return;
        try
        {
            var req = IfReq.For(name, 0);
            if (ioctl(s, SIOCGIFFLAGS, ref req) != 0) return;
            if ((req.Flags & IFF_UP) != 0) return;
            req.Flags |= IFF_UP;
            if (ioctl(s, SIOCSIFFLAGS, ref req) != 0)
                throw new InvalidOperationException($"TAP {name}: cannot bring it up: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        finally
        {
            close(s);
        }
    }

    /// <summary>struct ifreq: a 16-byte name then a 24-byte union whose first member here is the flags.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 40)]
    private unsafe struct IfReq
    {
        public fixed byte Name[16];
        public short Flags;

        public static IfReq For(string name, short flags)
        {
            var r = new IfReq { Flags = flags };
            for (int i = 0; i < name.Length; i++) r.Name[i] = (byte)name[i];
            return r;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, ref IfReq req);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(ref PollFd fds, ulong nfds, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, ref int value);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, uint value);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint readv(int fd, IoVec* iov, int count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint writev(int fd, IoVec* iov, int count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
