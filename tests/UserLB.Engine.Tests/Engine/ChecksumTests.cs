using System.Buffers.Binary;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

public class ChecksumTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443,53","protocol":"all","mode":"snat",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
        """;

    private const int L4 = 14 + 20;

    private static byte[] Syn() => Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, TestFrames.Syn);

    private static EngineHarness Start()
    {
        var h = new EngineHarness(Farm);
        h.Learn(Bck0Mac, "192.168.1.10");
        return h;
    }

    [Theory]
    [InlineData("tcp", L4 + 16, DropReason.L4BadChecksum)]
    [InlineData("udp", L4 + 6, DropReason.L4BadChecksum)]
    [InlineData("tcp", 14 + 10, DropReason.Ipv4BadChecksum)]
    [InlineData("icmp", L4 + 2, DropReason.L4BadChecksum)]
    public void Process_CorruptChecksum_DroppedWithReason(string kind, int offset, DropReason reason)
    {
        var h = Start();
        var frame = kind switch
        {
            "tcp" => Syn(),
            "udp" => Udp(ClientMac, "192.168.101.1", "192.168.101.250", 5000, 53),
            _ => EchoRequest(ClientMac, "192.168.101.1", "192.168.101.250"),
        };
        frame[offset] ^= 0x5A;
        Assert.Empty(h.Process(frame, S));
        Assert.Equal(1, h.Counters.Drops[(int)reason]);
        Assert.Equal(1, h.Counters.Dropped);
        Assert.Empty(h.LiveEntries());
    }

    [Fact]
    public void Process_CorruptPayloadByte_L4BadChecksum()
    {
        var h = Start();
        var frame = Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, TestFrames.Syn, payload: 16);
        frame[^3] ^= 0x01;
        Assert.Empty(h.Process(frame, S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.L4BadChecksum]);
    }

    /// <summary>A CHECKSUM_PARTIAL frame: the L4 checksum field holds only the folded pseudo-header sum.</summary>
    private static byte[] Partial(byte[] frame, int field)
    {
        int l4Length = frame.Length - L4;
        uint pseudo = Pseudo(frame.AsSpan(14 + 12, 4), frame.AsSpan(14 + 16, 4), frame[14 + 9], l4Length);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(L4 + field), (ushort)pseudo);
        return frame;
    }

    [Fact]
    public void Process_PartialChecksumFrames_CountedAndOffloadEventOnce()
    {
        var h = Start();
        var events = new List<DropReason>();
        h.Engine.OffloadDetected += events.Add;
        Assert.Empty(h.Process(Partial(Syn(), 16), S));
        Assert.Empty(h.Process(Partial(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40001, 443, TestFrames.Syn, payload: 100), 16), S));
        Assert.Empty(h.Process(Partial(Udp(ClientMac, "192.168.101.1", "192.168.101.250", 5000, 53), 6), S));
        Assert.Equal(3, h.Counters.Drops[(int)DropReason.PartialChecksumOffload]);
        Assert.Equal(0, h.Counters.Drops[(int)DropReason.L4BadChecksum]);
        Assert.Equal([DropReason.PartialChecksumOffload], events);
        Assert.Empty(h.LiveEntries());
    }

    [Fact]
    public void Process_PartialChecksumThenGsoSuperFrame_OneEventPerKind()
    {
        var h = Start();
        var events = new List<DropReason>();
        h.Engine.OffloadDetected += events.Add;
        h.Process(Partial(Syn(), 16), S);
        var gso = Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40002, 443, TestFrames.Ack, payload: 20_000);
        h.Process(gso, S);
        h.Process(gso, S);
        Assert.Equal(2, h.Counters.Drops[(int)DropReason.GsoSuperFrame]);
        Assert.Equal([DropReason.PartialChecksumOffload, DropReason.GsoSuperFrame], events);
    }

    [Fact]
    public void Process_GsoSuperFrame_DroppedAndReported()
    {
        var h = Start();
        var events = new List<DropReason>();
        h.Engine.OffloadDetected += events.Add;
        Assert.Empty(h.Process(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40002, 443, TestFrames.Ack, payload: 20_000), S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.GsoSuperFrame]);
        Assert.Equal([DropReason.GsoSuperFrame], events);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(1401)]
    public void Process_ValidFrames_ForwardedWithValidChecksums(int payload)
    {
        var h = Start();
        var tcp = h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, TestFrames.Syn, payload: payload), S);
        Assert.Equal("192.168.1.10", Dst(tcp));
        var udp = h.Forward(Udp(ClientMac, "192.168.101.1", "192.168.101.250", 5000, 53, payload: payload), S);
        Assert.Equal("192.168.1.10", Dst(udp));
    }

    [Fact]
    public void Process_TtlOne_DroppedTtlExceeded()
    {
        var h = Start();
        Assert.Empty(h.Process(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, TestFrames.Syn, ttl: 1), S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.TtlExceeded]);
    }
}
