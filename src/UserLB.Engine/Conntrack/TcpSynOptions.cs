using System.Buffers.Binary;

namespace UserLB.Engine.Conntrack;

/// <summary>
/// The TCP options a SYN proxy reads and writes (nf_synproxy_core.c: synproxy_parse_options, synproxy_build_options,
/// synproxy_init_timestamp_cookie, synproxy_check_timestamp_cookie): MSS, window scale, SACK permitted, timestamps,
/// and ECN (from the flags). A value type; parsing never throws.
/// </summary>
public struct TcpSynOptions
{
    public const byte Mss = 0x01, WindowScale = 0x02, SackPermitted = 0x04, Timestamp = 0x08, Ecn = 0x10;

    private const byte Eol = 0, Nop = 1, KindMss = 2, KindWindow = 3, KindSackPermitted = 4, KindTimestamp = 8;

    /// <summary>TCP_MAX_WSCALE.</summary>
    public const byte MaxWindowScale = 14;

    /// <summary>The option bits present (<see cref="Mss"/> …).</summary>
    public byte Present;
    public ushort MssValue;
    public byte Scale;
    public uint TsVal, TsEcr;

    public readonly bool Has(byte option) => (Present & option) != 0;

    /// <summary>
    /// Reads the options of the TCP header at <paramref name="tcp"/> (its data offset says how long): none when the
    /// header is shorter than its data offset says; options after a malformed one are ignored, as the kernel does.
    /// </summary>
    public static TcpSynOptions Read(ReadOnlySpan<byte> tcp)
    {
        var options = default(TcpSynOptions);
        if (tcp.Length < 20) return options;
        int end = (tcp[12] >> 4) * 4;
        if (end < 20 || end > tcp.Length) return options;
        int i = 20;
        while (i < end)
        {
            byte kind = tcp[i];
            if (kind == Eol) break;
            if (kind == Nop) { i++; continue; }
            if (i + 1 >= end) break;
            int size = tcp[i + 1];
            if (size < 2 || i + size > end) break;
            var value = tcp.Slice(i + 2, size - 2);
            switch (kind)
            {
                case KindMss when size == 4:
                    options.MssValue = BinaryPrimitives.ReadUInt16BigEndian(value);
                    options.Present |= Mss;
                    break;
                case KindWindow when size == 3:
                    options.Scale = Math.Min(value[0], MaxWindowScale);
                    options.Present |= WindowScale;
                    break;
                case KindTimestamp when size == 10:
                    options.TsVal = BinaryPrimitives.ReadUInt32BigEndian(value);
                    options.TsEcr = BinaryPrimitives.ReadUInt32BigEndian(value[4..]);
                    options.Present |= Timestamp;
                    break;
                case KindSackPermitted when size == 2:
                    options.Present |= SackPermitted;
                    break;
            }
            i += size;
        }
        return options;
    }

    /// <summary>synproxy_options_size: the bytes <see cref="Write"/> writes (a multiple of 4).</summary>
    public readonly int Size =>
        (Has(Mss) ? 4 : 0) + (Has(Timestamp) ? 12 : Has(SackPermitted) ? 4 : 0) + (Has(WindowScale) ? 4 : 0);

    /// <summary>synproxy_build_options: MSS; SACK permitted folded with the timestamp (else NOP NOP); window scale.</summary>
    public readonly void Write(Span<byte> at)
    {
        int i = 0;
        if (Has(Mss))
        {
            BinaryPrimitives.WriteUInt32BigEndian(at[i..], (uint)KindMss << 24 | 4u << 16 | MssValue);
            i += 4;
        }
        if (Has(Timestamp))
        {
            uint lead = Has(SackPermitted) ? (uint)KindSackPermitted << 24 | 2u << 16 : (uint)Nop << 24 | (uint)Nop << 16;
            BinaryPrimitives.WriteUInt32BigEndian(at[i..], lead | (uint)KindTimestamp << 8 | 10);
            BinaryPrimitives.WriteUInt32BigEndian(at[(i + 4)..], TsVal);
            BinaryPrimitives.WriteUInt32BigEndian(at[(i + 8)..], TsEcr);
            i += 12;
        }
        else if (Has(SackPermitted))
        {
            BinaryPrimitives.WriteUInt32BigEndian(at[i..], (uint)Nop << 24 | (uint)Nop << 16 | (uint)KindSackPermitted << 8 | 2);
            i += 4;
        }
        if (Has(WindowScale))
            BinaryPrimitives.WriteUInt32BigEndian(at[i..], (uint)Nop << 24 | (uint)KindWindow << 16 | 3u << 8 | Scale);
    }

    /// <summary>
    /// synproxy_init_timestamp_cookie: the SYN-ACK's timestamp echoes the client's and carries, in its low 6 bits, the
    /// client's window scale (0xf: none), SACK permitted (bit 4) and ECN (bit 5); the SYN-ACK then offers
    /// <paramref name="ourScale"/>. <paramref name="nowMs"/>: the clock in milliseconds.
    /// </summary>
    public void EncodeTimestamp(uint nowMs, byte ourScale)
    {
        TsEcr = TsVal;
        TsVal = nowMs & ~0x3fu;
        if (Has(WindowScale))
        {
            TsVal |= Scale;
            Scale = ourScale;
        }
        else
        {
            TsVal |= 0xf;
        }
        if (Has(SackPermitted)) TsVal |= 1u << 4;
        if (Has(Ecn)) TsVal |= 1u << 5;
    }

    /// <summary>synproxy_check_timestamp_cookie: the client's window scale, SACK permitted and ECN from the echoed timestamp.</summary>
    public void DecodeTimestamp()
    {
        Scale = (byte)(TsEcr & 0xf);
        if (Scale != 0xf) Present |= WindowScale;
        if ((TsEcr & (1u << 4)) != 0) Present |= SackPermitted;
        if ((TsEcr & (1u << 5)) != 0) Present |= Ecn;
    }
}
