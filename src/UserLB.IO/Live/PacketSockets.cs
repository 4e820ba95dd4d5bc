using System.Runtime.InteropServices;

namespace UserLB.IO.Live;

/// <summary>The libc calls and structures of AF_PACKET sockets and their rings, shared by <see cref="AfPacketPort"/> and
/// <see cref="HandshakeRing"/>.</summary>
internal static unsafe partial class PacketSockets
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct SockaddrLl
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
    internal struct PacketMreq
    {
        public int IfIndex;
        public ushort Type;
        public ushort AddrLen;
        public ulong Address;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct TpacketReq
    {
        public uint BlockSize;
        public uint BlockNr;
        public uint FrameSize;
        public uint FrameNr;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct MsgHdr
    {
        public void* Name;
        public int NameLen;
        public IoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int bind(int fd, void* addr, int len);

    /// <summary>struct tpacket_stats: frames seen and dropped since the last read.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TpacketStats
    {
        public uint Packets;
        public uint Drops;
    }

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int getsockopt(int fd, int level, int name, void* value, int* len);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int setsockopt(int fd, int level, int name, void* value, int len);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int munmap(void* addr, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint send(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int close(int fd);
}
