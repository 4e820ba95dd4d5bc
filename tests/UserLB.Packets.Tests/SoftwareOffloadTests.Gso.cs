using System.Buffers.Binary;
using System.Net;
using PacketDotNet;
using UserLB.Packets;

namespace UserLB.Packets.Tests;

public partial class SoftwareOffloadTests
{
    // ---- Emit: GSO super-frames ----

    public static TheoryData<string, Spec, ushort, bool> TcpSuperFrames() => new()
    {
        { "TCPv4 64 KB", new Spec(V6: false, Udp: false, Payload: 64000), 1448, false },
        { "TCPv6 64 KB", new Spec(V6: true, Udp: false, Payload: 64000), 1448, false },
        { "TCPv4 64 KB, VLAN tag", new Spec(V6: false, Udp: false, Payload: 64000, Vlan: true), 1448, false },
        { "TCPv4 ECN: CWR on the first only, ECE on all", new Spec(V6: false, Udp: false, Payload: 64000, Flags: TcpFlags.Ack | TcpFlags.Psh | Cwr | Ece), 1448, true },
        { "TCPv6 FIN and PSH on the last only", new Spec(V6: true, Udp: false, Payload: 20000, Flags: TcpFlags.Ack | TcpFlags.Psh | TcpFlags.Fin), 1448, false },
        { "TCPv4 CWR without the ECN bit still cleared after the first", new Spec(V6: false, Udp: false, Payload: 5000, Flags: TcpFlags.Ack | Cwr), 1448, false },
        { "TCPv4 exact multiple of gso_size", new Spec(V6: false, Udp: false, Payload: 1448 * 10), 1448, false },
        { "TCPv4 no options", new Spec(V6: false, Udp: false, Payload: 10000, TcpOptions: 0), 1460, false },
        { "TCPv4 largest IPv4 packet", new Spec(V6: false, Udp: false, Payload: 65535 - 20 - 32), 1448, false },
    };

    [Theory]
    [MemberData(nameof(TcpSuperFrames))]
    public void Emit_TcpSuperFrame_SegmentsLikeKernelGso(string name, Spec spec, ushort gsoSize, bool ecn)
    {
        var frame = SuperFrame(spec);
        var (reason, frames) = Run(frame, Gso(spec, gsoSize, ecn));
        Assert.True(reason == DropReason.None, $"{name}: {reason}");
        AssertSegments(spec, frame, frames, gsoSize);
    }

    [Theory]
    [InlineData(false, 45, 288)] // 44 × 1448 + 288
    [InlineData(true, 45, 1168)] // 1500 - 40 - 32 = 1428 per segment: 44 × 1428 + 1168
    public void Emit_TcpSuperFrame64KGsoSize1448_FullSizeSegmentsThenTheRest(bool v6, int count, int lastPayload)
    {
        var spec = new Spec(V6: v6, Udp: false, Payload: 64000);
        var (_, frames) = Run(SuperFrame(spec), Gso(spec, 1448));
        Assert.Equal(count, frames.Count);
        Assert.All(frames[..^1], f => Assert.Equal(14 + 1500, f.Length));
        Assert.Equal(spec.Headers + lastPayload, frames[^1].Length);
    }

    public static TheoryData<string, Spec, ushort> UdpSuperFrames() => new()
    {
        { "UDPv4 64 KB", new Spec(V6: false, Udp: true, Payload: 64000), 1400 },
        { "UDPv6 64 KB", new Spec(V6: true, Udp: true, Payload: 64000), 1400 },
        { "UDPv4 VLAN, IPv4 options", new Spec(V6: false, Udp: true, Payload: 9000, Vlan: true, IpOptions: 8), 1200 },
        { "UDPv6 largest segments", new Spec(V6: true, Udp: true, Payload: 30000), 1452 },
    };

    [Theory]
    [MemberData(nameof(UdpSuperFrames))]
    public void Emit_UdpL4SuperFrame_EachSegmentItsOwnDatagram(string name, Spec spec, ushort gsoSize)
    {
        var frame = SuperFrame(spec);
        var (reason, frames) = Run(frame, Gso(spec, gsoSize));
        Assert.True(reason == DropReason.None, $"{name}: {reason}");
        AssertSegments(spec, frame, frames, gsoSize);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Emit_UdpSegmentSumComplementsToZero_WritesFFFF(bool v6)
    {
        var spec = new Spec(V6: v6, Udp: true, Payload: 1500);
        var frame = SuperFrame(spec);
        var (_, frames) = Run((byte[])frame.Clone(), Gso(spec, 1000));
        // Adding the first segment's checksum c to one of its payload words makes its sum 0xFFFF (S + ~S): complement 0.
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(frames[0].AsSpan(spec.L4 + Offsets.UdpChecksum));
        uint word = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(spec.Headers)) + (uint)c;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(spec.Headers), (ushort)((word & 0xFFFF) + (word >> 16)));
        var (reason, again) = Run(frame, Gso(spec, 1000));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(again[0].AsSpan(spec.L4 + Offsets.UdpChecksum)));
        AssertSegments(spec, frame, again, 1000);
    }

    public static TheoryData<string, Spec, ushort, int, int> OversizedGso() => new()
    {
        // name, spec, gso_size, mtu, expected payload per segment
        { "TCPv4 gso_size 9000, MTU 1500", new Spec(V6: false, Udp: false, Payload: 30000), 9000, 1500, 1500 - 20 - 32 },
        { "TCPv4 with IP options", new Spec(V6: false, Udp: false, Payload: 30000, IpOptions: 4), 9000, 1500, 1500 - 24 - 32 },
        { "TCPv6 gso_size 65535, MTU 9000", new Spec(V6: true, Udp: false, Payload: 60000), 65535, 9000, 9000 - 40 - 32 },
        { "TCPv4 MTU 9216 (scratch-sized segments, VLAN)", new Spec(V6: false, Udp: false, Payload: 60000, Vlan: true), 65535, 9216, 9216 - 20 - 32 },
        { "UDPv6 gso_size 4000, MTU 1280", new Spec(V6: true, Udp: true, Payload: 20000), 4000, 1280, 1280 - 40 - 8 },
        { "UDPv4 MTU 576", new Spec(V6: false, Udp: true, Payload: 5000), 1472, 576, 576 - 20 - 8 },
    };

    [Theory]
    [MemberData(nameof(OversizedGso))]
    public void Emit_GsoSizeAboveWhatTheMtuAllows_CutToTheMtu(string name, Spec spec, ushort gsoSize, int mtu, int mss)
    {
        var frame = SuperFrame(spec);
        var (reason, frames) = Run(frame, Gso(spec, gsoSize), mtu);
        Assert.True(reason == DropReason.None, $"{name}: {reason}");
        Assert.All(frames, f => Assert.True(f.Length - spec.L3 <= mtu, name));
        Assert.Equal(spec.L3 + mtu, frames[0].Length);
        AssertSegmentsAt(spec, frame, frames, mss);
    }

    /// <summary><see cref="AssertSegments"/> without its MTU-1500 bound, for the tests that set their own MTU.</summary>
    private static void AssertSegmentsAt(Spec spec, byte[] frame, List<byte[]> frames, int mss)
    {
        int count = (spec.Payload + mss - 1) / mss;
        Assert.Equal(count, frames.Count);
        var payload = new List<byte>();
        for (int i = 0; i < frames.Count; i++)
        {
            var seg = frames[i];
            Assert.Equal(spec.Headers + (i == count - 1 ? spec.Payload - i * mss : mss), seg.Length);
            Assert.True(Checksum.Verifies(Checksum.Sum(seg.AsSpan(spec.L4), FoldedPseudo(spec.V6, spec.Protocol, seg.Length - spec.L4))));
            if (!spec.V6) Assert.True(Checksum.Verifies(Checksum.Sum(seg.AsSpan(spec.L3, spec.IpHeader))));
            if (!spec.Udp) Assert.Equal(unchecked(spec.Seq + (uint)(i * mss)), BinaryPrimitives.ReadUInt32BigEndian(seg.AsSpan(spec.L4 + 4)));
            payload.AddRange(seg.AsSpan(spec.Headers).ToArray());
        }
        Assert.Equal(frame.AsSpan(spec.Headers).ToArray(), payload.ToArray());
    }

    [Fact]
    public void Emit_GsoPayloadWithinOneSegment_OneSegmentIsTheFrameWithItsChecksumCompleted()
    {
        var spec = new Spec(V6: false, Udp: false, Payload: 1000, Flags: TcpFlags.Ack | TcpFlags.Psh | Cwr);
        var frame = SuperFrame(spec);
        var expected = (byte[])frame.Clone();
        var offload = Gso(spec, 1448, ecn: true);
        Assert.True(SoftwareOffload.CompleteChecksum(expected, expected.Length, offload));
        var (reason, frames) = Run(frame, offload);
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(Assert.Single(frames)));
    }

    [Fact]
    public void Emit_TcpGsoWithoutPartialChecksum_SegmentsWithFullChecksumsAsTheKernelDoes()
    {
        var spec = new Spec(V6: true, Udp: false, Payload: 10000);
        var frame = SuperFrame(spec);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(spec.L4 + Offsets.TcpChecksum), 0xDEAD); // whatever the field holds
        var (reason, frames) = Run(frame, Gso(spec, 1448) with { Flags = 0, CsumStart = 0, CsumOffset = 0 });
        Assert.Equal(DropReason.None, reason);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(spec.L4 + Offsets.TcpChecksum), FoldedPseudo(true, IpProtocols.Tcp, spec.L4Header + spec.Payload));
        AssertSegments(spec, frame, frames, 1448);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Emit_BigTcpSuperFrameWithZeroLength_SegmentsToTheFrameEnd(bool v6)
    {
        var spec = new Spec(V6: v6, Udp: false, Payload: 80000);
        var frame = SuperFrame(spec); // IP length 0: above 64 KB
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(spec.L3 + (v6 ? 4 : 2))));
        var (reason, frames) = Run(frame, Gso(spec, 1448));
        Assert.Equal(DropReason.None, reason);
        AssertSegments(spec, frame, frames, 1448);
    }

    [Fact]
    public void Emit_SuperFrameWithEthernetPaddingAfterThePacket_PaddingNotSegmented()
    {
        var spec = new Spec(V6: false, Udp: true, Payload: 3000);
        var frame = SuperFrame(spec);
        var padded = new byte[frame.Length + 7];
        frame.CopyTo(padded, 0);
        padded.AsSpan(frame.Length).Fill(0xEE);
        var (reason, frames) = Run(padded, Gso(spec, 1000));
        Assert.Equal(DropReason.None, reason);
        AssertSegments(spec, frame, frames, 1000);
    }

    // ---- Emit: drops ----

    public static TheoryData<string, byte[], VnetHeader, DropReason> BadHeaders()
    {
        var t4 = new Spec(V6: false, Udp: false, Payload: 3000);
        var t6 = new Spec(V6: true, Udp: false, Payload: 3000);
        var u4 = new Spec(V6: false, Udp: true, Payload: 3000);
        var u6 = new Spec(V6: true, Udp: true, Payload: 3000);
        byte[] T4() => SuperFrame(t4);
        byte[] With(byte[] f, int offset, params byte[] bytes) { bytes.CopyTo(f, offset); return f; }
        var g4 = Gso(t4, 1448);
        var g6 = Gso(t6, 1448);
        var gu4 = Gso(u4, 1400);
        var arp = Frames.Tcp("192.168.101.1", "192.168.101.250", 40000, 443);
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(12), EtherTypes.Arp);
        var hopByHop = SuperFrame(t6);
        hopByHop[t6.L3 + Offsets.Ip6NextHeader] = IpProtocols.HopByHop;
        var small = Frames.Tcp("192.168.101.1", "192.168.101.250", 40000, 443, syn: false, ack: true, payload: [1, 2, 3]);
        int smallL4 = 14 + 20;
        var doffPast = With(T4()[..(t4.L4 + 40)], 16, 0x00, 20 + 40); // IPv4 total length: the packet ends 40 bytes into TCP
        doffPast[t4.L4 + 12] = 0xF0; // data offset 60 bytes
        var noHint = g4 with { HdrLen = 0 }; // frames cut shorter than the headers: hdr_len is not what is tested
        return new TheoryData<string, byte[], VnetHeader, DropReason>
        {
            // gso type against the packet
            { "UFO (GSO_UDP) is not taken", SuperFrame(u4), gu4 with { GsoType = VnetHeader.GsoUdp }, DropReason.VnetGsoMismatch },
            { "unknown gso type", T4(), g4 with { GsoType = 2 }, DropReason.VnetGsoMismatch },
            { "TCPV4 on an IPv6 packet", SuperFrame(t6), g6 with { GsoType = VnetHeader.GsoTcpV4 }, DropReason.VnetGsoMismatch },
            { "TCPV6 on an IPv4 packet", T4(), g4 with { GsoType = VnetHeader.GsoTcpV6 }, DropReason.VnetGsoMismatch },
            { "TCPV4 on a UDP packet", SuperFrame(u4), gu4 with { GsoType = VnetHeader.GsoTcpV4, CsumOffset = Offsets.UdpChecksum }, DropReason.VnetGsoMismatch },
            { "UDP_L4 on a TCP packet", T4(), g4 with { GsoType = VnetHeader.GsoUdpL4 }, DropReason.VnetGsoMismatch },
            { "TCPV4 on an ARP frame", arp, noHint, DropReason.VnetGsoMismatch },
            { "gso_size 0", T4(), g4 with { GsoSize = 0 }, DropReason.VnetGsoSizeZero },
            { "UDP_L4 with the ECN bit", SuperFrame(u4), gu4 with { GsoType = VnetHeader.GsoUdpL4 | VnetHeader.GsoEcn }, DropReason.VnetEcnUnsupported },
            { "UDP_L4 without NEEDS_CSUM", SuperFrame(u6), Gso(u6, 1400) with { Flags = 0 }, DropReason.VnetGsoWithoutChecksum },
            { "hdr_len beyond the frame", T4(), g4 with { HdrLen = 60000 }, DropReason.VnetBadHdrLen },
            // checksum fields
            { "GSO csum_start not at the TCP header", T4(), g4 with { CsumStart = (ushort)(t4.L4 + 4) }, DropReason.VnetBadChecksumStart },
            { "GSO csum_offset not the TCP checksum", T4(), g4 with { CsumOffset = 6 }, DropReason.VnetBadChecksumStart },
            { "GSO csum_offset not the UDP checksum", SuperFrame(u4), gu4 with { CsumOffset = 16 }, DropReason.VnetBadChecksumStart },
            { "csum_start past the packet", small, VnetHeader.Partial(small.Length, 16), DropReason.VnetBadChecksumStart },
            { "csum_offset past the packet", small, VnetHeader.Partial(smallL4, 60000), DropReason.VnetBadChecksumStart },
            { "csum field's last byte past the packet", small, VnetHeader.Partial(smallL4, small.Length - smallL4 - 1), DropReason.VnetBadChecksumStart },
            // L2 and L3
            { "shorter than Ethernet", T4()[..10], noHint, DropReason.FrameTruncated },
            { "VLAN tag cut", With(T4()[..16], 12, 0x81, 0x00), noHint, DropReason.VlanTruncated },
            { "IPv4 header cut", T4()[..30], noHint, DropReason.Ipv4Truncated },
            { "IPv4 version 5", With(T4(), 14, 0x55), g4, DropReason.Ipv4BadVersion },
            { "IPv4 IHL 4 words", With(T4(), 14, 0x44), g4, DropReason.Ipv4BadHeaderLength },
            { "IPv4 total length beyond the frame", T4()[..2000], g4, DropReason.Ipv4BadTotalLength },
            { "IPv4 total length below the header", With(T4(), 16, 0x00, 0x10), g4, DropReason.Ipv4BadTotalLength },
            { "IPv4 fragment (MF)", With(T4(), 20, 0x20, 0x00), g4, DropReason.Ipv4Fragment },
            { "IPv4 fragment (offset)", With(T4(), 20, 0x00, 0x10), g4, DropReason.Ipv4Fragment },
            { "non-GSO partial checksum, IPv4 length beyond the frame", small[..40], VnetHeader.Partial(smallL4, 16), DropReason.Ipv4BadTotalLength },
            { "IPv6 header cut", SuperFrame(t6)[..50], g6 with { HdrLen = 0 }, DropReason.Ipv6Truncated },
            { "IPv6 version 4", With(SuperFrame(t6), 14, 0x40), g6, DropReason.Ipv6BadVersion },
            { "IPv6 payload length beyond the frame", SuperFrame(t6)[..2000], g6, DropReason.Ipv6BadPayloadLength },
            { "IPv6 hop-by-hop extension header", hopByHop, g6, DropReason.UnsupportedProtocol },
            // L4
            { "TCP header cut", With(T4()[..(t4.L4 + 10)], 16, 0x00, (byte)(20 + 10)), noHint with { Flags = 0 }, DropReason.L4Truncated },
            { "TCP data offset 4 words", With(T4(), t4.L4 + 12, 0x40), g4, DropReason.TcpBadHeaderLength },
            { "TCP data offset past the packet", doffPast, g4 with { Flags = 0 }, DropReason.TcpBadHeaderLength },
            { "UDP header cut", With(SuperFrame(u4)[..(u4.L4 + 4)], 16, 0x00, (byte)(20 + 4)), gu4 with { HdrLen = 0 }, DropReason.L4Truncated },
        };
    }

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void Emit_BadHeader_DropsWithTheReasonAndEmitsNothing(string name, byte[] frame, VnetHeader offload, DropReason expected)
    {
        var copy = (byte[])frame.Clone();
        var (reason, frames) = Run(frame, offload);
        Assert.True(expected == reason, $"{name}: expected {expected}, got {reason}");
        Assert.Empty(frames);
        Assert.Equal(copy, frame);
    }

    // ---- Emit: arguments, robustness, allocation ----

    [Fact]
    public void Emit_ScratchSmallerThanMaxSegmentFrame_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>("scratch", () =>
        {
            var counter = new Counter();
            SoftwareOffload.Emit(new byte[100], default, Mtu, new byte[SoftwareOffload.MaxSegmentFrame - 1], ref counter);
        });
    }

    [Theory]
    [InlineData(SoftwareOffload.MinMtu - 1)]
    [InlineData(SoftwareOffload.MaxMtu + 1)]
    [InlineData(0)]
    public void Emit_MtuOutOfRange_Throws(int mtu)
    {
        Assert.Throws<ArgumentOutOfRangeException>(nameof(mtu), () =>
        {
            var counter = new Counter();
            SoftwareOffload.Emit(new byte[100], default, mtu, new byte[SoftwareOffload.MaxSegmentFrame], ref counter);
        });
    }

    [Fact]
    public void Emit_RandomlyDamagedFramesAndHeaders_NeverThrowsAndSegmentsFitTheMtu()
    {
        var rnd = new Random(42);
        var scratch = new byte[SoftwareOffload.MaxSegmentFrame];
        Spec[] specs =
        [
            new(V6: false, Udp: false, Payload: 5000), new(V6: true, Udp: false, Payload: 5000, Vlan: true),
            new(V6: false, Udp: true, Payload: 5000, IpOptions: 4), new(V6: true, Udp: true, Payload: 5000),
        ];
        for (int n = 0; n < 5000; n++)
        {
            var spec = specs[n % specs.Length];
            var frame = SuperFrame(spec, n);
            var offload = Gso(spec, (ushort)rnd.Next(0, 3000), ecn: rnd.Next(4) == 0);
            for (int k = rnd.Next(1, 4); k > 0; k--)
            {
                switch (rnd.Next(5))
                {
                    case 0: if (frame.Length > 0) frame[rnd.Next(Math.Min(frame.Length, spec.Headers + 4))] = (byte)rnd.Next(256); break;
                    case 1: frame = frame[..rnd.Next(frame.Length + 1)]; break;
                    case 2: offload = offload with { CsumStart = (ushort)rnd.Next(0x10000), CsumOffset = (ushort)rnd.Next(0x100) }; break;
                    case 3: offload = offload with { GsoType = (byte)rnd.Next(256), Flags = (byte)rnd.Next(4) }; break;
                    default: offload = offload with { HdrLen = (ushort)rnd.Next(0x10000) }; break;
                }
            }
            int mtu = rnd.Next(SoftwareOffload.MinMtu, SoftwareOffload.MaxMtu + 1);
            var counter = new Counter();
            var reason = SoftwareOffload.Emit(frame, offload, mtu, scratch, ref counter);
            if (reason != DropReason.None) Assert.Equal(0, counter.Count);
            else if (offload.IsGso) Assert.True(counter.Longest <= Offsets.EthHeader + Offsets.VlanHeader + mtu);
        }
    }

    [Fact]
    public void Emit_TcpSuperFrameWithStructEmitter_DoesNotAllocate()
    {
        var spec = new Spec(V6: false, Udp: false, Payload: 64000);
        var frame = SuperFrame(spec);
        var pristine = (byte[])frame.Clone();
        var offload = Gso(spec, 1448);
        var scratch = new byte[SoftwareOffload.MaxSegmentFrame];
        var counter = new Counter();
        SoftwareOffload.Emit(frame, offload, Mtu, scratch, ref counter); // JIT and first-call work
        var (partial, partialOffload, _) = MakePartial(Frames.Udp("2001:db8::1", "2001:db8::250", 5000, 53, [1, 2, 3]));
        SoftwareOffload.Emit(partial, partialOffload, Mtu, scratch, ref counter);
        counter = default;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            SoftwareOffload.Emit(frame, offload, Mtu, scratch, ref counter);
            SoftwareOffload.Emit(partial, partialOffload, Mtu, scratch, ref counter);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(20 * (45 + 1), counter.Count);
        Assert.Equal(pristine, frame); // a super-frame is read, never written
    }
}
