using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace UserLB.Packets;

/// <summary>
/// Internet checksum (RFC 1071) and its incremental update (RFC 1624: HC' = ~(~HC + ~m + m')).
/// Sums are kept unfolded in a uint/ulong and folded once at the end.
/// </summary>
public static class Checksum
{
    /// <summary>Ones'-complement sum of <paramref name="data"/> as big-endian 16-bit words (odd byte padded), unfolded.</summary>
    public static ulong Sum(ReadOnlySpan<byte> data, ulong initial = 0)
    {
        ulong sum = initial;
        int i = 0;
        // 8 bytes at a time: add the four 16-bit big-endian words via a 64-bit load.
        while (i + 8 <= data.Length)
        {
            ulong v = BinaryPrimitives.ReadUInt64BigEndian(data[i..]);
            sum += (v >> 48) + ((v >> 32) & 0xFFFF) + ((v >> 16) & 0xFFFF) + (v & 0xFFFF);
            i += 8;
        }
        while (i + 2 <= data.Length)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
            i += 2;
        }
        if (i < data.Length) sum += (ulong)data[i] << 8;
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Words64(ulong v) =>
        (uint)((v >> 48) + ((v >> 32) & 0xFFFF) + ((v >> 16) & 0xFFFF) + (v & 0xFFFF));

    /// <summary>Folds a wide ones'-complement sum to 16 bits (not complemented).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The checksum field value for data whose sum (with the checksum field zeroed) is <paramref name="sum"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Finish(ulong sum) => (ushort)~Fold(sum);

    /// <summary>Full checksum over a buffer whose checksum field is zero (or verifies to 0 when it holds the checksum).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, ulong initial = 0) => Finish(Sum(data, initial));

    /// <summary>IPv4 pseudo-header sum: src, dst, zero+protocol, L4 length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong PseudoHeaderV4(ReadOnlySpan<byte> src4, ReadOnlySpan<byte> dst4, byte protocol, int l4Length) =>
        (ulong)BinaryPrimitives.ReadUInt16BigEndian(src4) + BinaryPrimitives.ReadUInt16BigEndian(src4[2..])
        + BinaryPrimitives.ReadUInt16BigEndian(dst4) + BinaryPrimitives.ReadUInt16BigEndian(dst4[2..])
        + protocol + (ulong)(uint)l4Length;

    /// <summary>IPv6 pseudo-header sum: src, dst, upper-layer length, next header.</summary>
    public static ulong PseudoHeaderV6(ReadOnlySpan<byte> src16, ReadOnlySpan<byte> dst16, byte nextHeader, int l4Length) =>
        Sum(src16[..16]) + Sum(dst16[..16]) + (ulong)((uint)l4Length >> 16) + (ulong)((uint)l4Length & 0xFFFF) + nextHeader;

    /// <summary>RFC 1624 eqn. 3 for one 16-bit word: HC' = ~(~HC + ~m + m').</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update16(ushort check, ushort oldWord, ushort newWord)
    {
        uint sum = (uint)(ushort)~check + (ushort)~oldWord + newWord;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>RFC 1624 update for a change whose old and new word sums are given (e.g. a 16-byte address).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort UpdateSum(ushort check, uint oldWordSum, uint newWordSum)
    {
        // ~m summed word by word equals (0xFFFF * words) - sum(m) in ones' complement; use the folded form.
        ulong sum = (ulong)(ushort)~check + (ushort)~Fold(oldWordSum) + newWordSum;
        return (ushort)~Fold(sum);
    }

    /// <summary>Reads the 16-bit checksum field at <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ReadField(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt16BigEndian(b[offset..]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteField(Span<byte> b, int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(b[offset..], value);

    /// <summary>True when the one's-complement sum over a region that includes its checksum field is 0xFFFF.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Verifies(ulong sumIncludingField) => Fold(sumIncludingField) == 0xFFFF;
}
