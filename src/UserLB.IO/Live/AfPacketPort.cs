using System.Runtime.InteropServices;
using UserLB.Packets;
using static UserLB.IO.Live.PacketSockets;

namespace UserLB.IO.Live;

/// <summary>
/// An AF_PACKET raw socket without libpcap: bound to one interface, PACKET_IGNORE_OUTGOING so the engine never reads
/// its own sends, promiscuous membership, memory-mapped rings (TPACKET_V2) and a virtio-net header on every frame
/// (PACKET_VNET_HDR), so frames keep their offloads as the kernel's own forwarding keeps them: a partial checksum and a
/// GSO/GRO super-frame pass through for the kernel or the peer to complete. Frames are read from the PACKET_RX_RING
/// without a system call while it holds any (poll() with a 5 ms timeout when it is empty); a super-frame larger than a
/// slot is copied whole to the socket's queue by the kernel (PACKET_COPY_THRESH) and read from there. Every frame is
/// written into the PACKET_TX_RING, whose slots hold a super-frame, and one send() hands them to the kernel per batch
/// (<see cref="Flush"/>, or when 64 frames are pending): in order, and outside the engine's lock.
/// Receive is called by one thread; Send by one thread (the engine's owner); Flush by any.
/// </summary>
public sealed unsafe partial class AfPacketPort : IPollablePort, IPortStats
{
    private const int SOL_SOCKET = 1;
    private const int SO_RCVBUF = 8;
    private const int SO_RCVBUFFORCE = 33;
    private const int PACKET_ADD_MEMBERSHIP = 1;
    private const int PACKET_MR_PROMISC = 1;
    private const int PACKET_COPY_THRESH = 7;
    private const int PACKET_TX_RING = 13;
    private const int EAGAIN = 11;
    private const int EINTR = 4;
    private const int MSG_DONTWAIT = 0x40;

    private const int SO_TIMESTAMP = 29;
    private const int DelaySampleMask = 15; // one frame in 16 is timed
    private const int TxDataOffset = 32; // TPACKET2_HDRLEN - sizeof(struct sockaddr_ll): where the kernel reads a TX frame
    private const uint TP_STATUS_AVAILABLE = 0, TP_STATUS_SEND_REQUEST = 1, TP_STATUS_WRONG_FORMAT = 4;
    // (TX slots the kernel rejected stay TP_STATUS_WRONG_FORMAT: reused like available ones.)

    /// <summary>RX slots of 2048 bytes (a 1514-byte frame plus headers fits), 64 KiB blocks; a super-frame is read from the socket's queue.</summary>
    public const int FrameSize = 2048;
    private const int BlockSize = 1 << 16;
    private const int RxFrames = 8192; // 16 MiB
    /// <summary>TX slots hold a super-frame (17 pages: 64 KB of IP packet plus headers), so every frame leaves through the ring, in order.</summary>
    private const int TxFrameSize = 17 * 4096;
    private const int TxFrames = 128;
    private const int TxBatch = 64;
    /// <summary>The socket queue that holds super-frames too large for a slot (the kernel copies them there whole).</summary>
    private const int CopyQueueBytes = 32 * 1024 * 1024;
    private const int MaxTxSlotFrame = TxFrameSize - TxDataOffset - VnetHeader.Length;

    private readonly int _fd;
    private readonly byte* _ring;
    private readonly nuint _ringBytes;
    private readonly byte* _tx;
    private int _rxNext, _txNext, _delaySample;
    private readonly TxHandOver _handOver;
    private long _txDrops, _rxTruncated, _kernelDrops, _handshakeDrops;
    private readonly Lock _statsLock = new();
    private volatile bool _closed;
    private readonly HandshakeRing? _handshake;
    private int _mainRun;

    /// <summary>While both rings hold frames, at least one frame in this many is read from the handshake ring.</summary>
    public const int HandshakeShare = 16;

    /// <summary>Why the port has no handshake ring (the kernel refused a step: e.g. a kernel before PACKET_FANOUT_FLAG_IGNORE_OUTGOING), or null.</summary>
    public string? HandshakeRingUnavailable { get; }

    /// <param name="name">The interface.</param>
    public AfPacketPort(string name)
    {
        Name = name;
        Mac = Interfaces.MacOf(name);
        int ifindex = Interfaces.IndexOf(name);
        _fd = socket(AF_PACKET, SOCK_RAW, Htons(ETH_P_ALL));
        if (_fd < 0) throw new InvalidOperationException($"AF_PACKET socket: {Marshal.GetLastPInvokeErrorMessage()} (needs root or CAP_NET_RAW)");
        int one = 1;
        if (setsockopt(_fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(int)) != 0) Fail("PACKET_IGNORE_OUTGOING");
        // Before the rings: the header sits in front of each frame in both rings (on RX at tp_mac - 10).
        if (setsockopt(_fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(int)) != 0) Fail("PACKET_VNET_HDR");
        if (setsockopt(_fd, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof(int)) != 0) Fail("PACKET_COPY_THRESH");
        int queue = CopyQueueBytes;
        // Best effort: FORCE needs CAP_NET_ADMIN; without it SO_RCVBUF gets up to net.core.rmem_max (else rmem_default bounds the copies).
        if (setsockopt(_fd, SOL_SOCKET, SO_RCVBUFFORCE, &queue, sizeof(int)) != 0) setsockopt(_fd, SOL_SOCKET, SO_RCVBUF, &queue, sizeof(int));
        int version = TPACKET_V2;
        if (setsockopt(_fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(int)) != 0) Fail("PACKET_VERSION TPACKET_V2");
        var rx = new TpacketReq { BlockSize = BlockSize, BlockNr = RxFrames * FrameSize / BlockSize, FrameSize = FrameSize, FrameNr = RxFrames };
        if (setsockopt(_fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(TpacketReq)) != 0) Fail("PACKET_RX_RING");
        var tx = new TpacketReq { BlockSize = TxFrameSize, BlockNr = TxFrames, FrameSize = TxFrameSize, FrameNr = TxFrames };
        if (setsockopt(_fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(TpacketReq)) != 0) Fail("PACKET_TX_RING");
        _ringBytes = (nuint)RxFrames * FrameSize + (nuint)TxFrames * TxFrameSize;
        // One mapping: the RX ring, then the TX ring.
        void* map = mmap(null, _ringBytes, PROT_READ | PROT_WRITE, MAP_SHARED, _fd, 0);
        if (map == (void*)-1) Fail("mmap of the rings");
        _ring = (byte*)map;
        _tx = _ring + (nint)RxFrames * FrameSize;
        _handOver = new TxHandOver(Kick);
        // Precise receive timestamps in the ring slots (else the kernel falls back to a coarse clock).
        if (setsockopt(_fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(int)) == 0) ReceiveDelay = new DelayHistogram();
        var sll = new SockaddrLl { Family = AF_PACKET, Protocol = Htons(ETH_P_ALL), IfIndex = ifindex };
        if (bind(_fd, &sll, sizeof(SockaddrLl)) != 0) Fail("bind");
        var mreq = new PacketMreq { IfIndex = ifindex, Type = PACKET_MR_PROMISC };
        if (setsockopt(_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(PacketMreq)) != 0) Fail("PACKET_ADD_MEMBERSHIP");
        _handshake = HandshakeRing.TryCreate(_fd, ifindex, out string why);
        HandshakeRingUnavailable = _handshake is null ? why : null;
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

    /// <summary>Frames dropped on the way out: the TX ring stayed full after a flush.</summary>
    public long TxDrops => Interlocked.Read(ref _txDrops);

    /// <summary>Received super-frames lost because the kernel could not copy them whole (the copy queue was full).</summary>
    public long RxTruncated => Interlocked.Read(ref _rxTruncated);

    /// <summary>The kernel's drops (PACKET_STATISTICS, which resets on each read: summed here), the TX ring's and truncations.</summary>
    public PortStats Stats
    {
        get
        {
            lock (_statsLock)
            {
                TpacketStats st;
                int len = sizeof(TpacketStats);
                if (!_closed && getsockopt(_fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) _kernelDrops += st.Drops;
                _handshakeDrops = _closed || _handshake is null ? _handshakeDrops : _handshake.Drops();
                return new PortStats(_kernelDrops, TxDrops, RxTruncated, _handshakeDrops);
            }
        }
    }

    /// <summary>The next RX ring slot already holds a frame.</summary>
    public bool Pending => !_closed && (HoldsFrame(RxSlot) || (_handshake?.HoldsFrame ?? false));

    /// <summary>The RX ring slot read next.</summary>
    private byte* RxSlot => _ring + (nint)_rxNext * FrameSize;

    /// <summary>The socket, for one thread polling several ports (<see cref="Pending"/> is exact).</summary>
    public int PollFd => !_closed ? _handshake?.PollFd ?? _fd : -1;

    /// <summary>The kernel's receive timestamp of the frame in the next RX ring slot (SO_TIMESTAMP); 0 when none waits.</summary>
    public long PendingTimestampNs
    {
        get
        {
            if (_closed || ReceiveDelay is null) return 0;
            byte* frame = RxSlot;
            return HoldsFrame(frame) ? KernelTimestampNs(frame) : 0;
        }
    }

    /// <summary>The clock of the kernel's receive timestamps (CLOCK_REALTIME), in ns since the epoch.</summary>
    internal static long WallClockNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    private static long KernelTimestampNs(byte* frame) => *(uint*)(frame + HdrSec) * 1_000_000_000L + *(uint*)(frame + HdrNsec);


    public int Receive(Span<byte> buffer, out VnetHeader offload)
    {
        offload = default;
        while (true)
        {
            if (_closed) return -1;
            byte* frame = RxSlot;
            bool main = HoldsFrame(frame);
            if (_handshake is { } hs && (!main || ++_mainRun >= HandshakeShare) && hs.HoldsFrame)
            {
                // The handshake ring: when the main one is empty, or its turn among frames of both.
                _mainRun = 0;
                int got = hs.Read(buffer, out offload);
                if (got > 0) return got;
                Interlocked.Increment(ref _rxTruncated);
                continue;
            }
            if (!main)
            {
                int ready = PortPoll.Wait([PollFd], 5);
                if (_closed) return -1;
                if (ready <= 0 || !Pending) return 0;
                continue;
            }
            if (ReceiveDelay is { } delay && (++_delaySample & DelaySampleMask) == 0) SampleDelay(frame, delay);
            uint status = Volatile.Read(ref *(uint*)(frame + HdrStatus));
            int n = CopyFromSlot(frame, FrameSize, buffer, out offload);
            // Larger than a slot: the whole frame waits in the socket's queue when the kernel could copy it there.
            if (n < 0 && (status & TP_STATUS_COPY) != 0) n = ReceiveCopy(buffer, out offload);
            Release(frame);
            _rxNext = _rxNext + 1 == RxFrames ? 0 : _rxNext + 1;
            if (n > 0) return n;
            Interlocked.Increment(ref _rxTruncated); // (cut to the slot: not forwardable; the sender retransmits)
        }
    }

    /// <summary>Reads the whole copy of a super-frame from the socket's queue: its virtio-net header, then the frame.</summary>
    private int ReceiveCopy(Span<byte> buffer, out VnetHeader offload)
    {
        offload = default;
        byte* header = stackalloc byte[VnetHeader.Length];
        fixed (byte* p = buffer)
        {
            var iov = stackalloc IoVec[2];
            iov[0] = new IoVec { Base = header, Length = VnetHeader.Length };
            iov[1] = new IoVec { Base = p, Length = (nuint)buffer.Length };
            var msg = new MsgHdr { Iov = iov, IovLen = 2 };
            nint got = recvmsg(_fd, &msg, MSG_DONTWAIT);
            if (got <= VnetHeader.Length || (msg.Flags & MSG_TRUNC) != 0) return -1;
            offload = VnetHeader.Read(new ReadOnlySpan<byte>(header, VnetHeader.Length));
            return (int)got - VnetHeader.Length;
        }
    }

    private const int MSG_TRUNC = 0x20;

    /// <summary>Sampled wait of received frames between the kernel's receive timestamp (CLOCK_REALTIME) and now.</summary>
    public DelayHistogram? ReceiveDelay { get; }

    private static void SampleDelay(byte* frame, DelayHistogram delay)
    {
        long kernelNs = KernelTimestampNs(frame);
        if (kernelNs == 0) return;
        delay.Record(WallClockNs() - kernelNs);
    }

    public void Send(ReadOnlySpan<byte> frame, in VnetHeader offload)
    {
        if (_closed) return;
        if (frame.Length > MaxTxSlotFrame) { Interlocked.Increment(ref _txDrops); return; }
        byte* slot = _tx + (nint)_txNext * TxFrameSize;
        uint status = Volatile.Read(ref *(uint*)(slot + HdrStatus));
        if (status != TP_STATUS_AVAILABLE && status != TP_STATUS_WRONG_FORMAT)
        {
            // The kernel still owns this slot: hand over what is pending and wait until it is sent.
            DrainRing();
            status = Volatile.Read(ref *(uint*)(slot + HdrStatus));
            if (status != TP_STATUS_AVAILABLE && status != TP_STATUS_WRONG_FORMAT) { Interlocked.Increment(ref _txDrops); return; }
        }
        byte* data = slot + TxDataOffset;
        // hdr_len = the whole frame: the kernel copies it into the skb's linear part instead of lending it the ring's
        // pages as zero-copy fragments, which a veth would copy again for the peer.
        (offload with { HdrLen = (ushort)frame.Length }).Write(new Span<byte>(data, VnetHeader.Length));
        FrameCopy.Copy(frame, new Span<byte>(data + VnetHeader.Length, MaxTxSlotFrame));
        *(uint*)(slot + HdrLen) = (uint)(frame.Length + VnetHeader.Length);
        Volatile.Write(ref *(uint*)(slot + HdrStatus), TP_STATUS_SEND_REQUEST);
        _txNext = _txNext + 1 == TxFrames ? 0 : _txNext + 1;
        if (_handOver.Add() >= TxBatch) Flush();
    }

    /// <summary>Hands the ring's pending frames to the kernel and waits until it has sent them.</summary>
    private void DrainRing()
    {
        if (!_handOver.Pending) return;
        _handOver.Clear();
        while (send(_fd, null, 0, 0) < 0 && Marshal.GetLastPInvokeError() == EINTR) { }
    }

    /// <summary>
    /// Hands the frames written into the TX ring to the kernel (one send()); nothing when none is pending.
    /// Thread-safe: while one thread hands frames over, another's flush leaves its frames to it
    /// (<see cref="TxHandOver"/>) instead of spinning on the socket's ring mutex.
    /// </summary>
    public void Flush()
    {
        if (_closed) return;
        _handOver.Flush();
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
        _handshake?.Dispose();
        close(_fd);
        // The mapping stays: a receive thread may still be reading it until it notices _closed; the process ends soon.
    }

}
