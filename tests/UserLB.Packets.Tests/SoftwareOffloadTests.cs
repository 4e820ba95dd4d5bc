using System.Buffers.Binary;
using System.Net;
using PacketDotNet;
using UserLB.Packets;

namespace UserLB.Packets.Tests;

public class SoftwareOffloadTests
{
    private const int Mtu = 1500;
    private const byte Cwr = 0x80;
    private const byte Ece = 0x40;
    private const byte NeedsCsum = VnetHeader.FlagNeedsChecksum;

    private static readonly byte[] Src4 = [192, 168, 101, 1];
    private static readonly byte[] Dst4 = [192, 168, 101, 250];
    private static readonly byte[] Src6 = IPAddress.Parse("2001:db8::1").GetAddressBytes();
    private static readonly byte[] Dst6 = IPAddress.Parse("2001:db8::250").GetAddressBytes();

    /// <summary>Keeps a copy of every emitted frame.</summary>
    private struct Collector : IFrameEmitter
    {
        public List<byte[]> Frames;
        public readonly void Emit(ReadOnlySpan<byte> frame) => Frames.Add(frame.ToArray());
    }

    /// <summary>Counts and sums emitted frames without allocating.</summary>
    private struct Counter : IFrameEmitter
    {
        public int Count;
        public int Longest;
        public void Emit(ReadOnlySpan<byte> frame) { Count++; Longest = Math.Max(Longest, frame.Length); }
    }

    /// <summary>One super-frame to build: family, transport, payload size and the header details that matter to GSO.</summary>
    public sealed record Spec(bool V6, bool Udp, int Payload, bool Vlan = false, int IpOptions = 0, int TcpOptions = 12,
        byte Flags = TcpFlags.Ack | TcpFlags.Psh, uint Seq = 0xFFFF_0000, ushort Id = 0xFFF0)
    {
        public int L3 => Offsets.EthHeader + (Vlan ? Offsets.VlanHeader : 0);
        public int IpHeader => V6 ? Offsets.Ip6Header : Offsets.Ip4MinHeader + IpOptions;
        public int L4 => L3 + IpHeader;
        public int L4Header => Udp ? Offsets.UdpHeader : Offsets.TcpMinHeader + TcpOptions;
        public int Headers => L4 + L4Header;
        public byte Protocol => Udp ? IpProtocols.Udp : IpProtocols.Tcp;
        public int CsumField => Udp ? Offsets.UdpChecksum : Offsets.TcpChecksum;
    }

    /// <summary>The folded pseudo-header sum, word by word (independent of Checksum.PseudoHeader*).</summary>
    private static ushort FoldedPseudo(bool v6, byte protocol, int l4Length) =>
        FoldedPseudo(v6 ? Src6 : Src4, v6 ? Dst6 : Dst4, protocol, l4Length);

    private static ushort FoldedPseudo(ReadOnlySpan<byte> src, ReadOnlySpan<byte> dst, byte protocol, int l4Length)
    {
        uint sum = protocol + (uint)(l4Length & 0xFFFF) + (uint)(l4Length >> 16);
        for (int i = 0; i < src.Length; i += 2)
            sum += (uint)((src[i] << 8) | src[i + 1]) + (uint)((dst[i] << 8) | dst[i + 1]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>A super-frame as a veth hands it to a packet socket: lengths of the whole, checksum field partial (CHECKSUM_PARTIAL).</summary>
    private static byte[] SuperFrame(Spec s, int seed = 1)
    {
        var f = new byte[s.Headers + s.Payload];
        byte[] dstMac = [0x02, 0, 0, 0, 0, 0x01], srcMac = [0x02, 0, 0, 0, 0, 0xFE];
        dstMac.CopyTo(f, 0);
        srcMac.CopyTo(f, 6);
        ushort etherType = s.V6 ? EtherTypes.Ipv6 : EtherTypes.Ipv4;
        if (s.Vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypes.Vlan);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 0x2064); // PCP 1, VID 100
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(s.L3 - 2), etherType);
        int l4Length = s.L4Header + s.Payload;
        var ip = f.AsSpan(s.L3, s.IpHeader);
        if (s.V6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], l4Length > 0xFFFF ? (ushort)0 : (ushort)l4Length);
            ip[6] = s.Protocol;
            ip[7] = 64;
            Src6.CopyTo(ip[8..]);
            Dst6.CopyTo(ip[24..]);
        }
        else
        {
            ip[0] = (byte)(0x40 | (s.IpHeader / 4));
            int total = s.IpHeader + l4Length;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], total > 0xFFFF ? (ushort)0 : (ushort)total);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], s.Id);
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // DF
            ip[8] = 64;
            ip[9] = s.Protocol;
            Src4.CopyTo(ip[12..]);
            Dst4.CopyTo(ip[16..]);
            ip[20..].Fill(1); // options: NOPs
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip));
        }
        var l4 = f.AsSpan(s.L4);
        BinaryPrimitives.WriteUInt16BigEndian(l4, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(l4[2..], 443);
        if (s.Udp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4[4..], l4Length > 0xFFFF ? (ushort)0 : (ushort)l4Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(l4[4..], s.Seq);
            BinaryPrimitives.WriteUInt32BigEndian(l4[8..], 0x0102_0304);
            l4[12] = (byte)((s.L4Header / 4) << 4);
            l4[13] = s.Flags;
            BinaryPrimitives.WriteUInt16BigEndian(l4[14..], 0x1000);
            var options = l4[20..s.L4Header];
            options.Fill(1); // NOPs
            if (s.TcpOptions >= 12)
            {
                options[2] = 8; // timestamps
                options[3] = 10;
                BinaryPrimitives.WriteUInt32BigEndian(options[4..], 0xA1B2C3D4);
                BinaryPrimitives.WriteUInt32BigEndian(options[8..], 0x01020304);
            }
        }
        new Random(seed).NextBytes(f.AsSpan(s.Headers));
        BinaryPrimitives.WriteUInt16BigEndian(l4[s.CsumField..], FoldedPseudo(s.V6, s.Protocol, l4Length));
        return f;
    }

    private static VnetHeader Gso(Spec s, ushort gsoSize, bool ecn = false) => new(NeedsCsum,
        (byte)((s.Udp ? VnetHeader.GsoUdpL4 : s.V6 ? VnetHeader.GsoTcpV6 : VnetHeader.GsoTcpV4) | (ecn ? VnetHeader.GsoEcn : 0)),
        (ushort)s.Headers, gsoSize, (ushort)s.L4, (ushort)s.CsumField);

    private static (DropReason Reason, List<byte[]> Frames) Run(byte[] frame, VnetHeader offload, int mtu = Mtu)
    {
        var collector = new Collector { Frames = [] };
        var scratch = new byte[SoftwareOffload.MaxSegmentFrame];
        var reason = SoftwareOffload.Emit(frame, offload, mtu, scratch, ref collector);
        return (reason, collector.Frames);
    }

    /// <summary>Checks each segment as the kernel's software GSO makes it for MTU 1500, and that the payloads add up to the original's.</summary>
    private static void AssertSegments(Spec s, byte[] original, List<byte[]> segments, int gsoSize)
    {
        int mss = Math.Min(gsoSize, Mtu - s.IpHeader - s.L4Header); // TCPv6 with timestamps: 1428 of a gso_size of 1448
        int expectedCount = Math.Max(1, (s.Payload + mss - 1) / mss);
        Assert.Equal(expectedCount, segments.Count);
        var payload = new List<byte>(s.Payload);
        for (int i = 0; i < segments.Count; i++)
        {
            var seg = segments[i];
            bool first = i == 0, last = i == segments.Count - 1;
            int chunk = last ? s.Payload - i * mss : mss;
            Assert.Equal(s.Headers + chunk, seg.Length);
            Assert.True(seg.Length - s.L3 <= Mtu, $"segment {i} longer than the MTU");
            // Ethernet (and VLAN tag), addresses, ports, options: the bytes not rewritten are the super-frame's.
            Assert.Equal(original.AsSpan(0, s.L3).ToArray(), seg.AsSpan(0, s.L3).ToArray());
            Assert.Equal(original.AsSpan(s.L3 + (s.V6 ? 8 : 12), s.V6 ? 32 : 8).ToArray(), seg.AsSpan(s.L3 + (s.V6 ? 8 : 12), s.V6 ? 32 : 8).ToArray());
            Assert.Equal(original.AsSpan(s.L4, 4).ToArray(), seg.AsSpan(s.L4, 4).ToArray());
            if (!s.Udp) Assert.Equal(original.AsSpan(s.L4 + 8, 5).ToArray(), seg.AsSpan(s.L4 + 8, 5).ToArray()); // ack, data offset
            if (!s.Udp) Assert.Equal(original.AsSpan(s.L4 + 14, 2).ToArray(), seg.AsSpan(s.L4 + 14, 2).ToArray()); // window
            if (!s.Udp) Assert.Equal(original.AsSpan(s.L4 + 18, s.L4Header - 18).ToArray(), seg.AsSpan(s.L4 + 18, s.L4Header - 18).ToArray()); // urgent, options

            var packet = Packet.ParsePacket(LinkLayers.Ethernet, seg);
            if (s.V6)
            {
                var ip6 = packet.Extract<IPv6Packet>();
                Assert.Equal(s.L4Header + chunk, ip6.PayloadLength);
                Assert.Equal(Src6, ip6.SourceAddress.GetAddressBytes());
            }
            else
            {
                var ip4 = packet.Extract<IPv4Packet>();
                Assert.Equal(s.IpHeader + s.L4Header + chunk, ip4.TotalLength);
                Assert.Equal((ushort)(s.Id + i), ip4.Id);
                Assert.True(ip4.ValidIPChecksum, $"segment {i}: IPv4 header checksum");
                Assert.True(Checksum.Verifies(Checksum.Sum(seg.AsSpan(s.L3, s.IpHeader))));
                Assert.Equal(Dst4, ip4.DestinationAddress.GetAddressBytes());
            }
            if (s.Udp)
            {
                var udp = packet.Extract<UdpPacket>();
                Assert.Equal(s.L4Header + chunk, udp.Length);
                Assert.True(udp.ValidUdpChecksum, $"segment {i}: UDP checksum");
                Assert.NotEqual(0, udp.Checksum);
                payload.AddRange(udp.PayloadData);
            }
            else
            {
                var tcp = packet.Extract<TcpPacket>();
                Assert.Equal(unchecked(s.Seq + (uint)(i * mss)), tcp.SequenceNumber);
                Assert.True(tcp.ValidTcpChecksum, $"segment {i}: TCP checksum");
                byte expected = s.Flags;
                if (!first) expected &= unchecked((byte)~Cwr);
                if (!last) expected &= unchecked((byte)~(TcpFlags.Fin | TcpFlags.Psh));
                Assert.Equal(expected, seg[s.L4 + Offsets.TcpFlags]);
                payload.AddRange(tcp.PayloadData ?? []);
            }
            // The same verdict from our own sum over the pseudo-header and segment.
            Assert.True(Checksum.Verifies(Checksum.Sum(seg.AsSpan(s.L4), FoldedPseudo(s.V6, s.Protocol, seg.Length - s.L4))));
        }
        Assert.Equal(original.AsSpan(s.Headers).ToArray(), payload.ToArray());
    }

    // ---- CompleteChecksum ----

    public static TheoryData<string, byte[]> FullChecksumFrames() => new()
    {
        { "TCPv4", Frames.Tcp("192.168.101.1", "192.168.101.250", 40000, 443, syn: false, ack: true, payload: [1, 2, 3, 4, 5, 6, 7, 8]) },
        { "TCPv4 odd payload", Frames.Tcp("10.0.0.1", "10.0.0.2", 1234, 80, syn: false, ack: true, payload: [0xFF, 0xEE, 0xDD]) },
        { "TCPv6", Frames.Tcp("2001:db8::1", "2001:db8::250", 40000, 443, syn: false, ack: true, payload: [9, 8, 7, 6, 5]) },
        { "TCPv6 SYN", Frames.Tcp("2001:db8::1", "2001:db8::250", 40000, 443) },
        { "UDPv4", Frames.Udp("192.168.101.1", "192.168.101.250", 5000, 53, [1, 2, 3, 4, 5, 6, 7]) },
        { "UDPv6", Frames.Udp("2001:db8::1", "2001:db8::250", 5000, 53, [0xAB, 0xCD, 0xEF, 0x01]) },
        { "UDPv6 empty", Frames.Udp("2001:db8::1", "2001:db8::250", 5000, 53, []) },
    };

    /// <summary>The frame with its L4 checksum field replaced by the folded pseudo-header sum, as the kernel leaves a CHECKSUM_PARTIAL frame.</summary>
    private static (byte[] Partial, VnetHeader Offload, int PacketEnd) MakePartial(byte[] full)
    {
        Assert.Equal(DropReason.None, PacketParser.Parse(full, out var info));
        int field = info.Protocol == IpProtocols.Tcp ? Offsets.TcpChecksum : Offsets.UdpChecksum;
        var partial = (byte[])full.Clone();
        var ip = full.AsSpan(info.L3Offset);
        int addressLength = info.IsV6 ? 16 : 4;
        var src = ip.Slice(info.IsV6 ? Offsets.Ip6Src : Offsets.Ip4Src, addressLength);
        var dst = ip.Slice(info.IsV6 ? Offsets.Ip6Dst : Offsets.Ip4Dst, addressLength);
        BinaryPrimitives.WriteUInt16BigEndian(partial.AsSpan(info.L4Offset + field), FoldedPseudo(src, dst, info.Protocol, info.L4Length));
        Assert.NotEqual(Convert.ToHexString(full), Convert.ToHexString(partial));
        return (partial, VnetHeader.Partial(info.L4Offset, field), info.PacketEnd);
    }

    [Theory]
    [MemberData(nameof(FullChecksumFrames))]
    public void CompleteChecksum_KernelPartialChecksum_GivesTheFullChecksumBytes(string name, byte[] full)
    {
        var (partial, offload, packetEnd) = MakePartial(full);
        Assert.True(SoftwareOffload.CompleteChecksum(partial, packetEnd, offload), name);
        Assert.Equal(Convert.ToHexString(full), Convert.ToHexString(partial));
    }

    [Theory]
    [InlineData("192.168.101.1", "192.168.101.250")]
    [InlineData("2001:db8::1", "2001:db8::250")]
    public void CompleteChecksum_UdpSumComplementsToZero_WritesFFFF(string src, string dst)
    {
        var full = Frames.Udp(src, dst, 5000, 53, [1, 2, 3, 4, 0, 0]);
        Assert.Equal(DropReason.None, PacketParser.Parse(full, out var info));
        // Adding the checksum c to a payload word makes the sum 0xFFFF (S + ~S), whose complement is 0.
        ushort c = BinaryPrimitives.ReadUInt16BigEndian(full.AsSpan(info.L4Offset + Offsets.UdpChecksum));
        BinaryPrimitives.WriteUInt16BigEndian(full.AsSpan(info.PacketEnd - 2), c);
        BinaryPrimitives.WriteUInt16BigEndian(full.AsSpan(info.L4Offset + Offsets.UdpChecksum), 0xFFFF);
        var (partial, offload, packetEnd) = MakePartial(full);
        Assert.True(SoftwareOffload.CompleteChecksum(partial, packetEnd, offload));
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(partial.AsSpan(info.L4Offset + Offsets.UdpChecksum)));
        Assert.True(Checksum.Verifies(Checksum.Sum(partial.AsSpan(info.L4Offset, info.L4Length), FoldedPseudo(info.IsV6, IpProtocols.Udp, info.L4Length))));
    }

    [Fact]
    public void CompleteChecksum_NoPartialChecksum_TrueAndFrameUntouched()
    {
        var frame = Frames.Udp("192.168.101.1", "192.168.101.250", 5000, 53, [1, 2, 3]);
        var copy = (byte[])frame.Clone();
        Assert.True(SoftwareOffload.CompleteChecksum(frame, frame.Length, default));
        Assert.Equal(copy, frame);
    }

    public static TheoryData<string, int, int, int> FieldsOutsidePacket() => new()
    {
        // name, csum_start delta from the L4 offset, csum_offset, packetEnd delta from the real end
        { "start past the packet end", 1000, 16, 0 },
        { "field past the packet end", 0, 1000, 0 },
        { "field's second byte one past the end", 0, -1, 0 }, // -1: offset so that field + 2 == packetEnd + 1
        { "packet end beyond the frame", 0, 16, 1 },
        { "packet end negative", 0, 16, int.MinValue },
    };

    [Theory]
    [MemberData(nameof(FieldsOutsidePacket))]
    public void CompleteChecksum_FieldsOutsidePacket_FalseAndFrameUntouched(string name, int startDelta, int csumOffset, int endDelta)
    {
        var frame = Frames.Tcp("192.168.101.1", "192.168.101.250", 40000, 443, syn: false, ack: true, payload: [1, 2, 3]);
        Assert.Equal(DropReason.None, PacketParser.Parse(frame, out var info));
        int start = info.L4Offset + startDelta;
        if (csumOffset < 0) csumOffset = info.PacketEnd - start - 1;
        int packetEnd = endDelta == int.MinValue ? -1 : info.PacketEnd + endDelta;
        var copy = (byte[])frame.Clone();
        Assert.False(SoftwareOffload.CompleteChecksum(frame, packetEnd, VnetHeader.Partial(start, csumOffset)), name);
        Assert.Equal(copy, frame);
    }

    // ---- Emit: frames that are not GSO ----

    [Theory]
    [MemberData(nameof(FullChecksumFrames))]
    public void Emit_PartialChecksumFrameWithinMtu_EmittedOnceWithTheChecksumCompleted(string name, byte[] full)
    {
        var (partial, offload, _) = MakePartial(full);
        var (reason, frames) = Run(partial, offload);
        Assert.Equal(DropReason.None, reason);
        var frame = Assert.Single(frames);
        Assert.True(Convert.ToHexString(full) == Convert.ToHexString(frame), name);
    }

    [Fact]
    public void Emit_PaddedShortFrame_ChecksumOverThePacketOnlyAndPaddingKept()
    {
        var full = Frames.Udp("192.168.101.1", "192.168.101.250", 5000, 53, [1, 2, 3]);
        var (partial, offload, _) = MakePartial(full);
        var padded = new byte[60];
        partial.CopyTo(padded, 0);
        padded.AsSpan(partial.Length).Fill(0xA5);
        var (reason, frames) = Run(padded, offload);
        Assert.Equal(DropReason.None, reason);
        var frame = Assert.Single(frames);
        Assert.Equal(60, frame.Length);
        Assert.Equal(full, frame[..full.Length]);
        Assert.All(frame[full.Length..], b => Assert.Equal(0xA5, b));
    }

    public static TheoryData<string, byte[], VnetHeader> PlainFrames()
    {
        var big = SuperFrame(new Spec(V6: false, Udp: false, Payload: 8000));
        var bigV6 = SuperFrame(new Spec(V6: true, Udp: false, Payload: 60000));
        var small = Frames.Tcp("192.168.101.1", "192.168.101.250", 40000, 443);
        return new TheoryData<string, byte[], VnetHeader>
        {
            { "plain frame within the MTU", small, default },
            { "DATA_VALID only", small, new VnetHeader(VnetHeader.FlagDataValid, 0, 0, 0, 0, 0) },
            { "plain IPv4 frame over the MTU (jumbo)", big, default },
            { "plain IPv6 frame over the MTU (64 KB)", bigV6, default },
            { "garbage that is not a frame", [1, 2, 3], default },
        };
    }

    [Theory]
    [MemberData(nameof(PlainFrames))]
    public void Emit_PlainFrame_EmittedOnceUnchanged(string name, byte[] frame, VnetHeader offload)
    {
        var copy = (byte[])frame.Clone();
        var (reason, frames) = Run(frame, offload);
        Assert.Equal(DropReason.None, reason);
        Assert.True(copy.AsSpan().SequenceEqual(Assert.Single(frames)), name);
    }

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
