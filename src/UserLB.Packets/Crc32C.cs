using System.Buffers.Binary;
using System.Numerics;

namespace UserLB.Packets;

/// <summary>CRC-32C (Castagnoli), the SCTP checksum (RFC 9260 appendix B), through <see cref="BitOperations.Crc32C(uint, ulong)"/>: the CPU's CRC32 instructions on x86 (SSE4.2) and ARM64.</summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data, uint crc = 0xFFFFFFFF)
    {
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
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
