using System.Buffers.Binary;
using SharpPcap;
using SharpPcap.LibPcap;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>
/// libpcap through SharpPcap: immediate mode (no 1 s batching delay), a snaplen that takes a 64 KB super-frame whole,
/// a large kernel buffer, the <c>inbound</c> filter so the engine never reads its own sends; receive through the span
/// API, send with <c>SendPacket(ReadOnlySpan&lt;byte&gt;)</c> (no allocation). libpcap shows no virtio-net header, so
/// offloads are recognised from the frame (<see cref="Infer"/>) and done in software on the way out
/// (<see cref="SoftwareOffload"/>: checksums completed, super-frames cut to the interface's MTU), as the kernel's
/// software checksum and GSO do for a device without offloads.
/// </summary>
public sealed class PcapPort : IPortIo, IPortStats
{
    private readonly LibPcapLiveDevice _device;
    private readonly int _mtu;
    private readonly byte[] _scratch = new byte[SoftwareOffload.MaxSegmentFrame];
    private long _txDrops;

    public PcapPort(string name)
    {
        Name = name;
        Mac = Interfaces.MacOf(name);
        _mtu = Interfaces.MtuOf(name);
        LibPcapLiveDevice? found = null;
        foreach (var d in LibPcapLiveDeviceList.New())
            if (d.Name == name) found = d;
        _device = found ?? throw new InvalidOperationException($"libpcap does not list interface \"{name}\"");
        _device.Open(new DeviceConfiguration
        {
            Mode = DeviceModes.Promiscuous,
            Immediate = true,
            Snaplen = LiveForwarder.BufferSize,
            ReadTimeout = 5,
            BufferSize = 32 * 1024 * 1024,
        });
        _device.Filter = "inbound";
    }

    public string Name { get; }
    public MacAddress Mac { get; }

    /// <summary>Frames libpcap refused to send, or that could not be completed in software.</summary>
    public long TxDrops => Interlocked.Read(ref _txDrops);

    /// <summary>libpcap's drops (pcap_stats: ps_drop, the kernel's ring full, plus ps_ifdrop) and the sends it refused.</summary>
    public PortStats Stats
    {
        get
        {
            long kernel = 0;
            try
            {
                var st = _device.Statistics;
                if (st is not null) kernel = st.DroppedPackets + st.InterfaceDroppedPackets;
            }
            catch (PcapException)
            {
                // closed: nothing more is counted
            }
            return new PortStats(kernel, TxDrops, 0);
        }
    }

    public int Receive(Span<byte> buffer, out VnetHeader offload)
    {
        offload = default;
        var status = _device.GetNextPacket(out PacketCapture capture);
        if (status == GetPacketStatus.PacketRead)
        {
            var data = capture.Data;
            int n = Math.Min(data.Length, buffer.Length);
            FrameCopy.Copy(data[..n], buffer);
            offload = Infer(buffer[..n], _mtu);
            return n;
        }
        return status == GetPacketStatus.ReadTimeout ? 0 : status == GetPacketStatus.NoRemainingPackets ? -1 : 0;
    }

    /// <summary>
    /// The offload state of a frame seen without its virtio-net header: a TCP/UDP checksum field that holds the folded
    /// pseudo-header sum is a partial checksum (completing it gives the right checksum either way); an IP packet larger
    /// than <paramref name="mtu"/> carrying TCP is a super-frame, its segment size what the MTU leaves after the headers.
    /// </summary>
    public static VnetHeader Infer(ReadOnlySpan<byte> frame, int mtu)
    {
        if (PacketParser.ParseAnySize(frame, out var p) != DropReason.None || p.Kind != FrameKind.Ip || p.Protocol is not (IpProtocols.Tcp or IpProtocols.Udp))
            return default;
        int field = p.L4Offset + (p.Protocol == IpProtocols.Tcp ? Offsets.TcpChecksum : Offsets.UdpChecksum);
        ushort stored = BinaryPrimitives.ReadUInt16BigEndian(frame[field..]);
        bool partial = stored != 0 && stored == Checksum.Fold(ChecksumVerifier.PseudoHeaderSum(frame, p))
            && !Checksum.Verifies(Checksum.Sum(frame.Slice(p.L4Offset, p.L4Length), ChecksumVerifier.PseudoHeaderSum(frame, p)));
        bool super = p.IpLength > mtu && p.Protocol == IpProtocols.Tcp;
        if (!partial && !super) return default;
        byte flags = VnetHeader.FlagNeedsChecksum;
        byte gso = super ? (p.IsV6 ? VnetHeader.GsoTcpV6 : VnetHeader.GsoTcpV4) : VnetHeader.GsoNone;
        ushort size = super ? (ushort)Math.Max(1, mtu - (p.L4Offset - p.L3Offset) - p.TransportHeaderLength) : (ushort)0;
        // A super-frame with a full checksum is marked partial too: its segments get their checksums computed anew.
        return new VnetHeader(flags, gso, 0, size, (ushort)p.L4Offset, (ushort)(field - p.L4Offset));
    }

    public void Send(ReadOnlySpan<byte> frame, in VnetHeader offload)
    {
        if (offload.IsPlain)
        {
            SendPlain(frame);
            return;
        }
        // libpcap takes finished frames only: complete the checksum and segment here (the frame is ours to rewrite).
        var copy = System.Buffers.ArrayPool<byte>.Shared.Rent(frame.Length);
        try
        {
            frame.CopyTo(copy);
            var emitter = new Emitter(this);
            if (SoftwareOffload.Emit(copy.AsSpan(0, frame.Length), offload, _mtu, _scratch, ref emitter) != DropReason.None)
                Interlocked.Increment(ref _txDrops);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private void SendPlain(ReadOnlySpan<byte> frame)
    {
        try
        {
            _device.SendPacket(frame);
        }
        catch (PcapException)
        {
            Interlocked.Increment(ref _txDrops); // (larger than the MTU, or the interface went away)
        }
    }

    public void Flush()
    {
    }

    public void Dispose() => _device.Close();

    private readonly struct Emitter(PcapPort port) : IFrameEmitter
    {
        public void Emit(ReadOnlySpan<byte> frame) => port.SendPlain(frame);
    }
}
