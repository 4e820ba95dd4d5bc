using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using UserLB.Packets;

namespace UserLB.Engine.Conntrack;

/// <summary>
/// SYN cookies as Linux makes them (net/ipv4/syncookies.c, net/ipv6/syncookies.c): the initial sequence number of a
/// SYN-ACK that keeps no state is
/// <c>H0(tuple) + client ISN + (minute &lt;&lt; 24) + ((H1(tuple, minute) + MSS index) mod 2^24)</c>, where H0 and H1
/// are SipHash-2-4 under two secret keys and the minute is the clock's count of minutes. A cookie is good for
/// <see cref="MaxAgeMinutes"/> minutes. The MSS is encoded as an index into Linux's table; window scale, SACK and ECN
/// go in the low 6 bits of the timestamp (<see cref="TcpSynOptions.EncodeTimestamp"/>). The secret and the clock are
/// the caller's (injected); no allocation.
/// </summary>
public sealed class SynCookies
{
    public const int CookieBits = 24;
    private const uint CookieMask = (1u << CookieBits) - 1;

    /// <summary>MAX_SYNCOOKIE_AGE: minutes a cookie stays valid (the minute it was made and the next).</summary>
    public const int MaxAgeMinutes = 2;

    /// <summary>TCP_SYNCOOKIE_PERIOD: the counter in the cookie's top 8 bits moves once a minute.</summary>
    public const long PeriodNs = 60_000_000_000L;

    private readonly ulong _k0a, _k0b, _k1a, _k1b;

    /// <param name="secret">32 bytes: the two SipHash keys (syncookie_secret[0] and [1]).</param>
    public SynCookies(ReadOnlySpan<byte> secret)
    {
        if (secret.Length != 32) throw new ArgumentException("a SYN cookie secret is 32 bytes", nameof(secret));
        _k0a = BinaryPrimitives.ReadUInt64LittleEndian(secret);
        _k0b = BinaryPrimitives.ReadUInt64LittleEndian(secret[8..]);
        _k1a = BinaryPrimitives.ReadUInt64LittleEndian(secret[16..]);
        _k1b = BinaryPrimitives.ReadUInt64LittleEndian(secret[24..]);
    }

    /// <summary>msstab (IPv4): values by frequency in the wild; sorted.</summary>
    private static ReadOnlySpan<ushort> MssTable4 => [536, 1300, 1440, 1460];

    /// <summary>msstab (IPv6): 1280, 1480, 1500 and 9000 less 60 bytes of headers.</summary>
    private static ReadOnlySpan<ushort> MssTable6 => [1220, 1420, 1440, 8940];

    /// <summary>tcp_cookie_time(): the clock in minutes.</summary>
    public static uint Minute(long nowNs) => (uint)(nowNs / PeriodNs);

    /// <summary>
    /// __cookie_v4_init_sequence / __cookie_v6_init_sequence: the cookie for a SYN of <paramref name="syn"/> (client →
    /// VIP) with sequence number <paramref name="clientIsn"/> and MSS <paramref name="mss"/>; <paramref name="encodedMss"/>
    /// is the MSS the cookie carries (the largest table value not above it).
    /// </summary>
    public uint Make(in FlowTuple syn, uint clientIsn, ushort mss, long nowNs, out ushort encodedMss)
    {
        var table = syn.IsV6 ? MssTable6 : MssTable4;
        int index = table.Length - 1;
        while (index > 0 && mss < table[index]) index--;
        encodedMss = table[index];
        uint count = Minute(nowNs);
        return Hash(syn, 0, 0) + clientIsn + (count << CookieBits) + ((Hash(syn, count, 1) + (uint)index) & CookieMask);
    }

    /// <summary>
    /// __cookie_v4_check / __cookie_v6_check: the MSS a client's ACK (<paramref name="ack"/>: client → VIP) carries in
    /// its acknowledgment number <paramref name="ackSeq"/> (cookie + 1) given its sequence number
    /// <paramref name="seq"/> (client ISN + 1); 0 when the cookie is not one of ours or is too old.
    /// </summary>
    public ushort Check(in FlowTuple ack, uint seq, uint ackSeq, long nowNs)
    {
        uint cookie = ackSeq - 1 - (Hash(ack, 0, 0) + (seq - 1));
        uint count = Minute(nowNs);
        uint diff = (count - (cookie >> CookieBits)) & (uint.MaxValue >> CookieBits);
        if (diff >= MaxAgeMinutes) return 0;
        uint index = (cookie - Hash(ack, count - diff, 1)) & CookieMask;
        var table = ack.IsV6 ? MssTable6 : MssTable4;
        return index < (uint)table.Length ? table[(int)index] : (ushort)0;
    }

    /// <summary>cookie_hash: SipHash-2-4 of the tuple and the count under key <paramref name="c"/>, its low 32 bits.</summary>
    private uint Hash(in FlowTuple t, uint count, int c)
    {
        ulong k0 = c == 0 ? _k0a : _k1a, k1 = c == 0 ? _k0b : _k1b;
        if (!t.IsV6)
        {
            // siphash_4u32(saddr, daddr, sport << 16 | dport, count): the addresses and ports as the wire holds them.
            ulong a = BinaryPrimitives.ReverseEndianness(t.Src.V4), b = BinaryPrimitives.ReverseEndianness(t.Dst.V4);
            ulong ports = (uint)BinaryPrimitives.ReverseEndianness(t.SrcPort) << 16 | BinaryPrimitives.ReverseEndianness(t.DstPort);
            return (uint)SipHash2(b << 32 | a, (ulong)count << 32 | ports, k0, k1);
        }
        // struct { in6_addr saddr, daddr; u32 count; __be16 sport, dport; }: 40 bytes.
        Span<byte> m = stackalloc byte[40];
        t.Src.WriteV6(m);
        t.Dst.WriteV6(m[16..]);
        BinaryPrimitives.WriteUInt32LittleEndian(m[32..], count);
        BinaryPrimitives.WriteUInt16BigEndian(m[36..], t.SrcPort);
        BinaryPrimitives.WriteUInt16BigEndian(m[38..], t.DstPort);
        return (uint)SipHash(m, k0, k1);
    }

    /// <summary>SipHash-2-4 of two 64-bit words (siphash_2u64).</summary>
    internal static ulong SipHash2(ulong first, ulong second, ulong k0, ulong k1)
    {
        ulong v0 = 0x736f6d6570736575UL ^ k0, v1 = 0x646f72616e646f6dUL ^ k1;
        ulong v2 = 0x6c7967656e657261UL ^ k0, v3 = 0x7465646279746573UL ^ k1;
        Compress(ref v0, ref v1, ref v2, ref v3, first);
        Compress(ref v0, ref v1, ref v2, ref v3, second);
        return Finish(v0, v1, v2, v3, 16UL << 56);
    }

    /// <summary>SipHash-2-4 of a message whose length is a multiple of 8 bytes (words little-endian, as siphash()).</summary>
    internal static ulong SipHash(ReadOnlySpan<byte> message, ulong k0, ulong k1)
    {
        ulong v0 = 0x736f6d6570736575UL ^ k0, v1 = 0x646f72616e646f6dUL ^ k1;
        ulong v2 = 0x6c7967656e657261UL ^ k0, v3 = 0x7465646279746573UL ^ k1;
        for (int i = 0; i + 8 <= message.Length; i += 8)
            Compress(ref v0, ref v1, ref v2, ref v3, BinaryPrimitives.ReadUInt64LittleEndian(message[i..]));
        return Finish(v0, v1, v2, v3, (ulong)message.Length << 56);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Compress(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3, ulong m)
    {
        v3 ^= m;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= m;
    }

    private static ulong Finish(ulong v0, ulong v1, ulong v2, ulong v3, ulong b)
    {
        v3 ^= b;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= b;
        v2 ^= 0xff;
        for (int i = 0; i < 4; i++) Round(ref v0, ref v1, ref v2, ref v3);
        return v0 ^ v1 ^ v2 ^ v3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1; v1 = BitOperations.RotateLeft(v1, 13); v1 ^= v0; v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3; v3 = BitOperations.RotateLeft(v3, 16); v3 ^= v2;
        v0 += v3; v3 = BitOperations.RotateLeft(v3, 21); v3 ^= v0;
        v2 += v1; v1 = BitOperations.RotateLeft(v1, 17); v1 ^= v2; v2 = BitOperations.RotateLeft(v2, 32);
    }
}
