using UserLB.IO.PcapFiles;
using static UserLB.IO.Tests.PcapFiles.TestRecords;

namespace UserLB.IO.Tests.PcapFiles;

public sealed class ClassicPcapReaderTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void TryReadNext_HandBuiltFile_ParsesEveryField(bool bigEndian, bool nanos)
    {
        byte[] first = Frame(42, 1);
        byte[] second = Frame(1514, 2);
        byte[] file = new ClassicPcapBuilder(bigEndian, nanos, linkType: (uint)LinkTypes.LinuxSll)
            .Record(1_700_000_000, nanos ? 123_456_789u : 123_456u, first, originalLength: 1500)
            .Record(4_000_000_000, 0, second)
            .ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.Equal(LinkTypes.LinuxSll, reader.LinkType);
        Assert.Equal(nanos, reader.NanosecondResolution);

        List<Rec> records = ReadAll(reader);
        Assert.Null(reader.Error);
        Assert.Equal(2, records.Count);
        Assert.Equal(1_700_000_000_123_456_000L + (nanos ? 789 : 0), records[0].TimestampNanos);
        Assert.Equal(first, records[0].Data);
        Assert.Equal(1500, records[0].OriginalLength);
        Assert.Equal(LinkTypes.LinuxSll, records[0].LinkType);
        Assert.Equal(0, records[0].InterfaceId);
        Assert.Equal(4_000_000_000_000_000_000L, records[1].TimestampNanos);
        Assert.Equal(second, records[1].Data);
        Assert.Equal(1514, records[1].OriginalLength);
        Assert.Equal(file.Length, reader.BytesRead);
    }

    [Fact]
    public void TryReadNext_LiteralBigEndianMicrosecondFile_ParsesRecord()
    {
        byte[] file =
        [
            0xA1, 0xB2, 0xC3, 0xD4, // magic (big-endian, microseconds)
            0x00, 0x02, 0x00, 0x04, // version 2.4
            0x00, 0x00, 0x00, 0x00, // thiszone
            0x00, 0x00, 0x00, 0x00, // sigfigs
            0x00, 0x00, 0xFF, 0xFF, // snaplen 65535
            0x00, 0x00, 0x00, 0x01, // LINKTYPE_ETHERNET
            0x65, 0x5F, 0x0E, 0x80, // ts_sec 1700728448
            0x00, 0x01, 0xE2, 0x40, // ts_usec 123456
            0x00, 0x00, 0x00, 0x04, // incl_len 4
            0x00, 0x00, 0x00, 0x3C, // orig_len 60
            0xDE, 0xAD, 0xBE, 0xEF,
        ];

        using PcapReader reader = ReaderFor(file);
        Assert.Equal(LinkTypes.Ethernet, reader.LinkType);
        Assert.False(reader.NanosecondResolution);
        Assert.True(reader.TryReadNext(out PcapRecord record));
        Assert.Equal(1_700_728_448_123_456_000L, record.TimestampNanos);
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, record.Data.ToArray());
        Assert.Equal(60, record.OriginalLength);
        Assert.False(reader.TryReadNext(out _));
        Assert.Null(reader.Error);
    }

    [Theory]
    [InlineData(0x0000_0001u, LinkTypes.Ethernet)]
    [InlineData(0x1000_0071u, LinkTypes.LinuxSll)] // FCS-present bits set above the link type
    [InlineData(0x0000_0065u, LinkTypes.Raw)]
    public void Open_LinkTypeField_MasksFcsBits(uint field, int expected)
    {
        byte[] file = new ClassicPcapBuilder(bigEndian: false, nanos: false, linkType: field).ToArray();
        using PcapReader reader = ReaderFor(file);
        Assert.Equal(expected, reader.LinkType);
        Assert.False(reader.TryReadNext(out _));
        Assert.Null(reader.Error);
    }

    [Theory]
    [InlineData(false, 1)] // one byte of the second record header
    [InlineData(false, 15)] // all but one byte of the second record header
    [InlineData(false, 16)] // header complete, no data
    [InlineData(false, 16 + 99)] // one byte of data missing
    [InlineData(true, 8)]
    [InlineData(true, 16 + 50)]
    public void TryReadNext_TruncatedSecondRecord_ReturnsFalseAndReportsOffset(bool bigEndian, int keptOfSecond)
    {
        var builder = new ClassicPcapBuilder(bigEndian, nanos: false).Record(1, 0, Frame(30, 1));
        int secondOffset = builder.Length;
        byte[] full = builder.Record(2, 0, Frame(100, 2)).Record(3, 0, Frame(10, 3)).ToArray();
        byte[] file = full[..(secondOffset + keptOfSecond)];

        using PcapReader reader = ReaderFor(file, "cut.pcap");
        Assert.True(reader.TryReadNext(out PcapRecord first));
        Assert.Equal(Frame(30, 1), first.Data.ToArray());

        Assert.False(reader.TryReadNext(out PcapRecord record));
        Assert.True(record.Data.IsEmpty);
        Assert.NotNull(reader.Error);
        Assert.Contains("cut.pcap", reader.Error);
        Assert.Contains("truncated", reader.Error);
        Assert.Contains("record #2", reader.Error);
        Assert.Contains($"byte offset {secondOffset}", reader.Error);

        // Stays stopped.
        Assert.False(reader.TryReadNext(out _));
        Assert.Equal(1, reader.RecordCount);
    }

    [Theory]
    [InlineData(262_145u)]
    [InlineData(1_000_000u)]
    [InlineData(0x7FFF_FFFFu)]
    [InlineData(0xFFFF_FFFFu)]
    public void TryReadNext_CaplenOver256KiB_SetsError(uint capturedLength)
    {
        var builder = new ClassicPcapBuilder(bigEndian: false, nanos: false).Record(1, 0, Frame(30, 1));
        int badOffset = builder.Length;
        byte[] file = builder.RawRecord(2, 0, capturedLength, capturedLength, Frame(64, 2)).ToArray();

        using PcapReader reader = ReaderFor(file, "big.pcap");
        Assert.True(reader.TryReadNext(out _));
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("big.pcap", reader.Error);
        Assert.Contains("record #2", reader.Error);
        Assert.Contains($"byte offset {badOffset}", reader.Error);
        Assert.Contains(capturedLength.ToString(), reader.Error);
    }

    [Fact]
    public void TryReadNext_CaplenExactly256KiB_Accepted()
    {
        byte[] file = new ClassicPcapBuilder(false, false, snapLength: 262144).Record(1, 0, Frame(262144, 5)).ToArray();
        using PcapReader reader = ReaderFor(file);
        Assert.True(reader.TryReadNext(out PcapRecord record));
        Assert.Equal(262144, record.CapturedLength);
        Assert.False(reader.TryReadNext(out _));
        Assert.Null(reader.Error);
    }

    [Fact]
    public void Open_EmptyFile_ThrowsNamingFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"userlb-empty-{Guid.NewGuid():N}.pcap");
        File.WriteAllBytes(path, []);
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => PcapReader.Open(path));
            Assert.Contains(path, ex.Message);
            Assert.Contains("empty", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0 }, "magic number 0x04034b50")] // a zip file
    [InlineData(new byte[] { 0x47, 0x45, 0x54, 0x20, 0x2F, 0x20, 0x48, 0x54, 0x54, 0x50 }, "not a pcap or pcapng")]
    [InlineData(new byte[] { 0xD4, 0xC3 }, "too short")]
    public void Open_BadMagic_ThrowsNamingFile(byte[] content, string expectedText)
    {
        string path = Path.Combine(Path.GetTempPath(), $"userlb-bad-{Guid.NewGuid():N}.pcap");
        File.WriteAllBytes(path, content);
        try
        {
            var ex = Assert.Throws<InvalidDataException>(() => PcapReader.Open(path));
            Assert.Contains(path, ex.Message);
            Assert.Contains(expectedText, ex.Message);

            // The file handle was released despite the failure.
            File.Delete(path);
            Assert.False(File.Exists(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(23)]
    public void Open_TruncatedFileHeader_Throws(int length)
    {
        byte[] file = new ClassicPcapBuilder(false, false).ToArray()[..length];
        var ex = Assert.Throws<InvalidDataException>(() => ReaderFor(file, "short.pcap"));
        Assert.Contains("short.pcap", ex.Message);
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void Open_UnsupportedMajorVersion_Throws()
    {
        byte[] file = new ClassicPcapBuilder(false, false).ToArray();
        file[4] = 3;
        var ex = Assert.Throws<InvalidDataException>(() => ReaderFor(file, "v3.pcap"));
        Assert.Contains("v3.pcap", ex.Message);
        Assert.Contains("version 3", ex.Message);
    }

    [Fact]
    public void Open_MissingFile_ThrowsFileNotFound()
    {
        string path = Path.Combine(Path.GetTempPath(), $"userlb-missing-{Guid.NewGuid():N}.pcap");
        Assert.Throws<FileNotFoundException>(() => PcapReader.Open(path));
    }

    [Fact]
    public void Dispose_LeaveOpenFalse_DisposesStream()
    {
        var ms = new MemoryStream(new ClassicPcapBuilder(false, false).ToArray());
        var reader = new PcapReader(ms);
        reader.Dispose();
        Assert.False(ms.CanRead);
        Assert.Throws<ObjectDisposedException>(() => reader.TryReadNext(out _));
    }

    [Fact]
    public void Dispose_LeaveOpenTrue_KeepsStream()
    {
        var ms = new MemoryStream(new ClassicPcapBuilder(false, false).ToArray());
        new PcapReader(ms, leaveOpen: true).Dispose();
        Assert.True(ms.CanRead);
    }
}
