using UserLB.Packets;

namespace UserLB.Packets.Tests;

public class PacketParserTests
{
    public static TheoryData<string, byte[], DropReason> Cases()
    {
        var good = Frames.Tcp("192.168.101.1", "192.168.101.250", 40000, 443);
        var badIpSum = (byte[])good.Clone();
        badIpSum[24] ^= 0xFF;
        var frag = (byte[])good.Clone();
        frag[20] = 0x20; // MF
        var badIhl = (byte[])good.Clone();
        badIhl[14] = 0x44;
        var longTotal = (byte[])good.Clone();
        longTotal[16] = 0x05;
        return new TheoryData<string, byte[], DropReason>
        {
            { "valid IPv4 TCP SYN", good, DropReason.None },
            { "valid IPv6 UDP", Frames.Udp("2001:db8::1", "2001:db8::250", 5000, 53, [1, 2, 3]), DropReason.None },
            { "frame shorter than Ethernet", good[..10], DropReason.FrameTruncated },
            { "IPv4 header cut", good[..20], DropReason.Ipv4Truncated },
            { "IHL 4 words", badIhl, DropReason.Ipv4BadHeaderLength },
            { "total length beyond frame", longTotal, DropReason.Ipv4BadTotalLength },
            { "fragment (MF)", frag, DropReason.Ipv4Fragment },
            { "frame cut inside the TCP header (IP length says more)", good[..40], DropReason.Ipv4BadTotalLength },
            { "unknown ethertype", [.. good[..12], 0x88, 0xB5, .. good[14..]], DropReason.UnsupportedEtherType },
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parse_Table_GivesExpectedVerdict(string description, byte[] frame, DropReason expected)
    {
        Assert.True(expected == PacketParser.Parse(frame, out _), description);
    }

    [Fact]
    public void Parse_TcpSyn_ReadsFields()
    {
        var f = Frames.Tcp("192.168.101.1", "192.168.101.250", 40000, 443);
        Assert.Equal(DropReason.None, PacketParser.Parse(f, out var p));
        Assert.Equal(IpAddr.Parse("192.168.101.1"), p.Src);
        Assert.Equal(IpAddr.Parse("192.168.101.250"), p.Dst);
        Assert.Equal(40000, p.SrcPort);
        Assert.Equal(443, p.DstPort);
        Assert.Equal(TcpFlags.Syn, p.TcpFlags);
        Assert.Equal(DropReason.None, ChecksumVerifier.VerifyL4(f, p));
        Assert.True(ChecksumVerifier.Ipv4HeaderValid(f, p));
    }

    [Fact]
    public void VerifyL4_CorruptedPayload_IsBadChecksum()
    {
        var f = Frames.Tcp("192.168.101.1", "192.168.101.250", 40000, 443, syn: false, ack: true, payload: [1, 2, 3, 4]);
        f[^1] ^= 0x55;
        PacketParser.Parse(f, out var p);
        Assert.Equal(DropReason.L4BadChecksum, ChecksumVerifier.VerifyL4(f, p));
    }

    [Theory]
    [InlineData("192.168.101.1", "192.168.101.250", "10.0.0.9", "192.168.1.10")]
    [InlineData("2001:db8::1", "2001:db8::250", "2001:db8:1::9", "2001:db8:1::10")]
    public void Rewrite_SourceAndDestination_ChecksumsMatchFullRecompute(string src, string dst, string newSrc, string newDst)
    {
        var f = Frames.Tcp(src, dst, 40000, 443, syn: false, ack: true, payload: [9, 8, 7]);
        PacketParser.Parse(f, out var p);
        PacketRewriter.SetSource(f, ref p, IpAddr.Parse(newSrc), 50000);
        PacketRewriter.SetDestination(f, ref p, IpAddr.Parse(newDst), 8443);
        Assert.Equal(DropReason.None, PacketParser.Parse(f, out var q));
        Assert.Equal(IpAddr.Parse(newSrc), q.Src);
        Assert.Equal(8443, q.DstPort);
        Assert.Equal(DropReason.None, ChecksumVerifier.VerifyL4(f, q));
        if (!q.IsV6) Assert.True(ChecksumVerifier.Ipv4HeaderValid(f, q));
    }

    [Fact]
    public void Rewrite_UdpZeroChecksumIpv4_StaysZero()
    {
        var f = Frames.Udp("192.168.101.1", "192.168.101.250", 5000, 53, [1, 2, 3]);
        PacketParser.Parse(f, out var p);
        f[p.L4Offset + 6] = 0;
        f[p.L4Offset + 7] = 0;
        PacketRewriter.SetDestination(f, ref p, IpAddr.Parse("192.168.1.10"), 5353);
        Assert.Equal(0, f[p.L4Offset + 6] | f[p.L4Offset + 7]);
    }

    [Fact]
    public void RewriteTcpUdp_RandomFlows_SameBytesAsSetSourceThenSetDestination()
    {
        var rnd = new Random(11);
        string[] v4 = ["192.168.101.1", "192.168.101.250", "10.0.0.9", "192.168.1.10", "0.0.0.1", "255.255.255.254"];
        string[] v6 = ["2001:db8::1", "2001:db8::250", "2001:db8:1::9", "ffff:ffff::ffff", "::1", "2001:db8:1::10"];
        for (int n = 0; n < 2000; n++)
        {
            var pool = (n & 1) == 0 ? v4 : v6;
            string Pick() => pool[rnd.Next(pool.Length)];
            ushort Port() => (ushort)(rnd.Next(3) == 0 ? 443 : rnd.Next(1, 65536));
            var payload = new byte[rnd.Next(0, 40)];
            rnd.NextBytes(payload);
            var f = (n & 2) == 0
                ? Frames.Tcp(Pick(), Pick(), Port(), Port(), syn: false, ack: true, payload: payload)
                : Frames.Udp(Pick(), Pick(), Port(), Port(), payload);
            PacketParser.Parse(f, out var p);
            if ((n & 2) != 0 && (n & 4) != 0 && !p.IsV6) { f[p.L4Offset + 6] = 0; f[p.L4Offset + 7] = 0; } // no UDP checksum
            var g = (byte[])f.Clone();
            var q = p;
            IpAddr src = rnd.Next(3) == 0 ? p.Src : IpAddr.Parse(Pick()), dst = rnd.Next(3) == 0 ? p.Dst : IpAddr.Parse(Pick());
            ushort sport = rnd.Next(2) == 0 ? p.SrcPort : Port(), dport = rnd.Next(2) == 0 ? p.DstPort : Port();
            PacketRewriter.SetSource(f, ref p, src, sport);
            PacketRewriter.SetDestination(f, ref p, dst, dport);
            PacketRewriter.RewriteTcpUdp(g, ref q, src, sport, dst, dport);
            Assert.Equal(Convert.ToHexString(f), Convert.ToHexString(g));
            Assert.Equal(p, q);
            Assert.Equal(DropReason.None, PacketParser.Parse(g, out var r));
            Assert.Equal(DropReason.None, ChecksumVerifier.VerifyL4(g, r));
            if (!r.IsV6) Assert.True(ChecksumVerifier.Ipv4HeaderValid(g, r));
        }
    }
}
