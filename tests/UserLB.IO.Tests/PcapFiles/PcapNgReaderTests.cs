using UserLB.IO.PcapFiles;
using static UserLB.IO.Tests.PcapFiles.TestRecords;

namespace UserLB.IO.Tests.PcapFiles;

public sealed class PcapNgReaderTests
{
    private const long BaseSeconds = 1_700_000_000;

    /// <summary>
    /// SHB, IDB#0 (Ethernet, default µs resolution), unknown block, IDB#1 (raw IP, if_tsresol=9),
    /// NRB, EPB on #0, EPB on #1 with options, SPB, ISB, custom block, EPB on #0.
    /// </summary>
    private static byte[] MixedFile(bool bigEndian) => new PcapNgBuilder()
        .Section(bigEndian)
        .Interface((ushort)LinkTypes.Ethernet, snapLength: 65535)
        .Block(0x0000_0BAD, b => b.Bytes(Frame(37, 99))) // unknown type: skipped
        .Interface((ushort)LinkTypes.Raw, snapLength: 0, tsResol: 9)
        .Block(PcapNgBuilder.NameResolutionType, b => b.U16(1).U16(8).Bytes([10, 0, 0, 1]).Bytes("a.b\0"u8).U16(0).U16(0))
        .EnhancedPacket(0, (ulong)((BaseSeconds * 1_000_000) + 123_456), Frame(60, 1))
        .EnhancedPacket(1, (ulong)((BaseSeconds * 1_000_000_000) + 123_456_789), Frame(41, 2), originalLength: 1400,
            withComment: true)
        .SimplePacket(Frame(61, 3), 61)
        .Block(PcapNgBuilder.InterfaceStatisticsType, b => b.U32(0).U32(0).U32(0))
        .Block(0x4000_0BAD, b => b.Bytes(Frame(10_001, 7))) // custom block larger than any internal chunk
        .EnhancedPacket(0, (ulong)((BaseSeconds + 1) * 1_000_000), Frame(1514, 4))
        .ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TryReadNext_TwoInterfacesSpbAndUnknownBlocks_ReadsPacketsAndSkipsOthers(bool bigEndian)
    {
        byte[] file = MixedFile(bigEndian);
        using PcapReader reader = ReaderFor(file, "mixed.pcapng");
        Assert.True(reader.IsPcapNg);
        Assert.Equal(LinkTypes.Ethernet, reader.LinkType);
        Assert.False(reader.NanosecondResolution);

        List<Rec> records = ReadAll(reader);
        Assert.Null(reader.Error);
        Assert.Equal(file.Length, reader.BytesRead);
        Assert.Equal(
            [
                new Rec((BaseSeconds * 1_000_000_000) + 123_456_000, Frame(60, 1), 60, LinkTypes.Ethernet, 0),
                new Rec((BaseSeconds * 1_000_000_000) + 123_456_789, Frame(41, 2), 1400, LinkTypes.Raw, 1),
                new Rec(0, Frame(61, 3), 61, LinkTypes.Ethernet, 0),
                new Rec((BaseSeconds + 1) * 1_000_000_000, Frame(1514, 4), 1514, LinkTypes.Ethernet, 0),
            ],
            records,
            RecComparer.Instance);
    }

    [Theory]
    [InlineData((byte)6, 1_500_000UL, 1_500_000_000L, false)] // 10^-6 (explicit default)
    [InlineData((byte)9, 123UL, 123L, true)] // 10^-9
    [InlineData((byte)3, 5UL, 5_000_000L, false)] // milliseconds
    [InlineData((byte)0, 2UL, 2_000_000_000L, false)] // seconds
    [InlineData((byte)12, 5_000UL, 5L, true)] // picoseconds
    [InlineData((byte)0x8A, 1_024UL, 1_000_000_000L, false)] // 2^-10
    [InlineData((byte)0x9E, 1UL << 30, 1_000_000_000L, true)] // 2^-30
    [InlineData((byte)0x9E, 3UL << 29, 1_500_000_000L, true)]
    public void TryReadNext_IfTsresol_ConvertsToNanoseconds(byte tsResol, ulong raw, long expectedNanos,
        bool subMicrosecond)
    {
        byte[] file = new PcapNgBuilder()
            .Section(bigEndian: false)
            .Interface((ushort)LinkTypes.Ethernet, tsResol: tsResol)
            .EnhancedPacket(0, raw, Frame(20, 0))
            .ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.Equal(subMicrosecond, reader.NanosecondResolution);
        Assert.True(reader.TryReadNext(out PcapRecord record));
        Assert.Equal(expectedNanos, record.TimestampNanos);
    }

    [Theory]
    [InlineData(false, 1_000L)]
    [InlineData(true, -5L)]
    public void TryReadNext_IfTsoffset_AddsSeconds(bool bigEndian, long offsetSeconds)
    {
        byte[] file = new PcapNgBuilder()
            .Section(bigEndian)
            .Interface((ushort)LinkTypes.Ethernet, tsResol: 9, tsOffset: offsetSeconds)
            .EnhancedPacket(0, 10_000_000_000, Frame(20, 0))
            .ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.True(reader.TryReadNext(out PcapRecord record));
        Assert.Equal(10_000_000_000 + (offsetSeconds * 1_000_000_000), record.TimestampNanos);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void TryReadNext_MultipleSections_ResetsInterfacesAndByteOrder(bool firstBigEndian, bool secondBigEndian)
    {
        byte[] file = new PcapNgBuilder()
            .Section(firstBigEndian)
            .Interface((ushort)LinkTypes.Ethernet)
            .Interface((ushort)LinkTypes.LinuxSll)
            .EnhancedPacket(1, 1_000_000, Frame(30, 1))
            .Section(secondBigEndian)
            .Interface((ushort)LinkTypes.Raw, tsResol: 9)
            .EnhancedPacket(0, 7, Frame(31, 2))
            .SimplePacket(Frame(32, 3), 32)
            .ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.Equal(LinkTypes.Ethernet, reader.LinkType);
        List<Rec> records = ReadAll(reader);
        Assert.Null(reader.Error);
        Assert.Equal(
            [
                new Rec(1_000_000_000, Frame(30, 1), 30, LinkTypes.LinuxSll, 1),
                new Rec(7, Frame(31, 2), 31, LinkTypes.Raw, 0),
                new Rec(0, Frame(32, 3), 32, LinkTypes.Raw, 0),
            ],
            records,
            RecComparer.Instance);
    }

    [Fact]
    public void TryReadNext_InterfaceFromPreviousSection_IsCorruption()
    {
        byte[] file = new PcapNgBuilder()
            .Section(false)
            .Interface((ushort)LinkTypes.Ethernet)
            .Interface((ushort)LinkTypes.Ethernet)
            .Section(false)
            .Interface((ushort)LinkTypes.Ethernet)
            .EnhancedPacket(1, 0, Frame(10, 0))
            .ToArray();

        using PcapReader reader = ReaderFor(file, "sections.pcapng");
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("interface 1", reader.Error);
        Assert.Contains("record #1", reader.Error);
    }

    [Theory]
    [InlineData(0u, 64)] // snaplen 0 = unlimited: data length comes from the block
    [InlineData(64u, 64)]
    [InlineData(40u, 40)]
    public void TryReadNext_SimplePacketBlock_CapturedLengthLimitedBySnaplen(uint snapLength, int expectedLength)
    {
        byte[] file = new PcapNgBuilder()
            .Section(false)
            .Interface((ushort)LinkTypes.Ethernet, snapLength)
            .SimplePacket(Frame(64, 1), originalLength: 100)
            .ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.True(reader.TryReadNext(out PcapRecord record));
        Assert.Equal(expectedLength, record.CapturedLength);
        Assert.Equal(100, record.OriginalLength);
        Assert.True(record.Data.SequenceEqual(Frame(64, 1).AsSpan(0, expectedLength)));
        Assert.False(reader.TryReadNext(out _));
        Assert.Null(reader.Error);
    }

    [Fact]
    public void TryReadNext_LiteralBigEndianFile_ParsesRecord()
    {
        byte[] file =
        [
            // Section Header Block
            0x0A, 0x0D, 0x0D, 0x0A, 0x00, 0x00, 0x00, 0x1C, // type, total length 28
            0x1A, 0x2B, 0x3C, 0x4D, 0x00, 0x01, 0x00, 0x00, // byte-order magic, version 1.0
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // section length -1
            0x00, 0x00, 0x00, 0x1C,
            // Interface Description Block
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x14, // type 1, total length 20
            0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LINKTYPE_ETHERNET, reserved, snaplen 0
            0x00, 0x00, 0x00, 0x14,
            // Enhanced Packet Block
            0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x24, // type 6, total length 36
            0x00, 0x00, 0x00, 0x00, // interface 0
            0x00, 0x00, 0x00, 0x00, 0x00, 0x0F, 0x42, 0x40, // timestamp 1,000,000 µs
            0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05, // captured 3, original 5
            0xAA, 0xBB, 0xCC, 0x00, // data + padding
            0x00, 0x00, 0x00, 0x24,
        ];

        using PcapReader reader = ReaderFor(file);
        Assert.Equal(LinkTypes.Ethernet, reader.LinkType);
        Assert.True(reader.TryReadNext(out PcapRecord record));
        Assert.Equal(1_000_000_000L, record.TimestampNanos);
        Assert.Equal(new byte[] { 0xAA, 0xBB, 0xCC }, record.Data.ToArray());
        Assert.Equal(5, record.OriginalLength);
        Assert.False(reader.TryReadNext(out _));
        Assert.Null(reader.Error);
    }

    [Theory]
    [InlineData(false, 1)] // inside the block header
    [InlineData(false, 8)] // block header only
    [InlineData(false, 20)] // inside the fixed EPB fields
    [InlineData(false, 28 + 50)] // inside packet data
    [InlineData(false, 28 + 100)] // data complete, trailer missing
    [InlineData(true, 28 + 100 + 3)] // trailer incomplete
    [InlineData(true, 12)]
    public void TryReadNext_TruncatedEnhancedPacketBlock_ReturnsFalseAndReportsOffset(bool bigEndian, int keptOfBlock)
    {
        PcapNgBuilder builder = new PcapNgBuilder()
            .Section(bigEndian)
            .Interface((ushort)LinkTypes.Ethernet)
            .EnhancedPacket(0, 1, Frame(40, 1));
        int lastBlockOffset = builder.Length;
        byte[] full = builder.EnhancedPacket(0, 2, Frame(100, 2)).ToArray();
        byte[] file = full[..(lastBlockOffset + keptOfBlock)];

        using PcapReader reader = ReaderFor(file, "cut.pcapng");
        Assert.True(reader.TryReadNext(out PcapRecord first));
        Assert.Equal(Frame(40, 1), first.Data.ToArray());
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("cut.pcapng", reader.Error);
        Assert.Contains("truncated", reader.Error);
        Assert.Contains("record #2", reader.Error);
        Assert.Contains($"byte offset {lastBlockOffset}", reader.Error);
        Assert.False(reader.TryReadNext(out _));
    }

    [Fact]
    public void Open_TruncatedInterfaceBlock_ReportsErrorInsteadOfThrowing()
    {
        byte[] full = new PcapNgBuilder().Section(false).Interface((ushort)LinkTypes.Ethernet).ToArray();
        byte[] file = full[..^6];

        using PcapReader reader = ReaderFor(file, "cut.pcapng");
        Assert.Equal(LinkTypes.Unknown, reader.LinkType);
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("truncated", reader.Error);
    }

    [Theory]
    [InlineData(262_145u)]
    [InlineData(0xFFFF_FFF0u)]
    public void TryReadNext_EnhancedPacketCaplenOver256KiB_SetsError(uint capturedLength)
    {
        PcapNgBuilder builder = new PcapNgBuilder().Section(false).Interface((ushort)LinkTypes.Ethernet);
        int badOffset = builder.Length;
        byte[] file = builder
            .Block(PcapNgBuilder.EnhancedPacketType, b => b.U32(0).U32(0).U32(0).U32(capturedLength).U32(capturedLength)
                .Bytes(Frame(64, 0)))
            .ToArray();

        using PcapReader reader = ReaderFor(file, "big.pcapng");
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains(capturedLength.ToString(), reader.Error);
        Assert.Contains("262144", reader.Error);
        Assert.Contains($"byte offset {badOffset}", reader.Error);
    }

    [Fact]
    public void TryReadNext_SimplePacketOver256KiB_SetsError()
    {
        byte[] file = new PcapNgBuilder()
            .Section(false)
            .Interface((ushort)LinkTypes.Ethernet)
            .SimplePacket(Frame(262_148, 0), 262_148)
            .ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("262148", reader.Error);
    }

    [Fact]
    public void TryReadNext_CaplenLargerThanBlock_SetsError()
    {
        byte[] file = new PcapNgBuilder()
            .Section(false)
            .Interface((ushort)LinkTypes.Ethernet)
            .Block(PcapNgBuilder.EnhancedPacketType, b => b.U32(0).U32(0).U32(0).U32(200).U32(200).Bytes(Frame(64, 0)))
            .ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.False(reader.TryReadNext(out _));
        Assert.Contains("does not fit", reader.Error);
    }

    [Fact]
    public void TryReadNext_TrailerLengthMismatch_SetsError()
    {
        byte[] file = new PcapNgBuilder()
            .Section(false)
            .Interface((ushort)LinkTypes.Ethernet)
            .EnhancedPacket(0, 0, Frame(16, 0))
            .ToArray();
        file[^4] ^= 0x40; // corrupt the trailing block length

        using PcapReader reader = ReaderFor(file);
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("trailer", reader.Error);
    }

    [Theory]
    [InlineData(13u)]
    [InlineData(8u)]
    public void TryReadNext_BadBlockTotalLength_SetsError(uint totalLength)
    {
        byte[] file = new PcapNgBuilder()
            .Section(false)
            .Interface((ushort)LinkTypes.Ethernet)
            .Raw(w => w.U32(0x0000_0BAD).U32(totalLength).U32(0).U32(0))
            .ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains($"length {totalLength}", reader.Error);
    }

    [Fact]
    public void TryReadNext_SimplePacketBeforeInterface_SetsError()
    {
        byte[] file = new PcapNgBuilder().Section(false).SimplePacket(Frame(10, 0), 10).ToArray();
        using PcapReader reader = ReaderFor(file);
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("before any interface", reader.Error);
    }

    [Fact]
    public void Open_SectionWithoutInterfaces_LinkTypeUnknownAndCleanEnd()
    {
        byte[] file = new PcapNgBuilder().Section(true).ToArray();
        using PcapReader reader = ReaderFor(file);
        Assert.Equal(LinkTypes.Unknown, reader.LinkType);
        Assert.False(reader.TryReadNext(out _));
        Assert.Null(reader.Error);
    }

    [Theory]
    [InlineData(0x1A2B3C4Eu, (ushort)1, "byte-order magic")]
    [InlineData(0x1A2B3C4Du, (ushort)2, "version 2")]
    public void Open_BadSectionHeader_ThrowsNamingFile(uint byteOrderMagic, ushort major, string expected)
    {
        byte[] file = new PcapNgBuilder().Section(false, major, byteOrderMagic).ToArray();
        var ex = Assert.Throws<InvalidDataException>(() => ReaderFor(file, "bad.pcapng"));
        Assert.Contains("bad.pcapng", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData((byte)29)]
    [InlineData((byte)0xC0)]
    public void TryReadNext_UnsupportedIfTsresol_SetsError(byte tsResol)
    {
        byte[] file = new PcapNgBuilder()
            .Section(false)
            .Interface((ushort)LinkTypes.Ethernet)
            .EnhancedPacket(0, 1, Frame(10, 0))
            .Interface((ushort)LinkTypes.Ethernet, tsResol: tsResol)
            .EnhancedPacket(1, 1, Frame(10, 0))
            .ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.True(reader.TryReadNext(out _));
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("if_tsresol", reader.Error);
    }

    [Fact]
    public void TryReadNext_CorruptSecondSectionHeader_SetsErrorWithoutThrowing()
    {
        PcapNgBuilder builder = new PcapNgBuilder()
            .Section(false)
            .Interface((ushort)LinkTypes.Ethernet)
            .EnhancedPacket(0, 1, Frame(10, 0));
        int secondSection = builder.Length;
        byte[] file = builder.Section(true, byteOrderMagic: 0xDEADBEEF).ToArray();

        using PcapReader reader = ReaderFor(file);
        Assert.True(reader.TryReadNext(out _));
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("byte-order magic", reader.Error);
        Assert.Contains($"byte offset {secondSection}", reader.Error);
    }

    [Fact]
    public void Open_TruncatedSectionHeader_Throws()
    {
        byte[] file = new PcapNgBuilder().Section(false).ToArray()[..10];
        var ex = Assert.Throws<InvalidDataException>(() => ReaderFor(file, "short.pcapng"));
        Assert.Contains("short.pcapng", ex.Message);
    }

    private sealed class RecComparer : IEqualityComparer<Rec>
    {
        public static readonly RecComparer Instance = new();

        public bool Equals(Rec? x, Rec? y) =>
            x is not null && y is not null
            && x.TimestampNanos == y.TimestampNanos
            && x.Data.AsSpan().SequenceEqual(y.Data)
            && x.OriginalLength == y.OriginalLength
            && x.LinkType == y.LinkType
            && x.InterfaceId == y.InterfaceId;

        public int GetHashCode(Rec obj) => obj.TimestampNanos.GetHashCode();
    }
}
