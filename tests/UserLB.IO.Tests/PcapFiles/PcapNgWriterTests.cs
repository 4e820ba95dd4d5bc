using System.Text;
using UserLB.IO.PcapFiles;
using static UserLB.IO.Tests.PcapFiles.TestRecords;

namespace UserLB.IO.Tests.PcapFiles;

public sealed class PcapNgWriterTests : IDisposable
{
    private const long Base = 1_700_000_000L * 1_000_000_000L;
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-pcapng-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Two interfaces, frames both ways with and without comments (one of two lines, one with non-ASCII text).</summary>
    private static byte[] Sample(bool nanos)
    {
        var ms = new MemoryStream();
        using (var w = new PcapNgWriter(ms, nanos, leaveOpen: true))
        {
            Assert.Equal(0, w.AddInterface("input", description: "frames arriving at the LB"));
            Assert.Equal(1, w.AddInterface("eth0"));
            w.Write(0, Base + 1_234_567, Frame(60, 1), PacketDirection.Inbound, "#1 farm app: NEW\nconntrack: [NEW] SYN_SENT");
            w.Write(1, Base + 1_234_567, Frame(54, 2), PacketDirection.Outbound, "#1 DNAT to 192.168.1.10:443");
            w.Write(1, Base + 2_000_000, Frame(1514, 3), PacketDirection.Outbound, "größe → ✓");
            w.Write(0, Base + 3_000_001, Frame(61, 4));
            Assert.Equal(4, w.RecordCount);
            Assert.Equal(["input", "eth0"], w.InterfaceNames);
        }
        return ms.ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Write_TwoInterfacesWithCommentsAndDirections_ReaderReadsThemBack(bool nanos)
    {
        using var reader = ReaderFor(Sample(nanos), "sample.pcapng");
        Assert.True(reader.IsPcapNg);
        Assert.Equal(nanos, reader.NanosecondResolution);
        var got = new List<(int If, long Ts, byte[] Data, PacketDirection Dir, string Comment)>();
        while (reader.TryReadNext(out var r))
            got.Add((r.InterfaceId, r.TimestampNanos, r.Data.ToArray(), r.Direction, Encoding.UTF8.GetString(r.Comments)));
        Assert.Null(reader.Error);
        Assert.Equal(2, reader.InterfaceCount);
        Assert.Equal("input", reader.InterfaceName(0));
        Assert.Equal("eth0", reader.InterfaceName(1));
        Assert.Null(reader.InterfaceName(2));
        long Round(long ns) => nanos ? ns : ns / 1000 * 1000;
        Assert.Equal(4, got.Count);
        Assert.Equal((0, Round(Base + 1_234_567), PacketDirection.Inbound, "#1 farm app: NEW\nconntrack: [NEW] SYN_SENT"), (got[0].If, got[0].Ts, got[0].Dir, got[0].Comment));
        Assert.Equal((1, Round(Base + 1_234_567), PacketDirection.Outbound, "#1 DNAT to 192.168.1.10:443"), (got[1].If, got[1].Ts, got[1].Dir, got[1].Comment));
        Assert.Equal((1, PacketDirection.Outbound, "größe → ✓"), (got[2].If, got[2].Dir, got[2].Comment));
        Assert.Equal((0, Round(Base + 3_000_001), PacketDirection.Unknown, ""), (got[3].If, got[3].Ts, got[3].Dir, got[3].Comment));
        Assert.Equal(Frame(60, 1), got[0].Data);
        Assert.Equal(Frame(1514, 3), got[2].Data);
    }

    [SkippableFact]
    public void Write_TwoInterfacesWithCommentsAndDirections_TsharkShowsNamesFlagsAndComments()
    {
        Skip.IfNot(Tshark.Available, Tshark.Missing);
        string path = Path.Combine(_dir, "sample.pcapng");
        File.WriteAllBytes(path, Sample(nanos: true));
        var frames = Tshark.Fields(path, "frame.interface_name", "frame.packet_flags_direction", "frame.comment", "frame.len", "frame.time_epoch");
        Assert.Equal(4, frames.Count);
        Assert.Equal(["input", "eth0", "eth0", "input"], frames.Select(f => f.One("frame.interface_name")));
        Assert.Equal([1L, 2L, 2L, null], frames.Select(f => f.Number("frame.packet_flags_direction")));
        Assert.Equal(["#1 farm app: NEW", "conntrack: [NEW] SYN_SENT"], frames[0].All("frame.comment"));
        Assert.Equal(["#1 DNAT to 192.168.1.10:443"], frames[1].All("frame.comment"));
        Assert.Equal(["größe → ✓"], frames[2].All("frame.comment"));
        Assert.Empty(frames[3].All("frame.comment"));
        Assert.Equal("1514", frames[2].One("frame.len"));
        Assert.StartsWith("1700000000.001234567", frames[0].One("frame.time_epoch"), StringComparison.Ordinal);
    }

    [Fact]
    public void Write_CommentLineLongerThanAnOption_CutAtACharacterBoundary()
    {
        // 40000 × "é" is 80000 UTF-8 bytes: the line is cut to whole characters within 65535 bytes.
        string line = new('é', 40_000);
        var ms = new MemoryStream();
        using (var w = new PcapNgWriter(ms, leaveOpen: true))
        {
            w.AddInterface("eth0");
            w.Write(0, Base, Frame(60, 1), PacketDirection.Outbound, line + "\nsecond");
        }
        using var reader = ReaderFor(ms.ToArray(), "long.pcapng");
        Assert.True(reader.TryReadNext(out var r));
        string comment = Encoding.UTF8.GetString(r.Comments);
        string[] lines = comment.Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Equal(65534 / 2, lines[0].Length);
        Assert.All(lines[0], c => Assert.Equal('é', c));
        Assert.Equal("second", lines[1]);
        Assert.Null(reader.Error);
    }

    [Fact]
    public void Write_FrameLongerThanSnapLength_TruncatedOriginalLengthKept()
    {
        var ms = new MemoryStream();
        using (var w = new PcapNgWriter(ms, leaveOpen: true))
        {
            w.AddInterface("eth0");
            w.Write(0, Base, Frame(PcapNgWriter.SnapLength + 100, 7));
        }
        using var reader = ReaderFor(ms.ToArray());
        Assert.True(reader.TryReadNext(out var r));
        Assert.Equal(PcapNgWriter.SnapLength, r.CapturedLength);
        Assert.Equal(PcapNgWriter.SnapLength + 100, r.OriginalLength);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    [InlineData(7)]
    public void Write_InterfaceThatDoesNotExist_ThrowsNamingIt(int id)
    {
        using var w = new PcapNgWriter(new MemoryStream());
        w.AddInterface("eth0");
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => w.Write(id, Base, Frame(60, 1)));
        Assert.Contains($"interface {id} does not exist; the file has 1 interface(s)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_SteadyStateWithoutComments_AllocatesNothing()
    {
        using var w = new PcapNgWriter(new MemoryStream(capacity: 4 * 1024 * 1024));
        w.AddInterface("eth0");
        byte[] frame = Frame(1000, 1);
        for (int i = 0; i < 100; i++) w.Write(0, i, frame, PacketDirection.Outbound);
        // Best of three rounds: a round may catch the JIT's one-time work (tier-up, OSR of this loop) once.
        long allocated = long.MaxValue;
        for (int round = 0; round < 3 && allocated > 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 300; i++) w.Write(0, i * 1000L, frame, PacketDirection.Outbound);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.Equal(0, allocated);
    }
}
