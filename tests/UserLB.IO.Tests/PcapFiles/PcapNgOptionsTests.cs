using System.Text;
using UserLB.IO.PcapFiles;
using static UserLB.IO.Tests.PcapFiles.TestRecords;

namespace UserLB.IO.Tests.PcapFiles;

/// <summary>pcapng packet options (opt_comment, epb_flags) and interface names as the reader exposes them, and bad ones.</summary>
public sealed class PcapNgOptionsTests
{
    private static PcapNgBuilder Start(bool bigEndian = false) =>
        new PcapNgBuilder().Section(bigEndian).Interface((ushort)LinkTypes.Ethernet);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TryReadNext_CommentsAndFlags_ExposedOnTheRecord(bool bigEndian)
    {
        byte[] file = Start(bigEndian)
            .EnhancedPacketWithOptions(0, 1, Frame(60, 1), o =>
            {
                PcapNgBuilder.Option(o, 2, new ByteWriter(bigEndian).U32(PacketFlags.Outbound | 0x0100_0000).ToArray());
                PcapNgBuilder.Option(o, 1, "first line"u8);
                PcapNgBuilder.Option(o, 0x8000, "a custom option"u8);
                PcapNgBuilder.Option(o, 1, "vnet: needs_csum start=34 offset=16"u8);
                o.U16(0).U16(0);
            })
            .EnhancedPacket(0, 2, Frame(60, 2))
            .EnhancedPacketWithOptions(0, 3, Frame(61, 3), o => PcapNgBuilder.Option(o, 1, "no end marker"u8))
            .ToArray();
        using var reader = ReaderFor(file, "options.pcapng");
        Assert.True(reader.TryReadNext(out var r));
        Assert.Equal("first line\nvnet: needs_csum start=34 offset=16", Encoding.UTF8.GetString(r.Comments));
        Assert.Equal(PacketDirection.Outbound, r.Direction);
        Assert.Equal(PacketFlags.Outbound | 0x0100_0000, r.Flags);
        Assert.True(reader.TryReadNext(out r));
        Assert.True(r.Comments.IsEmpty);
        Assert.Equal(PacketDirection.Unknown, r.Direction);
        Assert.True(reader.TryReadNext(out r));
        Assert.Equal("no end marker", Encoding.UTF8.GetString(r.Comments));
        Assert.Equal(Frame(61, 3), r.Data.ToArray());
        Assert.False(reader.TryReadNext(out _));
        Assert.Null(reader.Error);
        Assert.Equal("eth0", reader.InterfaceName(0));
    }

    [Fact]
    public void TryReadNext_CommentNotUtf8_StopsWithAnErrorNamingTheBlockAndRecord()
    {
        var builder = Start().EnhancedPacketWithOptions(0, 1, Frame(60, 1), o => PcapNgBuilder.Option(o, 1, "fine"u8));
        int badOffset = builder.Length;
        byte[] file = builder
            .EnhancedPacketWithOptions(0, 2, Frame(60, 2), o => PcapNgBuilder.Option(o, 1, [(byte)'o', (byte)'k', 0xC3, 0x28]))
            .EnhancedPacket(0, 3, Frame(60, 3))
            .ToArray();
        using var reader = ReaderFor(file, "latin.pcapng");
        Assert.True(reader.TryReadNext(out var r));
        Assert.Equal("fine", Encoding.UTF8.GetString(r.Comments));
        Assert.False(reader.TryReadNext(out _));
        Assert.Equal(
            $"latin.pcapng: corrupt or truncated enhanced packet block (block type 0x00000006) at byte offset {badOffset} (reading record #2): " +
            "opt_comment is not valid UTF-8 (byte 0xc3 at position 2 of 4)",
            reader.Error);
        Assert.Equal(1, reader.RecordCount);
    }

    [Fact]
    public void TryReadNext_OptionOverrunningTheBlock_StopsWithAnError()
    {
        byte[] file = Start()
            .EnhancedPacketWithOptions(0, 1, Frame(60, 1), o => o.U16(1).U16(200).Bytes("short"u8))
            .ToArray();
        using var reader = ReaderFor(file, "overrun.pcapng");
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("enhanced packet block", reader.Error, StringComparison.Ordinal);
        Assert.Contains("option 1 has length 200, overrunning the block", reader.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryReadNext_PacketOnAnInterfaceThatDoesNotExist_ErrorNamesTheBlockAndInterface()
    {
        var builder = Start().EnhancedPacket(0, 1, Frame(60, 1));
        int badOffset = builder.Length;
        byte[] file = builder.EnhancedPacket(3, 2, Frame(60, 2)).ToArray();
        using var reader = ReaderFor(file, "noif.pcapng");
        Assert.True(reader.TryReadNext(out _));
        Assert.False(reader.TryReadNext(out _));
        Assert.Equal(
            $"noif.pcapng: corrupt or truncated enhanced packet block (block type 0x00000006) at byte offset {badOffset} (reading record #2): " +
            "packet references interface 3 but the section has 1 interface(s)",
            reader.Error);
    }

    [Fact]
    public void Open_InterfaceNameNotUtf8_ErrorNamesTheInterfaceBlock()
    {
        byte[] file = new PcapNgBuilder().Section(false).InterfaceNamed((ushort)LinkTypes.Ethernet, [0x65, 0x74, 0xFF]).ToArray();
        using var reader = ReaderFor(file, "ifname.pcapng");
        Assert.False(reader.TryReadNext(out _));
        Assert.NotNull(reader.Error);
        Assert.Contains("interface description block", reader.Error, StringComparison.Ordinal);
        Assert.Contains("if_name is not valid UTF-8 (byte 0xff at position 2 of 3)", reader.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void InterfaceName_NulTerminatedName_ReadWithoutTheNul()
    {
        byte[] file = new PcapNgBuilder().Section(false).InterfaceNamed((ushort)LinkTypes.Ethernet, "veth-lb\0"u8)
            .EnhancedPacket(0, 1, Frame(60, 1)).ToArray();
        using var reader = ReaderFor(file);
        Assert.Equal("veth-lb", reader.InterfaceName(0));
    }

    [Fact]
    public void TryReadNext_ClassicPcap_NoCommentsNoFlags()
    {
        byte[] file = new ClassicPcapBuilder(bigEndian: false, nanos: false).Record(1, 2, Frame(60, 1)).ToArray();
        using var reader = ReaderFor(file);
        Assert.True(reader.TryReadNext(out var r));
        Assert.True(r.Comments.IsEmpty);
        Assert.Equal(0u, r.Flags);
        Assert.Equal(0, reader.InterfaceCount);
        Assert.Null(reader.InterfaceName(0));
    }
}
