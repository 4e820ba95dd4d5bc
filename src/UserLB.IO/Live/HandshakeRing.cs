using System.Runtime.InteropServices;
using UserLB.Packets;
using static UserLB.IO.Live.PacketSockets;

namespace UserLB.IO.Live;

/// <summary>
/// The second receive ring of an <see cref="AfPacketPort"/>: its socket and the port's main one form a fanout group
/// (PACKET_FANOUT_CBPF) whose classic BPF program steers every TCP segment with SYN set — new connections' handshakes,
/// and a SYN flood — to this ring and everything else to the main ring. A flood then overflows this ring only, and the
/// packets of established flows never wait behind it; the port reads this ring when the main one is empty, and at
/// least one frame in <see cref="AfPacketPort.HandshakeShare"/> while both hold frames.
/// </summary>
internal sealed unsafe partial class HandshakeRing : IDisposable
{
    private const int PACKET_FANOUT = 18, PACKET_FANOUT_DATA = 22;
    private const int PACKET_FANOUT_CBPF = 6, PACKET_FANOUT_FLAG_UNIQUEID = 0x2000, PACKET_FANOUT_FLAG_IGNORE_OUTGOING = 0x4000;
    private const int FrameSize = AfPacketPort.FrameSize, BlockSize = 1 << 16;
    /// <summary>4 MiB: handshake frames are small, and a flood is meant to overflow this ring.</summary>
    private const int Frames = 2048;
    private const int EpollCtlAdd = 1, EpollIn = 1;

    private readonly int _fd;
    private readonly byte* _ring;
    private int _next;
    private long _drops;

    private HandshakeRing(int fd, byte* ring, int pollFd)
    {
        _fd = fd;
        _ring = ring;
        PollFd = pollFd;
    }

    /// <summary>An epoll descriptor holding both sockets: readable when either ring holds a frame.</summary>
    public int PollFd { get; }

    /// <summary>
    /// Makes the ring for the port whose bound socket is <paramref name="mainFd"/>, or null (the reason in
    /// <paramref name="why"/>) when the kernel refuses a step: the port then reads everything from its main ring.
    /// </summary>
    public static HandshakeRing? TryCreate(int mainFd, int ifindex, out string why)
    {
        why = "";
        // The main socket joins first (member 0), under an id the kernel picks; this one joins the same group (member 1).
        int join = (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_IGNORE_OUTGOING | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
        if (setsockopt(mainFd, SOL_PACKET, PACKET_FANOUT, &join, sizeof(int)) != 0) return Refused("PACKET_FANOUT (cbpf, ignore outgoing)", out why);
        int group = 0, len = sizeof(int);
        if (getsockopt(mainFd, SOL_PACKET, PACKET_FANOUT, &group, &len) != 0) return Refused("getsockopt PACKET_FANOUT", out why);
        int fd = socket(AF_PACKET, SOCK_RAW, Htons(ETH_P_ALL));
        if (fd < 0) return Refused("socket", out why);
        int one = 1, version = TPACKET_V2;
        var req = new TpacketReq { BlockSize = BlockSize, BlockNr = Frames * FrameSize / BlockSize, FrameSize = FrameSize, FrameNr = Frames };
        var sll = new SockaddrLl { Family = AF_PACKET, Protocol = Htons(ETH_P_ALL), IfIndex = ifindex };
        int member = (group & 0xFFFF) | ((PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_IGNORE_OUTGOING) << 16);
        byte* ring = null;
        nuint bytes = (nuint)Frames * FrameSize;
        string? failed =
            setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(int)) != 0 ? "PACKET_IGNORE_OUTGOING"
            : setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(int)) != 0 ? "PACKET_VNET_HDR"
            : setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(int)) != 0 ? "PACKET_VERSION"
            : setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(TpacketReq)) != 0 ? "PACKET_RX_RING"
            : (ring = (byte*)mmap(null, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == (byte*)-1 ? "mmap"
            : bind(fd, &sll, sizeof(SockaddrLl)) != 0 ? "bind"
            : setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &member, sizeof(int)) != 0 ? "PACKET_FANOUT (join)"
            : !SetProgram(fd) ? "PACKET_FANOUT_DATA (the steering program)"
            : null;
        int epoll = failed is null ? epoll_create1(0) : -1;
        if (failed is null && (epoll < 0 || !Watch(epoll, mainFd) || !Watch(epoll, fd))) failed = "epoll";
        if (failed is null) return new HandshakeRing(fd, ring, epoll);
        Refused(failed, out why);
        if (ring != null && ring != (byte*)-1) munmap(ring, bytes);
        if (epoll >= 0) close(epoll);
        close(fd);
        // The main socket stays in the group, alone: with no program every frame goes to member 0.
        return null;
    }

    private static HandshakeRing? Refused(string step, out string why)
    {
        why = step + ": " + Marshal.GetLastPInvokeErrorMessage();
        return null;
    }

    private static bool Watch(int epoll, int fd)
    {
        var ev = new EpollEvent { Events = EpollIn, Data = (ulong)fd };
        return epoll_ctl(epoll, EpollCtlAdd, fd, &ev) == 0;
    }

    /// <summary>Whether the ring's next slot holds a frame.</summary>
    public bool HoldsFrame => PacketSockets.HoldsFrame(Slot);

    private byte* Slot => _ring + (nint)_next * FrameSize;

    /// <summary>Copies the next frame into <paramref name="buffer"/> and frees its slot; its length, or -1 when it was cut
    /// to the slot (not forwardable; the sender retransmits).</summary>
    public int Read(Span<byte> buffer, out VnetHeader offload)
    {
        byte* frame = Slot;
        int n = CopyFromSlot(frame, FrameSize, buffer, out offload);
        Release(frame);
        _next = _next + 1 == Frames ? 0 : _next + 1;
        return n;
    }

    /// <summary>Frames the kernel dropped because this ring was full, since the start (PACKET_STATISTICS resets on each read).</summary>
    public long Drops()
    {
        TpacketStats st;
        int len = sizeof(TpacketStats);
        if (getsockopt(_fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) _drops += st.Drops;
        return _drops;
    }

    public void Dispose()
    {
        close(PollFd);
        close(_fd);
        // The mapping stays: a receive thread may still be reading it until it notices the port closed.
    }

    /// <summary>
    /// The fanout program (classic BPF, offsets relative to the network header): 1 for a TCP segment with SYN set (IPv4
    /// without options and not a later fragment, or IPv6 with TCP as the first next header), else 0.
    /// </summary>
    private static bool SetProgram(int fd)
    {
        const ushort LdH = 0x28, LdB = 0x30, JeqK = 0x15, JsetK = 0x45, RetK = 0x06;
        const uint Protocol = 0xFFFFF000; // SKF_AD_OFF + SKF_AD_PROTOCOL: the frame's EtherType, host order
        const uint Net = 0xFFF00000; // SKF_NET_OFF
        SockFilter* p = stackalloc SockFilter[17];
        p[0] = new SockFilter(LdH, 0, 0, Protocol);
        p[1] = new SockFilter(JeqK, 0, 8, 0x0800);      // IPv4? else 10
        p[2] = new SockFilter(LdB, 0, 0, Net + 0);
        p[3] = new SockFilter(JeqK, 0, 11, 0x45);       // version 4, 20-byte header, else return 0
        p[4] = new SockFilter(LdB, 0, 0, Net + 9);
        p[5] = new SockFilter(JeqK, 0, 9, 6);           // TCP, else return 0
        p[6] = new SockFilter(LdH, 0, 0, Net + 6);
        p[7] = new SockFilter(JsetK, 7, 0, 0x1FFF);     // a later fragment: return 0
        p[8] = new SockFilter(LdB, 0, 0, Net + 20 + 13);
        p[9] = new SockFilter(JsetK, 6, 5, 0x02);       // SYN: return 1, else 0
        p[10] = new SockFilter(JeqK, 0, 4, 0x86DD);     // IPv6, else return 0
        p[11] = new SockFilter(LdB, 0, 0, Net + 6);
        p[12] = new SockFilter(JeqK, 0, 2, 6);          // next header TCP, else return 0
        p[13] = new SockFilter(LdB, 0, 0, Net + 40 + 13);
        p[14] = new SockFilter(JsetK, 1, 0, 0x02);      // SYN: return 1, else 0
        p[15] = new SockFilter(RetK, 0, 0, 0);
        p[16] = new SockFilter(RetK, 0, 0, 1);
        var prog = new SockFprog { Length = 17, Filter = p };
        return setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof(SockFprog)) == 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct SockFilter(ushort code, byte jt, byte jf, uint k)
    {
        public readonly ushort Code = code;
        public readonly byte Jt = jt;
        public readonly byte Jf = jf;
        public readonly uint K = k;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Length;
        public SockFilter* Filter;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);
}
