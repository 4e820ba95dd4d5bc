using System.Buffers.Binary;
using System.Diagnostics;

namespace UserLB.IO.PcapFiles;

/// <summary>
/// Sequential reader for classic libpcap files (either byte order, microsecond or nanosecond
/// magic) and pcapng files (any number of sections in either byte order; Interface Description,
/// Enhanced Packet, Simple Packet and obsolete Packet Blocks; all other block types are skipped).
/// </summary>
/// <remarks>
/// <para>
/// Reading a record performs no heap allocation: packet bytes are read into one reusable buffer
/// and exposed through <see cref="PcapRecord"/>, whose data is valid until the next
/// <see cref="TryReadNext"/> call.
/// </para>
/// <para>
/// Malformed file headers make <see cref="Open"/> / the constructor throw
/// <see cref="InvalidDataException"/>. Corruption or truncation found later never throws:
/// <see cref="TryReadNext"/> returns false and <see cref="Error"/> describes the problem
/// (record number and byte offset). A clean end of file leaves <see cref="Error"/> null.
/// </para>
/// </remarks>
public sealed class PcapReader : IDisposable
{
    /// <summary>
    /// Largest accepted captured length of one record (256 KiB, libpcap's maximum snapshot
    /// length). Larger records are treated as corruption.
    /// </summary>
    public const int MaxCaptureLength = 256 * 1024;

    private const uint PcapMagicMicros = 0xA1B2C3D4;
    private const uint PcapMagicNanos = 0xA1B23C4D;
    private const uint PcapMagicMicrosSwapped = 0xD4C3B2A1;
    private const uint PcapMagicNanosSwapped = 0x4D3CB2A1;
    private const int PcapFileHeaderLength = 24;
    private const int PcapRecordHeaderLength = 16;

    private const uint NgSectionHeaderBlock = 0x0A0D0D0A;
    private const uint NgByteOrderMagic = 0x1A2B3C4D;
    private const uint NgByteOrderMagicSwapped = 0x4D3C2B1A;
    private const uint NgInterfaceDescriptionBlock = 1;
    private const uint NgObsoletePacketBlock = 2;
    private const uint NgSimplePacketBlock = 3;
    private const uint NgEnhancedPacketBlock = 6;
    private const int NgMinSectionHeaderLength = 28;
    private const ushort NgOptionEnd = 0;
    private const ushort NgOptionTsResol = 9;
    private const ushort NgOptionTsOffset = 14;

    private const long NanosPerSecond = 1_000_000_000;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _buffer = new byte[MaxCaptureLength];
    private readonly byte[] _header = new byte[32];
    private readonly byte[] _scratch = new byte[4096];
    private readonly List<NgInterface> _interfaces = [];

    private readonly bool _isPcapNg;
    private bool _bigEndian;

    // Classic pcap only.
    private readonly int _classicLinkType;
    private readonly long _classicFractionScale;

    // Position tracking (the stream need not be seekable).
    private long _offset;
    private long _blockStart;
    private uint _blockType;

    // Current pcapng packet (set by ReadBlock when it returns BlockResult.Packet).
    private long _packetTimestamp;
    private int _packetLength;
    private int _packetOriginalLength;
    private int _packetInterface;

    private bool _finished;
    private bool _disposed;

    /// <summary>
    /// Creates a reader over <paramref name="stream"/> and reads the file header.
    /// </summary>
    /// <param name="stream">Readable stream positioned at the start of the capture.</param>
    /// <param name="name">Name used in error messages (e.g. the file path).</param>
    /// <param name="leaveOpen">When true, <see cref="Dispose"/> does not dispose the stream.</param>
    /// <exception cref="InvalidDataException">
    /// The stream is empty, has an unknown magic number or a malformed file/section header.
    /// </exception>
    public PcapReader(Stream stream, string? name = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("The stream must be readable.", nameof(stream));
        }

        _stream = stream;
        _leaveOpen = leaveOpen;
        Name = string.IsNullOrEmpty(name) ? "<stream>" : name;
        LinkType = LinkTypes.Unknown;

        Span<byte> magicBytes = _header.AsSpan(0, 4);
        int got = Read(magicBytes);
        if (got == 0)
        {
            throw new InvalidDataException($"Capture file '{Name}' is empty (0 bytes): not a pcap or pcapng file.");
        }

        if (got < 4)
        {
            throw new InvalidDataException(
                $"Capture file '{Name}' is too short ({got} bytes) to be a pcap or pcapng file.");
        }

        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(magicBytes);
        switch (magic)
        {
            case NgSectionHeaderBlock:
                _isPcapNg = true;
                if (!ReadSectionHeader(lengthAlreadyRead: false))
                {
                    throw new InvalidDataException(Error);
                }

                // Look ahead to the first Interface Description Block so LinkType is known.
                // A packet block cannot legally precede it (it would reference no interface),
                // so this never consumes a packet; corruption found here is reported via Error.
                while (_interfaces.Count == 0 && !_finished)
                {
                    BlockResult result = ReadBlock();
                    Debug.Assert(result != BlockResult.Packet, "packet block accepted without an interface");
                }

                return;

            case PcapMagicMicros:
            case PcapMagicNanos:
            case PcapMagicMicrosSwapped:
            case PcapMagicNanosSwapped:
                _bigEndian = magic is PcapMagicMicrosSwapped or PcapMagicNanosSwapped;
                NanosecondResolution = magic is PcapMagicNanos or PcapMagicNanosSwapped;
                _classicFractionScale = NanosecondResolution ? 1 : 1000;
                break;

            default:
                throw new InvalidDataException(
                    $"Capture file '{Name}' is not a pcap or pcapng file: unknown magic number 0x{magic:x8} " +
                    "(expected 0xa1b2c3d4 or 0xa1b23c4d for pcap, 0x0a0d0d0a for pcapng).");
        }

        Span<byte> header = _header.AsSpan(0, PcapFileHeaderLength);
        got = Read(header[4..]);
        if (got < PcapFileHeaderLength - 4)
        {
            throw new InvalidDataException(
                $"Capture file '{Name}' is truncated: the pcap file header needs {PcapFileHeaderLength} bytes " +
                $"but the file has only {4 + got}.");
        }

        ushort versionMajor = U16(header[4..]);
        if (versionMajor != 2)
        {
            throw new InvalidDataException(
                $"Capture file '{Name}' has unsupported pcap version {versionMajor}.{U16(header[6..])} (expected 2.x).");
        }

        // Low 26 bits are the link type; the upper bits may carry FCS information.
        _classicLinkType = (int)(U32(header[20..]) & 0x03FF_FFFF);
        LinkType = _classicLinkType;
    }

    /// <summary>Opens a capture file for reading.</summary>
    /// <exception cref="InvalidDataException">The file is empty or not a pcap/pcapng file.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static PcapReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read,
            bufferSize: 64 * 1024, FileOptions.SequentialScan);
        try
        {
            return new PcapReader(stream, path, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Name used in messages: the file path, or the name given to the constructor.</summary>
    public string Name { get; }

    /// <summary>
    /// Link type of the classic pcap file header, or of the first pcapng interface
    /// (<see cref="LinkTypes.Unknown"/> if a pcapng file has no interface).
    /// Individual records carry their own <see cref="PcapRecord.LinkType"/>.
    /// </summary>
    public int LinkType { get; private set; }

    /// <summary>
    /// True when timestamps have finer than microsecond resolution: nanosecond pcap magic, or a
    /// first pcapng interface whose if_tsresol is finer than 10^-6 s.
    /// </summary>
    public bool NanosecondResolution { get; private set; }

    /// <summary>True for pcapng input, false for classic pcap.</summary>
    public bool IsPcapNg => _isPcapNg;

    /// <summary>Number of records returned so far by <see cref="TryReadNext"/>.</summary>
    public long RecordCount { get; private set; }

    /// <summary>Number of bytes consumed from the stream so far.</summary>
    public long BytesRead => _offset;

    /// <summary>
    /// Why reading stopped early (truncated or corrupt data), including the record number and
    /// byte offset; null while reading is fine and after a clean end of file.
    /// </summary>
    public string? Error { get; private set; }

    /// <summary>
    /// Reads the next packet record. Returns false at end of file or when the data is corrupt
    /// (then <see cref="Error"/> is set). Never throws for bad file content.
    /// </summary>
    /// <param name="record">
    /// The record; its data is valid until the next call or until the reader is disposed.
    /// </param>
    public bool TryReadNext(out PcapRecord record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        record = default;
        if (_finished)
        {
            return false;
        }

        if (!_isPcapNg)
        {
            return TryReadClassic(out record);
        }

        while (true)
        {
            switch (ReadBlock())
            {
                case BlockResult.Packet:
                    RecordCount++;
                    record = new PcapRecord(
                        _packetTimestamp,
                        _buffer.AsSpan(0, _packetLength),
                        _packetOriginalLength,
                        _interfaces[_packetInterface].LinkType,
                        _packetInterface);
                    return true;
                case BlockResult.End:
                    return false;
                default:
                    continue;
            }
        }
    }

    /// <summary>Disposes the underlying stream unless the reader was created with leaveOpen.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _finished = true;
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    // ---------------------------------------------------------------- classic pcap

    private bool TryReadClassic(out PcapRecord record)
    {
        record = default;
        _blockStart = _offset;
        Span<byte> header = _header.AsSpan(0, PcapRecordHeaderLength);
        int got = Read(header);
        if (got == 0)
        {
            _finished = true;
            return false;
        }

        if (got < PcapRecordHeaderLength)
        {
            return Fail(
                $"truncated record #{RecordCount + 1} at byte offset {_blockStart}: the record header needs " +
                $"{PcapRecordHeaderLength} bytes but the file ends after {got}");
        }

        uint seconds = U32(header);
        uint fraction = U32(header[4..]);
        uint capturedLength = U32(header[8..]);
        uint originalLength = U32(header[12..]);

        if (capturedLength > MaxCaptureLength)
        {
            return Fail(
                $"corrupt record #{RecordCount + 1} at byte offset {_blockStart}: captured length {capturedLength} " +
                $"exceeds the maximum of {MaxCaptureLength} bytes");
        }

        int length = (int)capturedLength;
        Span<byte> data = _buffer.AsSpan(0, length);
        got = Read(data);
        if (got < length)
        {
            return Fail(
                $"truncated record #{RecordCount + 1} at byte offset {_blockStart}: captured length is {length} " +
                $"bytes but the file ends after {got} of them (at byte offset {_offset})");
        }

        RecordCount++;
        record = new PcapRecord(
            (seconds * NanosPerSecond) + (fraction * _classicFractionScale),
            data,
            ClampToInt(originalLength),
            _classicLinkType,
            interfaceId: 0);
        return true;
    }

    // ---------------------------------------------------------------- pcapng

    private enum BlockResult
    {
        Metadata,
        Packet,
        End,
    }

    private BlockResult ReadBlock()
    {
        _blockStart = _offset;
        _blockType = 0;
        Span<byte> header = _header.AsSpan(0, 8);
        int got = Read(header);
        if (got == 0)
        {
            _finished = true;
            return BlockResult.End;
        }

        _blockType = U32(header);
        if (got < 8)
        {
            FailBlock($"truncated block header: needs 8 bytes but the file ends after {got}");
            return BlockResult.End;
        }

        if (_blockType == NgSectionHeaderBlock)
        {
            return ReadSectionHeader(lengthAlreadyRead: true) ? BlockResult.Metadata : BlockResult.End;
        }

        uint totalLength = U32(header[4..]);
        if (totalLength < 12 || (totalLength & 3) != 0)
        {
            FailBlock($"invalid block total length {totalLength} (must be a multiple of 4 and at least 12)");
            return BlockResult.End;
        }

        long bodyLength = totalLength - 12L;
        bool ok = _blockType switch
        {
            NgEnhancedPacketBlock => ReadEnhancedOrObsoletePacket(bodyLength, obsolete: false),
            NgObsoletePacketBlock => ReadEnhancedOrObsoletePacket(bodyLength, obsolete: true),
            NgSimplePacketBlock => ReadSimplePacket(bodyLength),
            NgInterfaceDescriptionBlock => ReadInterfaceDescription(bodyLength),
            _ => Skip(bodyLength),
        };

        if (!ok || !ReadTrailer(totalLength))
        {
            return BlockResult.End;
        }

        return _blockType is NgEnhancedPacketBlock or NgObsoletePacketBlock or NgSimplePacketBlock
            ? BlockResult.Packet
            : BlockResult.Metadata;
    }

    /// <summary>
    /// Reads a Section Header Block whose type (and, if <paramref name="lengthAlreadyRead"/>,
    /// length) are already in <c>_header[0..8]</c>. Sets the byte order for the new section.
    /// </summary>
    private bool ReadSectionHeader(bool lengthAlreadyRead)
    {
        _blockType = NgSectionHeaderBlock;
        if (!lengthAlreadyRead)
        {
            _blockStart = _offset - 4;
            if (!ReadFully(_header.AsSpan(4, 4), "section header block length"))
            {
                return false;
            }
        }

        if (!ReadFully(_header.AsSpan(8, 4), "section header byte-order magic"))
        {
            return false;
        }

        uint byteOrderMagic = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(8, 4));
        if (byteOrderMagic == NgByteOrderMagic)
        {
            _bigEndian = false;
        }
        else if (byteOrderMagic == NgByteOrderMagicSwapped)
        {
            _bigEndian = true;
        }
        else
        {
            return FailBlock($"section header has invalid byte-order magic 0x{byteOrderMagic:x8} (expected 0x1a2b3c4d)");
        }

        uint totalLength = U32(_header.AsSpan(4, 4));
        if (totalLength < NgMinSectionHeaderLength || (totalLength & 3) != 0)
        {
            return FailBlock(
                $"invalid section header block length {totalLength} (must be a multiple of 4 and at least {NgMinSectionHeaderLength})");
        }

        Span<byte> version = _header.AsSpan(12, 4);
        if (!ReadFully(version, "section header version"))
        {
            return false;
        }

        ushort major = U16(version);
        if (major != 1)
        {
            return FailBlock($"unsupported pcapng version {major}.{U16(version[2..])} (expected 1.x)");
        }

        // Skip section length and options; they are not needed for sequential reading.
        if (!Skip(totalLength - 20L) || !ReadTrailer(totalLength))
        {
            return false;
        }

        _interfaces.Clear();
        return true;
    }

    private bool ReadInterfaceDescription(long bodyLength)
    {
        if (bodyLength < 8)
        {
            return FailBlock($"interface description block body is {bodyLength} bytes (minimum 8)");
        }

        if (bodyLength > _buffer.Length)
        {
            return FailBlock($"interface description block body is {bodyLength} bytes (maximum {_buffer.Length})");
        }

        Span<byte> body = _buffer.AsSpan(0, (int)bodyLength);
        if (!ReadFully(body, "interface description block"))
        {
            return false;
        }

        int linkType = U16(body);
        uint snapLength = U32(body[4..]);
        byte tsResol = 6;
        long tsOffsetSeconds = 0;

        int pos = 8;
        while (pos + 4 <= body.Length)
        {
            ushort code = U16(body[pos..]);
            int length = U16(body[(pos + 2)..]);
            pos += 4;
            if (code == NgOptionEnd)
            {
                break;
            }

            if (length > body.Length - pos)
            {
                return FailBlock(
                    $"interface description option {code} has length {length}, overrunning the block");
            }

            if (code == NgOptionTsResol && length >= 1)
            {
                tsResol = body[pos];
            }
            else if (code == NgOptionTsOffset && length >= 8)
            {
                tsOffsetSeconds = (long)U64(body[pos..]);
            }

            pos += (length + 3) & ~3;
        }

        if (!NgInterface.TryCreate(linkType, snapLength, tsResol, tsOffsetSeconds, out NgInterface iface))
        {
            return FailBlock($"unsupported if_tsresol value 0x{tsResol:x2} in interface description block");
        }

        _interfaces.Add(iface);
        if (LinkType == LinkTypes.Unknown)
        {
            LinkType = linkType;
            NanosecondResolution = iface.SubMicrosecond;
        }

        return true;
    }

    private bool ReadEnhancedOrObsoletePacket(long bodyLength, bool obsolete)
    {
        const int fixedLength = 20;
        if (bodyLength < fixedLength)
        {
            return FailBlock($"packet block body is {bodyLength} bytes (minimum {fixedLength})");
        }

        Span<byte> fixedPart = _header.AsSpan(8, fixedLength);
        if (!ReadFully(fixedPart, "packet block header"))
        {
            return false;
        }

        uint interfaceId = obsolete ? U16(fixedPart) : U32(fixedPart);
        ulong timestamp = ((ulong)U32(fixedPart[4..]) << 32) | U32(fixedPart[8..]);
        uint capturedLength = U32(fixedPart[12..]);
        uint originalLength = U32(fixedPart[16..]);

        if (interfaceId >= (uint)_interfaces.Count)
        {
            return FailBlock(
                $"packet references interface {interfaceId} but the section has {_interfaces.Count} interface(s)");
        }

        if (capturedLength > MaxCaptureLength)
        {
            return FailBlock(
                $"captured length {capturedLength} exceeds the maximum of {MaxCaptureLength} bytes");
        }

        if (((capturedLength + 3) & ~3u) > bodyLength - fixedLength)
        {
            return FailBlock(
                $"captured length {capturedLength} does not fit in a block body of {bodyLength} bytes");
        }

        if (!ReadPacketData((int)capturedLength) || !Skip(bodyLength - fixedLength - capturedLength))
        {
            return false;
        }

        NgInterface iface = _interfaces[(int)interfaceId];
        _packetInterface = (int)interfaceId;
        _packetTimestamp = iface.ToNanos(timestamp);
        _packetOriginalLength = ClampToInt(originalLength);
        return true;
    }

    private bool ReadSimplePacket(long bodyLength)
    {
        if (bodyLength < 4)
        {
            return FailBlock($"simple packet block body is {bodyLength} bytes (minimum 4)");
        }

        if (_interfaces.Count == 0)
        {
            return FailBlock("simple packet block appears before any interface description block");
        }

        Span<byte> lengthField = _header.AsSpan(8, 4);
        if (!ReadFully(lengthField, "simple packet block header"))
        {
            return false;
        }

        uint originalLength = U32(lengthField);
        NgInterface iface = _interfaces[0];
        long dataArea = bodyLength - 4;
        long capturedLength = Math.Min(originalLength, dataArea);
        if (iface.SnapLength != 0)
        {
            capturedLength = Math.Min(capturedLength, iface.SnapLength);
        }

        if (capturedLength > MaxCaptureLength)
        {
            return FailBlock(
                $"captured length {capturedLength} exceeds the maximum of {MaxCaptureLength} bytes");
        }

        if (!ReadPacketData((int)capturedLength) || !Skip(dataArea - capturedLength))
        {
            return false;
        }

        _packetInterface = 0;
        _packetTimestamp = 0; // Simple Packet Blocks carry no timestamp.
        _packetOriginalLength = ClampToInt(originalLength);
        return true;
    }

    private bool ReadPacketData(int length)
    {
        _packetLength = length;
        return ReadFully(_buffer.AsSpan(0, length), "packet data");
    }

    private bool ReadTrailer(uint expectedLength)
    {
        Span<byte> trailer = _header.AsSpan(28, 4);
        if (!ReadFully(trailer, "block trailer"))
        {
            return false;
        }

        uint trailingLength = U32(trailer);
        return trailingLength == expectedLength
            || FailBlock(
                $"block trailer length {trailingLength} does not match the block header length {expectedLength}");
    }

    // ---------------------------------------------------------------- helpers

    private int Read(Span<byte> destination)
    {
        if (destination.IsEmpty)
        {
            return 0;
        }

        int got = _stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        _offset += got;
        return got;
    }

    private bool ReadFully(Span<byte> destination, string what)
    {
        int got = Read(destination);
        return got == destination.Length
            || FailBlock(
                $"truncated {what}: needs {destination.Length} bytes but the file ends after {got} (at byte offset {_offset})");
    }

    private bool Skip(long count)
    {
        while (count > 0)
        {
            int chunk = (int)Math.Min(count, _scratch.Length);
            int got = Read(_scratch.AsSpan(0, chunk));
            if (got < chunk)
            {
                return FailBlock($"truncated block: the file ends at byte offset {_offset}, {count - got} bytes before the block ends");
            }

            count -= chunk;
        }

        return true;
    }

    private bool FailBlock(string detail)
    {
        string where = _isPcapNg
            ? $"block type 0x{_blockType:x8} at byte offset {_blockStart} (reading record #{RecordCount + 1})"
            : $"record #{RecordCount + 1} at byte offset {_blockStart}";
        return Fail($"corrupt or truncated {where}: {detail}");
    }

    private bool Fail(string detail)
    {
        Error = $"{Name}: {detail}";
        _finished = true;
        return false;
    }

    private ushort U16(ReadOnlySpan<byte> source) =>
        _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(source) : BinaryPrimitives.ReadUInt16LittleEndian(source);

    private uint U32(ReadOnlySpan<byte> source) =>
        _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(source) : BinaryPrimitives.ReadUInt32LittleEndian(source);

    private ulong U64(ReadOnlySpan<byte> source) =>
        _bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(source) : BinaryPrimitives.ReadUInt64LittleEndian(source);

    private static int ClampToInt(uint value) => value > int.MaxValue ? int.MaxValue : (int)value;

    /// <summary>Per-interface data of the current pcapng section.</summary>
    private readonly struct NgInterface
    {
        private readonly ScaleKind _kind;
        private readonly ulong _factor;
        private readonly int _shift;
        private readonly long _offsetNanos;

        private NgInterface(int linkType, uint snapLength, ScaleKind kind, ulong factor, int shift, long offsetNanos,
            bool subMicrosecond)
        {
            LinkType = linkType;
            SnapLength = snapLength;
            _kind = kind;
            _factor = factor;
            _shift = shift;
            _offsetNanos = offsetNanos;
            SubMicrosecond = subMicrosecond;
        }

        private enum ScaleKind : byte
        {
            Multiply,
            Divide,
            PowerOfTwo,
        }

        public int LinkType { get; }

        public uint SnapLength { get; }

        public bool SubMicrosecond { get; }

        public static bool TryCreate(int linkType, uint snapLength, byte tsResol, long tsOffsetSeconds,
            out NgInterface result)
        {
            long offsetNanos = unchecked(tsOffsetSeconds * NanosPerSecond);
            int exponent = tsResol & 0x7F;
            if ((tsResol & 0x80) != 0)
            {
                // Units of 2^-exponent seconds.
                if (exponent > 63)
                {
                    result = default;
                    return false;
                }

                result = new NgInterface(linkType, snapLength, ScaleKind.PowerOfTwo, 0, exponent, offsetNanos,
                    subMicrosecond: exponent > 19);
                return true;
            }

            // Units of 10^-exponent seconds.
            if (exponent > 19 + 9)
            {
                result = default;
                return false;
            }

            result = exponent <= 9
                ? new NgInterface(linkType, snapLength, ScaleKind.Multiply, Pow10(9 - exponent), 0, offsetNanos,
                    subMicrosecond: exponent > 6)
                : new NgInterface(linkType, snapLength, ScaleKind.Divide, Pow10(exponent - 9), 0, offsetNanos,
                    subMicrosecond: true);
            return true;
        }

        public long ToNanos(ulong timestamp)
        {
            ulong nanos = _kind switch
            {
                ScaleKind.Multiply => unchecked(timestamp * _factor),
                ScaleKind.Divide => timestamp / _factor,
                _ => (ulong)(((UInt128)timestamp * NanosPerSecond) >> _shift),
            };
            return unchecked((long)nanos + _offsetNanos);
        }

        private static ulong Pow10(int exponent)
        {
            ulong value = 1;
            for (int i = 0; i < exponent; i++)
            {
                value *= 10;
            }

            return value;
        }
    }
}
