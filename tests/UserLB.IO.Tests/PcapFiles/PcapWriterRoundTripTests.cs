using System.Buffers.Binary;
using PacketDotNet;
using UserLB.IO.PcapFiles;
using static UserLB.IO.Tests.PcapFiles.TestRecords;

namespace UserLB.IO.Tests.PcapFiles;

public sealed class PcapWriterRoundTripTests
{
    [Theory]
    [InlineData(false, 1_700_000_000_123_456_789L, 1_700_000_000_123_456_000L)]
    [InlineData(true, 1_700_000_000_123_456_789L, 1_700_000_000_123_456_789L)]
    [InlineData(false, 0L, 0L)]
    [InlineData(true, 0L, 0L)]
    [InlineData(false, 999L, 0L)]
    [InlineData(false, 1_000L, 1_000L)]
    [InlineData(true, 1L, 1L)]
    [InlineData(false, 4_294_967_295_999_999_999L, 4_294_967_295_999_999_000L)]
    [InlineData(true, 4_294_967_295_999_999_999L, 4_294_967_295_999_999_999L)]
    public void WriteThenRead_Timestamp_ExactToResolution(bool nanos, long written, long expected)
    {
        byte[] frame = Frame(60, 3);
        var ms = new MemoryStream();
        using (var writer = new PcapWriter(ms, LinkTypes.Ethernet, nanos, leaveOpen: true))
        {
            writer.Write(written, frame);
            writer.Write(1_000, frame); // records need not be in time order
        }

        using PcapReader reader = ReaderFor(ms.ToArray());
        Assert.False(reader.IsPcapNg);
        Assert.Equal(nanos, reader.NanosecondResolution);
        Assert.Equal(LinkTypes.Ethernet, reader.LinkType);

        List<Rec> records = ReadAll(reader);
        Assert.Null(reader.Error);
        Assert.Equal(2, records.Count);
        Assert.Equal(expected, records[0].TimestampNanos);
        Assert.Equal(1_000, records[1].TimestampNanos);
        Assert.Equal(frame, records[0].Data);
        Assert.Equal(60, records[0].OriginalLength);
        Assert.Equal(LinkTypes.Ethernet, records[0].LinkType);
        Assert.Equal(0, records[0].InterfaceId);
    }

    [Theory]
    [InlineData(LinkTypes.Ethernet, false)]
    [InlineData(LinkTypes.LinuxSll, true)]
    [InlineData(LinkTypes.Raw, false)]
    public void WriteThenRead_ManyFramesThroughFiles_AllRecordsIdentical(int linkType, bool nanos)
    {
        string path = Path.Combine(Path.GetTempPath(), $"userlb-{Guid.NewGuid():N}.pcap");
        try
        {
            const int count = 2000;
            using (PcapWriter writer = PcapWriter.Create(path, linkType, nanos))
            {
                for (int i = 0; i < count; i++)
                {
                    writer.Write(1_600_000_000_000_000_000L + (i * 1_000_000L), Frame(i % 1515, (byte)i));
                }

                Assert.Equal(count, writer.RecordCount);
            }

            using PcapReader reader = PcapReader.Open(path);
            Assert.Equal(path, reader.Name);
            Assert.Equal(linkType, reader.LinkType);
            Assert.Equal(nanos, reader.NanosecondResolution);
            List<Rec> records = ReadAll(reader);
            Assert.Null(reader.Error);
            Assert.Equal(count, records.Count);
            Assert.Equal(count, reader.RecordCount);
            Assert.Equal(new FileInfo(path).Length, reader.BytesRead);
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(1_600_000_000_000_000_000L + (i * 1_000_000L), records[i].TimestampNanos);
                Assert.Equal(Frame(i % 1515, (byte)i), records[i].Data);
                Assert.Equal(linkType, records[i].LinkType);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(false, LinkTypes.Ethernet, 0xA1B2C3D4u)]
    [InlineData(true, LinkTypes.Ethernet, 0xA1B23C4Du)]
    [InlineData(false, LinkTypes.LinuxSll, 0xA1B2C3D4u)]
    public void Constructor_AnySettings_WritesLittleEndianFileHeader(bool nanos, int linkType, uint magic)
    {
        var ms = new MemoryStream();
        using (new PcapWriter(ms, linkType, nanos, leaveOpen: true))
        {
        }

        byte[] file = ms.ToArray();
        Assert.Equal(24, file.Length);
        Assert.Equal(magic, BinaryPrimitives.ReadUInt32LittleEndian(file));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(4)));
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(6)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(8)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12)));
        Assert.Equal(262144u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(16)));
        Assert.Equal((uint)linkType, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(20)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(65536)]
    [InlineData(262144)]
    public void WriteThenRead_FrameSizeUpToSnapLength_DataPreserved(int size)
    {
        byte[] frame = Frame(size, 9);
        var ms = new MemoryStream();
        using (var writer = new PcapWriter(ms, leaveOpen: true))
        {
            writer.Write(5_000, frame);
            writer.Write(6_000, Frame(10, 1));
        }

        using PcapReader reader = ReaderFor(ms.ToArray());
        List<Rec> records = ReadAll(reader);
        Assert.Null(reader.Error);
        Assert.Equal(2, records.Count);
        Assert.Equal(frame, records[0].Data);
        Assert.Equal(size, records[0].OriginalLength);
        Assert.Equal(Frame(10, 1), records[1].Data);
    }

    [Fact]
    public void Write_FrameLongerThanSnapLength_TruncatedKeepingOriginalLength()
    {
        byte[] frame = Frame(PcapWriter.SnapLength + 100, 1);
        var ms = new MemoryStream();
        using (var writer = new PcapWriter(ms, leaveOpen: true))
        {
            writer.Write(0, frame);
        }

        using PcapReader reader = ReaderFor(ms.ToArray());
        Assert.True(reader.TryReadNext(out PcapRecord record));
        Assert.Equal(PcapWriter.SnapLength, record.CapturedLength);
        Assert.Equal(PcapWriter.SnapLength + 100, record.OriginalLength);
        Assert.True(record.IsTruncated);
        Assert.True(record.Data.SequenceEqual(frame.AsSpan(0, PcapWriter.SnapLength)));
    }

    [Fact]
    public void Write_ExplicitOriginalLength_Preserved()
    {
        var ms = new MemoryStream();
        using (var writer = new PcapWriter(ms, leaveOpen: true))
        {
            writer.Write(0, Frame(64, 1), originalLength: 1514);
        }

        using PcapReader reader = ReaderFor(ms.ToArray());
        Assert.True(reader.TryReadNext(out PcapRecord record));
        Assert.Equal(64, record.CapturedLength);
        Assert.Equal(1514, record.OriginalLength);
    }

    [Theory]
    [InlineData(-1L, 10)]
    [InlineData(4_294_967_296_000_000_000L, 10)]
    [InlineData(0L, 9)]
    public void Write_UnrepresentableArguments_Throws(long timestamp, int originalLength)
    {
        using var writer = new PcapWriter(new MemoryStream());
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(timestamp, Frame(10, 0), originalLength));
    }

    [Fact]
    public void Write_AfterDispose_ThrowsObjectDisposed()
    {
        var writer = new PcapWriter(new MemoryStream());
        writer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => writer.Write(0, Frame(10, 0)));
    }

    [Fact]
    public void Flush_BufferedRecords_ReachStream()
    {
        var ms = new MemoryStream();
        using var writer = new PcapWriter(ms, leaveOpen: true);
        writer.Write(0, Frame(100, 0));
        writer.Flush();
        Assert.Equal(24 + 16 + 100, ms.Length);
    }

    [Fact]
    public void TryReadNext_MutableDataRewritten_ChangeVisibleInData()
    {
        var ms = new MemoryStream();
        using (var writer = new PcapWriter(ms, leaveOpen: true))
        {
            writer.Write(0, Frame(20, 0));
            writer.Write(0, Frame(20, 100));
        }

        using PcapReader reader = ReaderFor(ms.ToArray());
        Assert.True(reader.TryReadNext(out PcapRecord record));
        record.MutableData[0] = 0xEE;
        record.MutableData[19] = 0xFF;
        Assert.Equal(0xEE, record.Data[0]);
        Assert.Equal(0xFF, record.Data[19]);

        Assert.True(reader.TryReadNext(out PcapRecord second));
        Assert.Equal(Frame(20, 100), second.Data.ToArray());
    }

    [Fact]
    public void WriteThenRead_PacketDotNetUdpFrame_ParsesBack()
    {
        var udp = new UdpPacket(12345, 53) { PayloadData = [1, 2, 3, 4] };
        var ip = new IPv4Packet(System.Net.IPAddress.Parse("10.0.0.1"), System.Net.IPAddress.Parse("10.0.0.2"))
        {
            PayloadPacket = udp,
        };
        var eth = new EthernetPacket(
            System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-01"),
            System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-02"),
            EthernetType.IPv4)
        {
            PayloadPacket = ip,
        };
        udp.UpdateUdpChecksum();
        ip.UpdateIPChecksum();
        byte[] frame = eth.Bytes;

        var ms = new MemoryStream();
        using (var writer = new PcapWriter(ms, leaveOpen: true))
        {
            writer.Write(1_000_000_000, frame);
        }

        using PcapReader reader = ReaderFor(ms.ToArray());
        Assert.True(reader.TryReadNext(out PcapRecord record));
        Packet parsed = Packet.ParsePacket(LinkLayers.Ethernet, record.Data.ToArray());
        UdpPacket? parsedUdp = parsed.Extract<UdpPacket>();
        Assert.NotNull(parsedUdp);
        Assert.Equal(12345, parsedUdp.SourcePort);
        Assert.Equal(53, parsedUdp.DestinationPort);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, parsedUdp.PayloadData);
    }
}
