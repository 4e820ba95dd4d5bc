using UserLB.Packets;

namespace UserLB.Packets.Tests;

/// <summary>CRC-32C against its published check values (the CRC catalogue's "123456789", RFC 3720 B.4's iSCSI vectors).</summary>
public class Crc32CTests
{
    public static TheoryData<string, byte[], uint> Vectors() => new()
    {
        { "123456789", "123456789"u8.ToArray(), 0xE3069283 },
        { "32 zeros", new byte[32], 0x8A9136AA },
        { "32 x 0xFF", Enumerable.Repeat((byte)0xFF, 32).ToArray(), 0x62A8AB43 },
        { "0..31", Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), 0x46DD794E },
        { "31..0", Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray(), 0x113FDB5C },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Compute_PublishedVector_CheckValue(string what, byte[] data, uint expected) =>
        Assert.True(expected == ~Crc32C.Compute(data), $"{what}: {~Crc32C.Compute(data):X8}");

    [Fact]
    public void Compute_InPieces_SameAsWhole()
    {
        var data = Enumerable.Range(0, 1000).Select(i => (byte)(i * 13)).ToArray();
        uint whole = Crc32C.Compute(data);
        for (int cut = 0; cut <= data.Length; cut += 37)
            Assert.Equal(whole, Crc32C.Compute(data.AsSpan(cut), Crc32C.Compute(data.AsSpan(0, cut))));
    }
}
