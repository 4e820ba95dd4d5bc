using System.Buffers.Binary;
using UserLB.Packets;

namespace UserLB.Packets.Tests;

public class ChecksumTests
{
    private static ushort Reference(ReadOnlySpan<byte> data)
    {
        // Plain RFC 1071: 16-bit words, end-around carry, complement.
        uint sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            uint w = (uint)data[i] << 8;
            if (i + 1 < data.Length) w |= data[i + 1];
            sum += w;
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(20)]
    [InlineData(1499)]
    public void Compute_RandomData_MatchesPlainRfc1071(int length)
    {
        var rnd = new Random(length);
        var data = new byte[length];
        rnd.NextBytes(data);
        Assert.Equal(Reference(data), Checksum.Compute(data));
    }

    [Fact]
    public void Fold_EdgeAndRandomSums_SameAsFoldingSixteenBitsAtATime()
    {
        var values = new List<ulong> { 0, 1, 0xFFFE, 0xFFFF, 0x1_0000, 0x1_FFFE, 0x1_FFFF, 0xFFFF_FFFF, 0x1_0000_0000, 0xFFFF_0000,
            0x0000_FFFF_FFFF_FFFF, 0xFFFF_FFFF_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFE, 0x8000_0000_8000_0000 };
        for (int shift = 0; shift < 64; shift++)
        {
            values.Add(1UL << shift);
            values.Add((1UL << shift) - 1);
            values.Add(0xFFFFUL << (shift & 48));
        }
        var rnd = new Random(7);
        for (int i = 0; i < 200_000; i++)
        {
            ulong v = (ulong)rnd.NextInt64() ^ ((ulong)rnd.Next() << 40);
            values.Add(v >> rnd.Next(64));
        }
        for (uint small = 0; small < 0x4_0000; small++) values.Add(small);
        foreach (ulong v in values) Assert.Equal(Checksum.FoldByWords(v), Checksum.Fold(v));
    }

    [Fact]
    public void Sum_EveryLengthOffsetAndFill_FoldsLikeTheWordByWordSum()
    {
        var rnd = new Random(5);
        var buffer = new byte[400];
        foreach (byte? fill in new byte?[] { null, 0x00, 0xFF })
        {
            if (fill is byte f) Array.Fill(buffer, f);
            else rnd.NextBytes(buffer);
            for (int offset = 0; offset < 3; offset++)
            {
                for (int length = 0; length + offset <= 300; length++)
                {
                    var data = buffer.AsSpan(offset, length);
                    ulong initial = (ulong)rnd.Next(3) * (ulong)rnd.Next(0x3_0000);
                    Assert.Equal(Checksum.Fold(Checksum.SumBigEndian(data, initial)), Checksum.Fold(Checksum.Sum(data, initial)));
                }
            }
        }
    }

    [Fact]
    public void Update16_ManyRandomEdits_MatchesFullRecompute()
    {
        var rnd = new Random(42);
        var data = new byte[64];
        for (int n = 0; n < 10_000; n++)
        {
            rnd.NextBytes(data);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(10), 0);
            ushort check = Checksum.Compute(data);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(10), check);
            int at = rnd.Next(5) * 2; // a word before the checksum field (offsets 0-8)
            ushort old = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at));
            ushort neu = (ushort)rnd.Next(65536);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(at), neu);
            ushort updated = Checksum.Update16(check, old, neu);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(10), updated);
            Assert.True(Checksum.Verifies(Checksum.Sum(data)), $"iteration {n}");
        }
    }

    [Fact]
    public void UpdateSum_Ipv6AddressChange_MatchesFullRecompute()
    {
        var rnd = new Random(7);
        var data = new byte[80];
        for (int n = 0; n < 2_000; n++)
        {
            rnd.NextBytes(data);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(40), 0);
            ushort check = Checksum.Compute(data);
            var oldAddr = IpAddr.ReadV6(data);
            var newBytes = new byte[16];
            rnd.NextBytes(newBytes);
            var newAddr = IpAddr.ReadV6(newBytes);
            newAddr.WriteV6(data);
            ushort updated = Checksum.UpdateSum(check, oldAddr.WordSum(false), newAddr.WordSum(false));
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(40), updated);
            Assert.True(Checksum.Verifies(Checksum.Sum(data)), $"iteration {n}");
        }
    }
}
