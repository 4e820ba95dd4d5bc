using System.Buffers.Binary;

namespace UserLB.IO.Tests.PcapFiles;

/// <summary>Appends integers in a chosen byte order; used to build capture files by hand.</summary>
internal sealed class ByteWriter(bool bigEndian)
{
    private readonly List<byte> _bytes = [];

    public bool BigEndian { get; set; } = bigEndian;

    public int Length => _bytes.Count;

    public ByteWriter U8(byte value)
    {
        _bytes.Add(value);
        return this;
    }

    public ByteWriter U16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        if (BigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        }

        return Bytes(b);
    }

    public ByteWriter U32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        if (BigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        }

        return Bytes(b);
    }

    public ByteWriter U64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        if (BigEndian)
        {
            BinaryPrimitives.WriteUInt64BigEndian(b, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        }

        return Bytes(b);
    }

    public ByteWriter Bytes(ReadOnlySpan<byte> value)
    {
        foreach (byte b in value)
        {
            _bytes.Add(b);
        }

        return this;
    }

    public ByteWriter Pad4()
    {
        while ((_bytes.Count & 3) != 0)
        {
            _bytes.Add(0);
        }

        return this;
    }

    public byte[] ToArray() => [.. _bytes];
}

/// <summary>Builds classic pcap files field by field (libpcap file format).</summary>
internal sealed class ClassicPcapBuilder
{
    private readonly ByteWriter _w;

    public ClassicPcapBuilder(bool bigEndian, bool nanos, uint linkType = 1, uint snapLength = 65535)
    {
        _w = new ByteWriter(bigEndian);
        _w.U32(nanos ? 0xA1B23C4Du : 0xA1B2C3D4u) // magic, written in the file's byte order
            .U16(2).U16(4) // version 2.4
            .U32(0) // thiszone
            .U32(0) // sigfigs
            .U32(snapLength)
            .U32(linkType);
    }

    public int Length => _w.Length;

    public ClassicPcapBuilder Record(uint seconds, uint fraction, ReadOnlySpan<byte> data, uint? originalLength = null)
    {
        _w.U32(seconds).U32(fraction).U32((uint)data.Length).U32(originalLength ?? (uint)data.Length).Bytes(data);
        return this;
    }

    /// <summary>A record header claiming <paramref name="capturedLength"/> bytes, followed by <paramref name="data"/>.</summary>
    public ClassicPcapBuilder RawRecord(uint seconds, uint fraction, uint capturedLength, uint originalLength,
        ReadOnlySpan<byte> data)
    {
        _w.U32(seconds).U32(fraction).U32(capturedLength).U32(originalLength).Bytes(data);
        return this;
    }

    public byte[] ToArray() => _w.ToArray();
}

/// <summary>Builds pcapng files block by block (draft-ietf-opsawg-pcapng).</summary>
internal sealed class PcapNgBuilder
{
    public const uint SectionHeaderType = 0x0A0D0D0A;
    public const uint InterfaceDescriptionType = 1;
    public const uint SimplePacketType = 3;
    public const uint NameResolutionType = 4;
    public const uint InterfaceStatisticsType = 5;
    public const uint EnhancedPacketType = 6;

    private readonly ByteWriter _w = new(bigEndian: false);

    public int Length => _w.Length;

    /// <summary>Section Header Block; switches the byte order for all following blocks.</summary>
    public PcapNgBuilder Section(bool bigEndian, ushort major = 1, uint byteOrderMagic = 0x1A2B3C4D)
    {
        _w.BigEndian = bigEndian;
        return Block(SectionHeaderType, b =>
        {
            b.U32(byteOrderMagic).U16(major).U16(0).U64(ulong.MaxValue); // section length: unknown
            Option(b, 4, "UserLB tests"u8); // shb_userappl
            b.U16(0).U16(0); // opt_endofopt
        });
    }

    public PcapNgBuilder Interface(ushort linkType, uint snapLength = 0, byte? tsResol = null, long? tsOffset = null)
    {
        return Block(InterfaceDescriptionType, b =>
        {
            b.U16(linkType).U16(0).U32(snapLength);
            Option(b, 2, "eth0"u8); // if_name
            if (tsResol is { } resol)
            {
                Option(b, 9, [resol]);
            }

            if (tsOffset is { } offset)
            {
                var o = new ByteWriter(b.BigEndian).U64((ulong)offset);
                Option(b, 14, o.ToArray());
            }

            b.U16(0).U16(0);
        });
    }

    public PcapNgBuilder EnhancedPacket(uint interfaceId, ulong timestamp, ReadOnlySpan<byte> data,
        uint? originalLength = null, bool withComment = false)
    {
        byte[] copy = data.ToArray();
        return Block(EnhancedPacketType, b =>
        {
            b.U32(interfaceId).U32((uint)(timestamp >> 32)).U32((uint)timestamp)
                .U32((uint)copy.Length).U32(originalLength ?? (uint)copy.Length)
                .Bytes(copy).Pad4();
            if (withComment)
            {
                Option(b, 1, "a comment that must be ignored"u8); // opt_comment
                b.U16(0).U16(0);
            }
        });
    }

    /// <summary>An EPB whose options area <paramref name="options"/> writes (the end-of-options marker included or not).</summary>
    public PcapNgBuilder EnhancedPacketWithOptions(uint interfaceId, ulong timestamp, ReadOnlySpan<byte> data,
        Action<ByteWriter> options)
    {
        byte[] copy = data.ToArray();
        return Block(EnhancedPacketType, b =>
        {
            b.U32(interfaceId).U32((uint)(timestamp >> 32)).U32((uint)timestamp)
                .U32((uint)copy.Length).U32((uint)copy.Length)
                .Bytes(copy).Pad4();
            options(b);
        });
    }

    /// <summary>An IDB whose if_name is the given bytes (possibly not UTF-8).</summary>
    public PcapNgBuilder InterfaceNamed(ushort linkType, ReadOnlySpan<byte> name)
    {
        byte[] copy = name.ToArray();
        return Block(InterfaceDescriptionType, b =>
        {
            b.U16(linkType).U16(0).U32(0);
            Option(b, 2, copy);
            b.U16(0).U16(0);
        });
    }

    /// <summary>Writes one option (code, length, value, padding).</summary>
    public static void Option(ByteWriter b, ushort code, ReadOnlySpan<byte> value) =>
        b.U16(code).U16((ushort)value.Length).Bytes(value).Pad4();

    public PcapNgBuilder SimplePacket(ReadOnlySpan<byte> data, uint originalLength)
    {
        byte[] copy = data.ToArray();
        return Block(SimplePacketType, b => b.U32(originalLength).Bytes(copy).Pad4());
    }

    public PcapNgBuilder Block(uint type, Action<ByteWriter> body)
    {
        var b = new ByteWriter(_w.BigEndian);
        body(b);
        b.Pad4();
        uint total = (uint)(12 + b.Length);
        _w.U32(type).U32(total).Bytes(b.ToArray()).U32(total);
        return this;
    }

    /// <summary>Appends raw bytes (for deliberately malformed blocks).</summary>
    public PcapNgBuilder Raw(Action<ByteWriter> write)
    {
        write(_w);
        return this;
    }

    public byte[] ToArray() => _w.ToArray();
}
