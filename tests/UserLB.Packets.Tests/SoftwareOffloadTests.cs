using System.Buffers.Binary;
using System.Net;
using PacketDotNet;
using UserLB.Packets;

namespace UserLB.Packets.Tests;

public partial class SoftwareOffloadTests
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
}
