using System.Buffers.Binary;
using UserLB.Engine.Conntrack;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// Frames with offloads (virtio-net headers) through the engine. Each case runs the same traffic through two engines:
/// one gets the frames as a veth with offloads hands them over (a partial checksum: the field holds the pseudo-header
/// sum; or a GSO super-frame), the other the same frames with full checksums. What leaves the first, once its checksum is
/// completed here as the kernel would, must be the second's frame byte for byte, and it must leave with its offloads.
/// </summary>
public class OffloadTests
{
    private const string Farms = """
        {"farms":[
          {"name":"web","family":"FAMILY","virtual-addr":"VIP","virtual-ports":"80","protocol":"tcp","mode":"MODE","scheduler":"rr",
           "backends":[{"name":"b0","ip-addr":"B0","port":"8080"}]},
          {"name":"dns","family":"FAMILY","virtual-addr":"VIP","virtual-ports":"53","protocol":"udp","mode":"MODE","scheduler":"rr",
           "backends":[{"name":"b0","ip-addr":"B0","port":"5353"}]}]}
        """;

    /// <summary>One lab: addresses by family, a harness per variant (offloads, full checksums), the backend known to both.</summary>
    private sealed class Lab
    {
        public Lab(bool v6, string mode)
        {
            V6 = v6;
            string json = Farms.Replace("FAMILY", v6 ? "ipv6" : "ipv4", StringComparison.Ordinal).Replace("VIP", Vip, StringComparison.Ordinal)
                .Replace("B0", Backend, StringComparison.Ordinal).Replace("MODE", mode, StringComparison.Ordinal);
            Offloaded = new EngineHarness(json);
            Full = new EngineHarness(json);
            foreach (var h in new[] { Offloaded, Full })
                h.Process(v6 ? NeighborAdvertisement(Bck0Mac, Backend, Vip) : ArpReply(Bck0Mac, Backend), 0);
        }

        public bool V6 { get; }
        public string Vip => V6 ? "2001:db8::fa" : "192.168.101.250";
        public string Client => V6 ? "2001:db8::1" : "192.168.101.1";
        public string Backend => V6 ? "2001:db8:1::10" : "192.168.1.10";
        public EngineHarness Offloaded { get; }
        public EngineHarness Full { get; }

        /// <summary>A plain frame through both; both forward it the same.</summary>
        public byte[] Plain(byte[] frame, long now)
        {
            var a = Offloaded.Process(frame, now);
            var b = Full.Process(frame, now);
            Assert.Single(a);
            Assert.Equal(Convert.ToHexString(b.Single()), Convert.ToHexString(a[0]));
            return a[0];
        }

        /// <summary>
        /// The frame with a partial checksum (and <paramref name="gso"/>) through the first engine, with its full checksum
        /// through the second: the first's output, completed, is the second's; it leaves with its offloads.
        /// </summary>
        public byte[] Both(byte[] full, long now, VnetHeader gso = default)
        {
            var (partial, header) = MakePartial(full);
            header = header with { GsoType = gso.GsoType, GsoSize = gso.GsoSize, HdrLen = gso.HdrLen };
            var sent = Offloaded.Process(partial, now, header);
            Assert.True(sent.Count == 1, $"expected one frame out; drops: {Offloaded.DropSummary()}");
            var offloadOut = Offloaded.SentOffloads[^1];
            Assert.Equal(header, offloadOut);
            var completed = sent[0];
            Complete(completed, offloadOut);
            AssertChecksumsValid(completed);
            if (!gso.IsGso)
            {
                var expected = Full.Process(full, now);
                Assert.True(expected.Count == 1, $"full-checksum twin: drops {Full.DropSummary()}");
                Assert.Equal(Convert.ToHexString(expected[0]), Convert.ToHexString(completed));
            }
            return completed;
        }
    }

    /// <summary>A copy of a frame with a full TCP/UDP checksum as a veth with checksum offload hands it over.</summary>
    internal static (byte[] Frame, VnetHeader Header) MakePartial(byte[] full)
    {
        var f = (byte[])full.Clone();
        bool v6 = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12)) == EtherTypes.Ipv6;
        int l4 = 14 + (v6 ? 40 : (f[14] & 0xF) * 4);
        byte protocol = v6 ? f[14 + 6] : f[14 + 9];
        int length = v6 ? BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(18)) : BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)) - (l4 - 14);
        var src = v6 ? f.AsSpan(22, 16) : f.AsSpan(26, 4);
        var dst = v6 ? f.AsSpan(38, 16) : f.AsSpan(30, 4);
        int field = ChecksumField(protocol);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + field), (ushort)Pseudo(src, dst, protocol, length));
        return (f, VnetHeader.Partial(l4, field));
    }

    /// <summary>What the kernel or the peer does with a partial checksum: sum from csum_start to the end, seed included.</summary>
    internal static void Complete(byte[] frame, VnetHeader h)
    {
        Assert.True(h.NeedsChecksum, $"expected a partial checksum, got {h}");
        bool v6 = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == EtherTypes.Ipv6;
        int end = 14 + (v6 ? 40 + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(18)) : BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(16)));
        ushort c = Finish(Sum(frame.AsSpan(h.CsumStart, end - h.CsumStart), 0));
        if (c == 0 && frame[v6 ? 20 : 23] == IpProtocols.Udp) c = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(h.CsumStart + h.CsumOffset), c);
    }

    public static TheoryData<bool, string, byte> Variants()
    {
        var data = new TheoryData<bool, string, byte>();
        foreach (bool v6 in new[] { false, true })
        {
            foreach (string mode in new[] { "snat", "dnat" })
            {
                foreach (byte protocol in new[] { IpProtocols.Tcp, IpProtocols.Udp })
                    data.Add(v6, mode, protocol);
            }
        }

        return data;
    }

    /// <summary>Establishes a flow with plain frames (SYN, SYN-ACK, ACK; or a datagram and its answer) and returns the backend's view of the client.</summary>
    private static (string Src, ushort SrcPort) Establish(Lab lab, byte protocol, ushort port)
    {
        if (protocol == IpProtocols.Tcp)
        {
            var syn = lab.Plain(Tcp(ClientMac, lab.Client, lab.Vip, port, 80, Syn, seq: 1000), 0);
            var seen = (EngineHarness.Src(syn), EngineHarness.Tcp(syn).SourcePort);
            lab.Plain(Tcp(Bck0Mac, lab.Backend, seen.Item1, 8080, seen.Item2, (byte)(Syn | Ack), seq: 5000, ack: 1001), 1);
            lab.Plain(Tcp(ClientMac, lab.Client, lab.Vip, port, 80, Ack, seq: 1001, ack: 5001), 2);
            return seen;
        }
        var first = lab.Plain(Udp(ClientMac, lab.Client, lab.Vip, port, 53), 0);
        var view = (EngineHarness.Src(first), EngineHarness.Udp(first).SourcePort);
        lab.Plain(Udp(Bck0Mac, lab.Backend, view.Item1, 5353, view.Item2), 1);
        return view;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Process_PartialChecksumBothDirections_ForwardedPartialAndCompletesToTheFullChecksumTwin(bool v6, string mode, byte protocol)
    {
        var lab = new Lab(v6, mode);
        var (seenSrc, seenPort) = Establish(lab, protocol, 40001);
        for (int i = 0; i < 3; i++) // the general path first, then the established fast path once the next hops are cached
        {
            var toBackend = protocol == IpProtocols.Tcp
                ? Tcp(ClientMac, lab.Client, lab.Vip, 40001, 80, (byte)(Ack | Psh), seq: (uint)(1001 + 100 * i), ack: 5001, payload: 100)
                : Udp(ClientMac, lab.Client, lab.Vip, 40001, 53, payload: 100 + i);
            var out1 = lab.Both(toBackend, 10 + i);
            Assert.Equal(lab.Backend, EngineHarness.Dst(out1));
            var toClient = protocol == IpProtocols.Tcp
                ? Tcp(Bck0Mac, lab.Backend, seenSrc, 8080, seenPort, (byte)(Ack | Psh), seq: (uint)(5001 + 50 * i), ack: (uint)(1101 + 100 * i), payload: 50)
                : Udp(Bck0Mac, lab.Backend, seenSrc, 5353, seenPort, payload: 50 + i);
            var out2 = lab.Both(toClient, 20 + i);
            Assert.Equal(lab.Client, EngineHarness.Dst(out2));
            Assert.Equal(lab.Vip, EngineHarness.Src(out2));
        }
        Assert.Equal(6, lab.Offloaded.Counters.RxPartialChecksum);
    }

    public static TheoryData<bool, string, byte, int> SuperFrames()
    {
        var data = new TheoryData<bool, string, byte, int>();
        foreach (bool v6 in new[] { false, true })
        {
            foreach (string mode in new[] { "snat", "dnat" })
            {
                data.Add(v6, mode, IpProtocols.Tcp, 64000);
                data.Add(v6, mode, IpProtocols.Udp, 30000);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SuperFrames))]
    public void Process_GsoSuperFrame_LeavesAsOneSuperFrameTranslatedAndCountsItsSegments(bool v6, string mode, byte protocol, int payload)
    {
        var lab = new Lab(v6, mode);
        var (seenSrc, seenPort) = Establish(lab, protocol, 40002);
        ushort gsoSize = 1448;
        byte kind = protocol == IpProtocols.Udp ? VnetHeader.GsoUdpL4 : v6 ? VnetHeader.GsoTcpV6 : VnetHeader.GsoTcpV4;
        int headers = (v6 ? 40 : 20) + (protocol == IpProtocols.Tcp ? 20 : 8);
        var entryBefore = lab.Offloaded.SingleEntry();
        for (int i = 0; i < 2; i++)
        {
            var super = protocol == IpProtocols.Tcp
                ? Tcp(ClientMac, lab.Client, lab.Vip, 40002, 80, Ack, seq: (uint)(1001 + payload * i), ack: 5001, payload: payload)
                : Udp(ClientMac, lab.Client, lab.Vip, 40002, 53, payload: payload);
            var sent = lab.Both(super, 10 + i, new VnetHeader(0, kind, (ushort)(14 + headers), gsoSize, 0, 0));
            Assert.Equal(super.Length, sent.Length);
            Assert.Equal(lab.Backend, EngineHarness.Dst(sent));
            Assert.Equal(mode == "snat" ? lab.Vip : lab.Client, EngineHarness.Src(sent));
            var back = protocol == IpProtocols.Tcp
                ? Tcp(Bck0Mac, lab.Backend, seenSrc, 8080, seenPort, Ack, seq: 5001, ack: (uint)(1001 + payload * (i + 1)))
                : Udp(Bck0Mac, lab.Backend, seenSrc, 5353, seenPort);
            lab.Plain(back, 20 + i);
        }
        int segments = (payload + gsoSize - 1) / gsoSize;
        var entry = lab.Offloaded.SingleEntry();
        Assert.Equal(entryBefore.OriginalPackets + 2UL * (ulong)segments, entry.OriginalPackets);
        Assert.Equal(entryBefore.OriginalBytes + 2UL * (ulong)(payload + segments * headers), entry.OriginalBytes);
        Assert.Equal(2, lab.Offloaded.Counters.RxGsoFrames);
        Assert.Equal(2L * segments, lab.Offloaded.Counters.RxGsoSegments);
    }

    [Fact]
    public void Process_DataValidWithAnyChecksum_TrustedAndSentWithoutTheFlag()
    {
        var lab = new Lab(false, "snat");
        Establish(lab, IpProtocols.Udp, 40003);
        var frame = Udp(ClientMac, lab.Client, lab.Vip, 40003, 53, payload: 20);
        frame[^1] ^= 0xFF; // the checksum no longer verifies: the kernel said it did (CHECKSUM_UNNECESSARY)
        var sent = lab.Offloaded.Process(frame, 10, new VnetHeader(VnetHeader.FlagDataValid, 0, 0, 0, 0, 0));
        Assert.Single(sent);
        Assert.True(lab.Offloaded.SentOffloads[^1].IsPlain);
        Assert.Equal(0, lab.Offloaded.Counters.Drops[(int)DropReason.L4BadChecksum]);
    }

    /// <summary>Bad virtio-net headers, each a counted drop with its reason.</summary>
    public static TheoryData<string, VnetHeader, DropReason> BadHeaders()
    {
        // The frame: IPv4 TCP to port 80 (L4 at 34, checksum field at +16), 100 bytes of payload: 154 bytes.
        return new TheoryData<string, VnetHeader, DropReason>
        {
            { "csum_start beyond the frame", new VnetHeader(1, 0, 0, 0, 400, 16), DropReason.VnetBadChecksumStart },
            { "csum_offset beyond the frame", new VnetHeader(1, 0, 0, 0, 34, 200), DropReason.VnetBadChecksumStart },
            { "csum_start not at the transport header", new VnetHeader(1, 0, 0, 0, 14, 10), DropReason.VnetBadChecksumStart },
            { "csum_offset not TCP's checksum field", new VnetHeader(1, 0, 0, 0, 34, 6), DropReason.VnetBadChecksumStart },
            { "gso_size 0 with a gso_type", new VnetHeader(1, VnetHeader.GsoTcpV4, 0, 0, 34, 16), DropReason.VnetGsoSizeZero },
            { "hdr_len beyond the frame", new VnetHeader(1, 0, 1000, 0, 34, 16), DropReason.VnetBadHdrLen },
            { "TCPv6 GSO on an IPv4 packet", new VnetHeader(1, VnetHeader.GsoTcpV6, 0, 1448, 34, 16), DropReason.VnetGsoMismatch },
            { "UDP GSO on a TCP packet", new VnetHeader(1, VnetHeader.GsoUdpL4, 0, 1448, 34, 16), DropReason.VnetGsoMismatch },
            { "UFO (fragmentation offload)", new VnetHeader(1, VnetHeader.GsoUdp, 0, 1448, 34, 16), DropReason.VnetGsoMismatch },
            { "unknown gso_type", new VnetHeader(1, 9, 0, 1448, 34, 16), DropReason.VnetGsoMismatch },
            { "ECN without GSO", new VnetHeader(1, VnetHeader.GsoEcn, 0, 0, 34, 16), DropReason.VnetEcnUnsupported },
            { "ECN on UDP GSO", new VnetHeader(1, VnetHeader.GsoUdpL4 | VnetHeader.GsoEcn, 0, 1448, 34, 16), DropReason.VnetEcnUnsupported },
            { "GSO without a partial checksum", new VnetHeader(0, VnetHeader.GsoTcpV4, 0, 1448, 0, 0), DropReason.VnetGsoWithoutChecksum },
        };
    }

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void Process_BadVnetHeader_CountedDropWithItsReason(string what, VnetHeader header, DropReason reason)
    {
        var h = new EngineHarness(Farms.Replace("FAMILY", "ipv4", StringComparison.Ordinal).Replace("VIP", "192.168.101.250", StringComparison.Ordinal)
            .Replace("B0", "192.168.1.10", StringComparison.Ordinal).Replace("MODE", "snat", StringComparison.Ordinal));
        h.LearnBackends();
        var (frame, _) = MakePartial(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40004, 80, Syn, payload: 100));
        Assert.True(h.Process(frame, 0, header).Count == 0, what);
        Assert.Equal(1, h.Counters.Drops[(int)reason]);
    }

    [Fact]
    public void Process_TcpEcnSuperFrame_KeepsTheEcnBit()
    {
        var lab = new Lab(false, "snat");
        Establish(lab, IpProtocols.Tcp, 40005);
        var super = Tcp(ClientMac, lab.Client, lab.Vip, 40005, 80, Ack, seq: 1001, ack: 5001, payload: 20000);
        lab.Both(super, 10, new VnetHeader(0, VnetHeader.GsoTcpV4 | VnetHeader.GsoEcn, 54, 1448, 0, 0));
    }
}
