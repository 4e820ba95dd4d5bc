using System.Buffers.Binary;
using System.Runtime.Intrinsics.X86;

namespace UserLB.Packets;

/// <summary>CRC-32C (Castagnoli), the SCTP checksum (RFC 9260 appendix B). SSE4.2 when available, else a table.</summary>
public static class Crc32C
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }

    public static uint Compute(ReadOnlySpan<byte> data, uint crc = 0xFFFFFFFF)
    {
        int i = 0;
        if (Sse42.X64.IsSupported)
        {
            ulong c = crc;
            for (; i + 8 <= data.Length; i += 8) c = Sse42.X64.Crc32(c, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
            crc = (uint)c;
        }
        if (Sse42.IsSupported)
        {
            for (; i < data.Length; i++) crc = Sse42.Crc32(crc, data[i]);
            return crc;
        }
        for (; i < data.Length; i++) crc = Table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    /// <summary>SCTP checksum of a common header + chunks with the checksum field (offset 8) taken as zero.</summary>
    public static uint Sctp(ReadOnlySpan<byte> sctp)
    {
        Span<byte> zero = stackalloc byte[4];
        zero.Clear();
        uint crc = Compute(sctp[..8]);
        crc = Compute(zero, crc);
        crc = Compute(sctp[12..], crc);
        return ~crc;
    }

    public static bool VerifySctp(ReadOnlySpan<byte> sctp) => Sctp(sctp) == BinaryPrimitives.ReadUInt32LittleEndian(sctp[8..]);

    public static void UpdateSctp(Span<byte> sctp) => BinaryPrimitives.WriteUInt32LittleEndian(sctp[8..], Sctp(sctp));
}
