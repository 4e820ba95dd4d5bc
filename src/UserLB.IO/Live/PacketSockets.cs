using System.Runtime.InteropServices;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>The libc calls and structures of AF_PACKET sockets and their rings, shared by <see cref="AfPacketPort"/> and
/// <see cref="HandshakeRing"/>.</summary>
internal static unsafe partial class PacketSockets
{
    internal const int AF_PACKET = 17, SOCK_RAW = 3, SOL_PACKET = 263;
    internal const ushort ETH_P_ALL = 0x0003;
    internal const int PACKET_RX_RING = 5, PACKET_STATISTICS = 6, PACKET_VERSION = 10, PACKET_VNET_HDR = 15, PACKET_IGNORE_OUTGOING = 23;
    internal const int TPACKET_V2 = 1;
    internal const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;

    /// <summary>A 16-bit value in network byte order (socket() and sockaddr_ll take the protocol so).</summary>
    internal static ushort Htons(ushort v) => (ushort)((v << 8) | (v >> 8));

    // struct tpacket2_hdr: tp_status u32 @0, tp_len u32 @4, tp_snaplen u32 @8, tp_mac u16 @12, tp_net u16 @14, ...; 32 bytes.
    internal const int HdrStatus = 0, HdrLen = 4, HdrSnaplen = 8, HdrMac = 12, HdrSec = 16, HdrNsec = 20;
    internal const uint TP_STATUS_KERNEL = 0, TP_STATUS_USER = 1, TP_STATUS_COPY = 2;

    /// <summary>The RX ring slot at <paramref name="slot"/> holds a frame the kernel handed over.</summary>
    internal static bool HoldsFrame(byte* slot) => (Volatile.Read(ref *(uint*)(slot + HdrStatus)) & TP_STATUS_USER) != 0;

    /// <summary>Hands the RX ring slot at <paramref name="slot"/> back to the kernel.</summary>
    internal static void Release(byte* slot) => Volatile.Write(ref *(uint*)(slot + HdrStatus), TP_STATUS_KERNEL);

    /// <summary>
    /// Copies the frame in the RX ring slot at <paramref name="slot"/> (<paramref name="slotSize"/> bytes) into
    /// <paramref name="buffer"/>, with the virtio-net header in front of it: its length, or -1 when the frame is not
    /// whole in the slot or larger than the buffer. The slot is not released.
    /// </summary>
    internal static int CopyFromSlot(byte* slot, int slotSize, Span<byte> buffer, out VnetHeader offload)
    {
        int len = (int)*(uint*)(slot + HdrLen);
        int snap = (int)*(uint*)(slot + HdrSnaplen);
        int mac = *(ushort*)(slot + HdrMac);
        if (snap >= len && mac >= VnetHeader.Length && mac + snap <= slotSize && len <= buffer.Length)
        {
            offload = VnetHeader.Read(new ReadOnlySpan<byte>(slot + mac - VnetHeader.Length, VnetHeader.Length));
            FrameCopy.Copy(new ReadOnlySpan<byte>(slot + mac, len), buffer);
            return len;
        }
        offload = default;
        return -1;
    }

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
