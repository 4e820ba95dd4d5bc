using System.Buffers.Binary;
using System.Diagnostics;

namespace UserLB.IO.PcapFiles;

/// <summary>
/// Sequential reader for classic libpcap files (either byte order, microsecond or nanosecond
/// magic) and pcapng files (any number of sections in either byte order; Interface Description,
/// Enhanced Packet, Simple Packet and obsolete Packet Blocks; all other block types are skipped).
/// Of the options, packet blocks' opt_comment (<see cref="PcapRecord.Comments"/>) and epb_flags
/// (<see cref="PcapRecord.Flags"/>) and interfaces' if_name (<see cref="InterfaceName"/>) are read.
/// </summary>
/// <remarks>
/// <para>
/// Reading a record performs no heap allocation (once the comment buffer has grown to the longest
/// comments): packet bytes are read into one reusable buffer
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
public sealed partial class PcapReader : IDisposable
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
    private const ushort NgOptionComment = 1;
    private const ushort NgOptionEpbFlags = 2;
    private const ushort NgOptionIfName = 2;
    private const ushort NgOptionTsResol = 9;
    private const ushort NgOptionTsOffset = 14;

    private const long NanosPerSecond = 1_000_000_000;

    /// <summary>Largest accepted options area of one packet block (comments included).</summary>
    private const int MaxOptionsLength = 1024 * 1024;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _buffer = new byte[MaxCaptureLength];
    private readonly byte[] _header = new byte[32];
    private readonly byte[] _scratch = new byte[4096];
    private readonly List<NgInterface> _interfaces = [];
    private byte[] _options = new byte[256];
    private byte[] _comments = new byte[256];

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
    private int _commentLength;
    private uint _packetFlags;

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

    /// <summary>Interfaces of the current pcapng section so far (0 for classic pcap).</summary>
    public int InterfaceCount => _interfaces.Count;

    /// <summary>The if_name of pcapng interface <paramref name="interfaceId"/> in the current section, or null (none given, no such interface, classic pcap).</summary>
    public string? InterfaceName(int interfaceId) =>
        (uint)interfaceId < (uint)_interfaces.Count ? _interfaces[interfaceId].Name : null;

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
                        _packetInterface,
                        _comments.AsSpan(0, _commentLength),
                        _packetFlags);
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
            ? $"{BlockName(_blockType)} (block type 0x{_blockType:x8}) at byte offset {_blockStart} (reading record #{RecordCount + 1})"
            : $"record #{RecordCount + 1} at byte offset {_blockStart}";
        return Fail($"corrupt or truncated {where}: {detail}");
    }

    private static string BlockName(uint type) => type switch
    {
        NgSectionHeaderBlock => "section header block",
        NgInterfaceDescriptionBlock => "interface description block",
        NgObsoletePacketBlock => "packet block (obsolete)",
        NgSimplePacketBlock => "simple packet block",
        NgEnhancedPacketBlock => "enhanced packet block",
        _ => "block",
    };

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
}
