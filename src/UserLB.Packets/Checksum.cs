using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace UserLB.Packets;

/// <summary>
/// Internet checksum (RFC 1071) and its incremental update (RFC 1624: HC' = ~(~HC + ~m + m')).
/// Sums are kept unfolded in a uint/ulong and folded once at the end.
/// </summary>
public static class Checksum
{
    /// <summary>Ones'-complement sum of <paramref name="data"/> as big-endian 16-bit words (odd byte padded), unfolded
    /// (congruent to the plain word sum modulo 0xFFFF, which is all that folding looks at).</summary>
    public static ulong Sum(ReadOnlySpan<byte> data, ulong initial = 0)
    {
        if (!BitConverter.IsLittleEndian) return SumBigEndian(data, initial);
        // RFC 1071 §2(B): the sum does not depend on byte order. Add the data as native little-endian 32-bit halves of
        // 64-bit loads (the carries pile up in the upper bits), fold to 16 bits and swap its two bytes at the end.
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint len = (nuint)data.Length, i = 0;
        ulong s0 = 0, s1 = 0;
        if (Vector256.IsHardwareAccelerated && len >= 64)
        {
            var low = Vector256.Create(0xFFFF_FFFFUL);
            Vector256<ulong> a0 = default, a1 = default;
            for (; i + 64 <= len; i += 64)
            {
                var v0 = Vector256.LoadUnsafe(ref Unsafe.As<byte, ulong>(ref Unsafe.Add(ref p, i)));
                var v1 = Vector256.LoadUnsafe(ref Unsafe.As<byte, ulong>(ref Unsafe.Add(ref p, i + 32)));
                a0 += (v0 & low) + Vector256.ShiftRightLogical(v0, 32);
                a1 += (v1 & low) + Vector256.ShiftRightLogical(v1, 32);
            }
            s0 = Vector256.Sum(a0 + a1);
        }
        for (; i + 16 <= len; i += 16)
        {
            ulong a = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i));
            ulong b = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + 8));
            s0 += (a & 0xFFFF_FFFF) + (a >> 32);
            s1 += (b & 0xFFFF_FFFF) + (b >> 32);
        }
        if (i + 8 <= len)
        {
            ulong a = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i));
            s0 += (a & 0xFFFF_FFFF) + (a >> 32);
            i += 8;
        }
        if (i + 4 <= len)
        {
            s1 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i));
            i += 4;
        }
        if (i + 2 <= len)
        {
            s0 += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, i));
            i += 2;
        }
        if (i < len) s1 += Unsafe.Add(ref p, i); // the odd byte is the high byte of a big-endian word: low in ours
        return initial + BinaryPrimitives.ReverseEndianness(Fold(s0 + s1));
    }

    /// <summary><see cref="Sum"/> word by word in network order (big-endian hosts; the reference for tests).</summary>
    public static ulong SumBigEndian(ReadOnlySpan<byte> data, ulong initial = 0)
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
        // 64 → 32 bits with the end-around carry, then 32 → 16 in one step: adding the word to itself rotated by 16 puts
        // hi + lo + (the carry out of lo + hi) in the upper half, which is the end-around sum (it cannot carry out again).
        // The same value as folding 16 bits at a time: 0 for 0, else the representative in [1, 0xFFFF].
        uint lo = (uint)sum, hi = (uint)(sum >> 32);
        uint r = lo + hi;
        r += r < lo ? 1u : 0u;
        return (ushort)((r + BitOperations.RotateRight(r, 16)) >> 16);
    }

    /// <summary><see cref="Fold"/> as RFC 1071 writes it, 16 bits at a time (the reference for tests).</summary>
    public static ushort FoldByWords(ulong sum)
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

    /// <summary>
    /// The update of a partial checksum's seed (CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not its
    /// complement) for a pseudo-header change: S' = S - m + m', as inet_proto_csum_replace4 does with pseudohdr set.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort UpdateSeed(ushort seed, uint oldWordSum, uint newWordSum) => (ushort)~UpdateSum((ushort)~seed, oldWordSum, newWordSum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteField(Span<byte> b, int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(b[offset..], value);

    /// <summary>True when the one's-complement sum over a region that includes its checksum field is 0xFFFF.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Verifies(ulong sumIncludingField) => Fold(sumIncludingField) == 0xFFFF;
}
