using UserLB.IO.PcapFiles;
using static UserLB.IO.Tests.PcapFiles.TestRecords;

namespace UserLB.IO.Tests.PcapFiles;

public sealed class AllocationTests
{
    private const int Records = 400;

    public static TheoryData<string> Formats => ["pcap-us", "pcap-ns-be", "pcapng-le", "pcapng-be"];

    [Theory]
    [MemberData(nameof(Formats))]
    public void TryReadNext_SteadyState_AllocatesNothing(string format)
    {
        byte[] file = Build(format);
        using PcapReader reader = ReaderFor(file);

        long checksum = 0;
        for (int i = 0; i < Records / 2; i++)
        {
            Assert.True(reader.TryReadNext(out PcapRecord warm));
            checksum += warm.Data.Length;
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int read = 0;
        while (reader.TryReadNext(out PcapRecord record))
        {
            record.MutableData[0] ^= 1;
            checksum += record.TimestampNanos + record.Data.Length;
            read++;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Null(reader.Error);
        Assert.Equal(Records / 2, read);
        Assert.NotEqual(0, checksum);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Write_SteadyState_AllocatesNothing()
    {
        var ms = new MemoryStream(capacity: 4 * 1024 * 1024);
        using var writer = new PcapWriter(ms, leaveOpen: true);
        byte[] frame = Frame(1000, 1);
        for (int i = 0; i < 100; i++)
        {
            writer.Write(i, frame);
        }

        // Best of three rounds: a round may catch the JIT's one-time work (tier-up, OSR of this loop) once.
        long allocated = long.MaxValue;
        for (int round = 0; round < 3 && allocated > 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 300; i++)
            {
                writer.Write(i * 1000L, frame);
            }

            writer.Flush();
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(0, allocated);
    }

    private static byte[] Build(string format)
    {
        switch (format)
        {
            case "pcap-us":
            case "pcap-ns-be":
            {
                var b = new ClassicPcapBuilder(bigEndian: format.EndsWith("-be"), nanos: format.Contains("-ns"));
                for (int i = 0; i < Records; i++)
                {
                    b.Record((uint)i, (uint)i, Frame(64 + (i % 1400), (byte)i));
                }

                return b.ToArray();
            }

            default:
            {
                PcapNgBuilder b = new PcapNgBuilder()
                    .Section(bigEndian: format.EndsWith("-be"))
                    .Interface((ushort)LinkTypes.Ethernet)
                    .Interface((ushort)LinkTypes.Raw, tsResol: 9);
                for (int i = 0; i < Records; i++)
                {
                    if (i % 3 == 2)
                    {
                        b.SimplePacket(Frame(64 + (i % 1400), (byte)i), (uint)(64 + (i % 1400)));
                    }
                    else
                    {
                        b.EnhancedPacket((uint)(i & 1), (ulong)i * 1000, Frame(64 + (i % 1400), (byte)i),
                            withComment: i % 5 == 0);
                    }

                    if (i % 7 == 0)
                    {
                        b.Block(0x0000_0BAD, w => w.U32(1).U32(2));
                    }
                }

                return b.ToArray();
            }
        }
    }
}
