using System.Runtime.InteropServices;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>
/// An AF_PACKET raw socket without libpcap: bound to one interface, PACKET_IGNORE_OUTGOING so the engine never reads
/// its own sends, promiscuous membership. By default with memory-mapped rings (TPACKET_V2): frames are read from the
/// PACKET_RX_RING without a system call while the ring holds any (poll() with a 5 ms timeout only when it is empty,
/// so the worker can do timer work on idle links), and written into the PACKET_TX_RING, which one send() hands to the
/// kernel per batch (<see cref="Flush"/>, or when 64 frames are pending). Without rings: one recv() / send() per frame.
/// Receive is called by one thread; Send and Flush by one thread (the engine's owner).
/// </summary>
public sealed unsafe partial class AfPacketPort : IPortIo
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
    private const int PACKET_RX_RING = 5;
    private const int PACKET_VERSION = 10;
    private const int PACKET_TX_RING = 13;
    private const int PACKET_IGNORE_OUTGOING = 23;
    private const int PACKET_VNET_HDR = 15;
    private const int VnetHdrLen = 10; // struct virtio_net_hdr: flags u8, gso_type u8, hdr_len u16, gso_size u16, csum_start u16, csum_offset u16
    private const int TPACKET_V2 = 1;
    private const int EAGAIN = 11;
    private const int EINTR = 4;
    private const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
    private const int MSG_DONTWAIT = 0x40;

    // struct tpacket2_hdr: tp_status u32 @0, tp_len u32 @4, tp_snaplen u32 @8, tp_mac u16 @12, tp_net u16 @14, ...; 32 bytes.
    private const int HdrStatus = 0, HdrLen = 4, HdrSnaplen = 8, HdrMac = 12, HdrSec = 16, HdrNsec = 20;
    private const int SO_TIMESTAMP = 29;
    private const int DelaySampleMask = 15; // one frame in 16 is timed
    private const int TxDataOffset = 32; // TPACKET2_HDRLEN - sizeof(struct sockaddr_ll): where the kernel reads a TX frame
    private const uint TP_STATUS_KERNEL = 0, TP_STATUS_USER = 1, TP_STATUS_AVAILABLE = 0, TP_STATUS_SEND_REQUEST = 1, TP_STATUS_WRONG_FORMAT = 4;
    // (TX slots the kernel rejected stay TP_STATUS_WRONG_FORMAT: reused like available ones.)

    /// <summary>Ring geometry: 2048-byte frames (a 1514-byte frame plus headers fits), 64 KiB blocks.</summary>
    public const int FrameSize = 2048;
    private const int BlockSize = 1 << 16;
    private const int RxFrames = 8192; // 16 MiB, as the plain socket's SO_RCVBUF
    private const int TxFrames = 1024;
    private const int TxBatch = 64;

    private readonly int _fd;
    private readonly byte* _ring;
    private readonly nuint _ringBytes;
    private readonly byte* _tx;
    private int _rxNext, _txNext, _delaySample;
    private readonly TxHandOver? _handOver;
    private long _txDrops;
    private volatile bool _closed;
    private readonly bool _vnetHdr;

    /// <param name="name">The interface.</param>
    /// <param name="rings">Memory-mapped RX/TX rings (default); false: one recv()/send() per frame.</param>
    public AfPacketPort(string name, bool rings = true)
    {
        Name = name;
        Mac = Interfaces.MacOf(name);
        int ifindex = Interfaces.IndexOf(name);
        _fd = socket(AF_PACKET, SOCK_RAW, Htons(ETH_P_ALL));
        if (_fd < 0) throw new InvalidOperationException($"AF_PACKET socket: {Marshal.GetLastPInvokeErrorMessage()} (needs root or CAP_NET_RAW)");
        int one = 1;
        if (setsockopt(_fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(int)) != 0) Fail("PACKET_IGNORE_OUTGOING");
        if (rings)
        {
            // A virtio-net header in front of each TX frame, so the kernel copies the whole frame into the skb's linear
            // part (hdr_len = the frame): without it the payload stays in the ring's pages as zero-copy fragments, which
            // a veth then copies into fresh pages for the peer (skb_copy_ubufs: 9.4 % of all CPU in the bulk test).
            // On RX the header sits before the frame; tp_mac still points at the Ethernet header. Optional.
            _vnetHdr = setsockopt(_fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(int)) == 0;
            int version = TPACKET_V2;
            if (setsockopt(_fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(int)) != 0) Fail("PACKET_VERSION TPACKET_V2");
            var rx = new TpacketReq { BlockSize = BlockSize, BlockNr = RxFrames * FrameSize / BlockSize, FrameSize = FrameSize, FrameNr = RxFrames };
            if (setsockopt(_fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(TpacketReq)) != 0) Fail("PACKET_RX_RING");
            var tx = new TpacketReq { BlockSize = BlockSize, BlockNr = TxFrames * FrameSize / BlockSize, FrameSize = FrameSize, FrameNr = TxFrames };
            if (setsockopt(_fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(TpacketReq)) != 0) Fail("PACKET_TX_RING");
            _ringBytes = (nuint)(RxFrames + TxFrames) * FrameSize;
            // One mapping: the RX ring, then the TX ring.
            void* map = mmap(null, _ringBytes, PROT_READ | PROT_WRITE, MAP_SHARED, _fd, 0);
            if (map == (void*)-1) Fail("mmap of the rings");
            _ring = (byte*)map;
            _tx = _ring + (nint)RxFrames * FrameSize;
            _handOver = new TxHandOver(Kick);
            // Precise receive timestamps in the ring slots (else the kernel falls back to a coarse clock).
            if (setsockopt(_fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(int)) == 0) ReceiveDelay = new DelayHistogram();
        }
        var sll = new SockaddrLl { Family = AF_PACKET, Protocol = Htons(ETH_P_ALL), IfIndex = ifindex };
        if (bind(_fd, &sll, sizeof(SockaddrLl)) != 0) Fail("bind");
        var mreq = new PacketMreq { IfIndex = ifindex, Type = PACKET_MR_PROMISC };
        if (setsockopt(_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(PacketMreq)) != 0) Fail("PACKET_ADD_MEMBERSHIP");
        if (!rings)
        {
            int rcvbuf = 16 * 1024 * 1024;
            setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(int));
            var tv = new Timeval { Sec = 0, Usec = 5000 };
            if (setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(Timeval)) != 0) Fail("SO_RCVTIMEO");
        }
    }

    private void Fail(string what)
    {
        string msg = Marshal.GetLastPInvokeErrorMessage();
        if (_ring != null) munmap(_ring, _ringBytes);
        close(_fd);
        throw new InvalidOperationException($"AF_PACKET {what} on {Name}: {msg}");
    }

    public string Name { get; }
    public MacAddress Mac { get; }
    public bool Rings => _ring != null;

    /// <summary>Frames dropped because the TX ring stayed full after a flush.</summary>
    public long TxDrops => Interlocked.Read(ref _txDrops);

    /// <summary>The next RX ring slot already holds a frame (rings only).</summary>
    public bool Pending => _ring != null && !_closed && HoldsFrame(RxSlot);

    /// <summary>The RX ring slot read next.</summary>
    private byte* RxSlot => _ring + (nint)_rxNext * FrameSize;

    /// <summary>The socket, for one thread polling several ports (rings only: then <see cref="Pending"/> is exact).</summary>
    public int PollFd => _ring != null && !_closed ? _fd : -1;

    /// <summary>The kernel's receive timestamp of the frame in the next RX ring slot (SO_TIMESTAMP); 0 when none waits.</summary>
    public long PendingTimestampNs
    {
        get
        {
            if (_ring == null || _closed || ReceiveDelay is null) return 0;
            byte* frame = RxSlot;
            return HoldsFrame(frame) ? KernelTimestampNs(frame) : 0;
        }
    }

    /// <summary>The clock of the kernel's receive timestamps (CLOCK_REALTIME), in ns since the epoch.</summary>
    internal static long WallClockNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    private static long KernelTimestampNs(byte* frame) => *(uint*)(frame + HdrSec) * 1_000_000_000L + *(uint*)(frame + HdrNsec);

    /// <summary>The RX ring slot at <paramref name="frame"/> holds a frame the kernel handed over.</summary>
    private static bool HoldsFrame(byte* frame) => (Volatile.Read(ref *(uint*)(frame + HdrStatus)) & TP_STATUS_USER) != 0;

    public int Receive(Span<byte> buffer)
    {
        if (_closed) return -1;
        if (_ring == null) return ReceivePlain(buffer);
        byte* frame = RxSlot;
        if (!HoldsFrame(frame))
        {
            int ready = PortPoll.Wait([_fd], 5);
            if (_closed) return -1;
            if (ready <= 0 || !HoldsFrame(frame)) return 0;
        }
        if (ReceiveDelay is { } delay && (++_delaySample & DelaySampleMask) == 0) SampleDelay(frame, delay);
        int snap = (int)*(uint*)(frame + HdrSnaplen);
        int mac = *(ushort*)(frame + HdrMac);
        int n = Math.Min(snap, buffer.Length);
        if (mac + n > FrameSize) n = Math.Max(0, FrameSize - mac);
        new ReadOnlySpan<byte>(frame + mac, n).CopyTo(buffer);
        Volatile.Write(ref *(uint*)(frame + HdrStatus), TP_STATUS_KERNEL);
        _rxNext = _rxNext + 1 == RxFrames ? 0 : _rxNext + 1;
        return n; // a GRO super-frame arrives cut to the slot, as the plain socket cuts it to the buffer
    }

    /// <summary>Sampled wait between the kernel's receive timestamp (CLOCK_REALTIME) and now.</summary>
    public DelayHistogram? ReceiveDelay { get; }

    private static void SampleDelay(byte* frame, DelayHistogram delay)
    {
        long kernelNs = KernelTimestampNs(frame);
        if (kernelNs == 0) return;
        delay.Record(WallClockNs() - kernelNs);
    }

    private int ReceivePlain(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n = recv(_fd, p, buffer.Length, 0);
            if (n >= 0) return (int)n;
            int err = Marshal.GetLastPInvokeError();
            return err is EAGAIN or EINTR ? 0 : (_closed ? -1 : 0);
        }
    }

    public void Send(ReadOnlySpan<byte> frame)
    {
        if (_closed) return;
        if (_tx == null)
        {
            fixed (byte* p = frame) send(_fd, p, frame.Length, 0);
            return;
        }
        int hdr = _vnetHdr ? VnetHdrLen : 0;
        if (frame.Length > FrameSize - TxDataOffset - hdr) { Interlocked.Increment(ref _txDrops); return; }
        byte* slot = _tx + (nint)_txNext * FrameSize;
        uint status = Volatile.Read(ref *(uint*)(slot + HdrStatus));
        if (status != TP_STATUS_AVAILABLE && status != TP_STATUS_WRONG_FORMAT)
        {
            // The kernel still owns this slot: hand over what is pending and wait until it is sent.
            _handOver!.Clear();
            while (send(_fd, null, 0, 0) < 0 && Marshal.GetLastPInvokeError() == EINTR) { }
            status = Volatile.Read(ref *(uint*)(slot + HdrStatus));
            if (status != TP_STATUS_AVAILABLE && status != TP_STATUS_WRONG_FORMAT) { Interlocked.Increment(ref _txDrops); return; }
        }
        byte* data = slot + TxDataOffset;
        if (hdr != 0)
        {
            // No GSO, no checksum to complete; hdr_len (little-endian) = the whole frame, copied into the linear part.
            *(ulong*)data = (ulong)(ushort)frame.Length << 16;
            *(ushort*)(data + 8) = 0;
        }
        frame.CopyTo(new Span<byte>(data + hdr, FrameSize - TxDataOffset - hdr));
        *(uint*)(slot + HdrLen) = (uint)(frame.Length + hdr);
        Volatile.Write(ref *(uint*)(slot + HdrStatus), TP_STATUS_SEND_REQUEST);
        _txNext = _txNext + 1 == TxFrames ? 0 : _txNext + 1;
        if (_handOver!.Add() >= TxBatch) Flush();
    }

    /// <summary>
    /// Hands the frames written into the TX ring to the kernel (one send()); nothing without rings or when none is
    /// pending. Thread-safe: while one thread hands frames over, another's flush leaves its frames to it
    /// (<see cref="TxHandOver"/>) instead of spinning on the socket's ring mutex.
    /// </summary>
    public void Flush()
    {
        if (_closed) return;
        _handOver?.Flush();
    }

    private void Kick()
    {
        if (_closed) return;
        while (send(_fd, null, 0, MSG_DONTWAIT) < 0 && Marshal.GetLastPInvokeError() == EINTR) { }
    }

    public void Dispose()
    {
        if (_closed) return;
        _closed = true;
        close(_fd);
        // The mapping stays: a receive thread may still be reading it until it notices _closed; the process ends soon.
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
    private struct TpacketReq
    {
        public uint BlockSize;
        public uint BlockNr;
        public uint FrameSize;
        public uint FrameNr;
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
    private static partial int bind(int fd, void* addr, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, void* value, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* addr, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
