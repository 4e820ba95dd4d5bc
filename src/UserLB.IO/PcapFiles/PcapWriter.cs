using System.Buffers.Binary;

namespace UserLB.IO.PcapFiles;

/// <summary>
/// Writes classic little-endian libpcap files (version 2.4, snapshot length
/// <see cref="SnapLength"/>) with microsecond or nanosecond timestamps.
/// </summary>
/// <remarks>
/// Records are staged in an internal buffer and written to the stream in large chunks;
/// <see cref="Write(long, ReadOnlySpan{byte})"/> does not allocate. Call <see cref="Flush"/> or
/// <see cref="Dispose"/> to push buffered records to the stream.
/// </remarks>
public sealed class PcapWriter : IDisposable
{
    /// <summary>Snapshot length written to the file header; longer frames are truncated.</summary>
    public const int SnapLength = PcapReader.MaxCaptureLength;

    private const uint MagicMicros = 0xA1B2C3D4;
    private const uint MagicNanos = 0xA1B23C4D;
    private const int FileHeaderLength = 24;
    private const int RecordHeaderLength = 16;
    private const int DefaultBufferSize = 64 * 1024;
    private const long NanosPerSecond = 1_000_000_000;

    private readonly CaptureOutput _out;

    /// <summary>Creates a writer and stages the pcap file header.</summary>
    /// <param name="stream">Writable destination stream.</param>
    /// <param name="linkType">Link type for the file header (see <see cref="LinkTypes"/>).</param>
    /// <param name="nanosecondResolution">Nanosecond (0xa1b23c4d) instead of microsecond magic.</param>
    /// <param name="leaveOpen">When true, <see cref="Dispose"/> flushes but does not dispose the stream.</param>
    public PcapWriter(Stream stream, int linkType = LinkTypes.Ethernet, bool nanosecondResolution = false,
        bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream must be writable.", nameof(stream));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(linkType);

        _out = new CaptureOutput(stream, leaveOpen, DefaultBufferSize);
        LinkType = linkType;
        NanosecondResolution = nanosecondResolution;

        Span<byte> header = _out.Buffer.AsSpan(0, FileHeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header, nanosecondResolution ? MagicNanos : MagicMicros);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2); // version major
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4); // version minor
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0); // thiszone
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // sigfigs
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], SnapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], (uint)linkType);
        _out.Count = FileHeaderLength;
    }

    /// <summary>Creates (or overwrites) a pcap file.</summary>
    public static PcapWriter Create(string path, int linkType = LinkTypes.Ethernet, bool nanosecondResolution = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.Read,
            BufferSize = 0, // the writer does its own buffering
        });
        try
        {
            return new PcapWriter(stream, linkType, nanosecondResolution, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Link type written in the file header.</summary>
    public int LinkType { get; }

    /// <summary>True when timestamps are stored with nanosecond resolution.</summary>
    public bool NanosecondResolution { get; }

    /// <summary>Number of records written so far.</summary>
    public long RecordCount { get; private set; }

    /// <summary>
    /// Appends a record whose original length equals <paramref name="frame"/>'s length.
    /// Frames longer than <see cref="SnapLength"/> are truncated (the original length is kept).
    /// </summary>
    /// <param name="timestampNanos">Nanoseconds since the Unix epoch; truncated to microseconds
    /// unless the writer uses nanosecond resolution.</param>
    /// <param name="frame">Link-layer frame bytes.</param>
    public void Write(long timestampNanos, ReadOnlySpan<byte> frame) =>
        Write(timestampNanos, frame, frame.Length);

    /// <summary>
    /// Appends a record with an explicit on-the-wire length (for frames that were already
    /// truncated when captured).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// The timestamp is outside 1970-01-01..2106-02-07 (unrepresentable in pcap), or
    /// <paramref name="originalLength"/> is smaller than the frame.
    /// </exception>
    public void Write(long timestampNanos, ReadOnlySpan<byte> frame, int originalLength)
    {
        ObjectDisposedException.ThrowIf(_out.Disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(timestampNanos);
        ArgumentOutOfRangeException.ThrowIfLessThan(originalLength, frame.Length);

        long seconds = timestampNanos / NanosPerSecond;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seconds, uint.MaxValue, nameof(timestampNanos));
        long fraction = timestampNanos % NanosPerSecond;
        if (!NanosecondResolution)
        {
            fraction /= 1000;
        }

        if (frame.Length > SnapLength)
        {
            frame = frame[..SnapLength];
        }

        if (_out.Buffer.Length - _out.Count < RecordHeaderLength)
        {
            _out.FlushBuffer();
        }

        Span<byte> header = _out.Buffer.AsSpan(_out.Count, RecordHeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)fraction);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)frame.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)originalLength);
        _out.Count += RecordHeaderLength;

        if (frame.Length > _out.Buffer.Length - _out.Count)
        {
            _out.FlushBuffer();
            if (frame.Length > _out.Buffer.Length)
            {
                _out.Stream.Write(frame);
                RecordCount++;
                return;
            }
        }

        frame.CopyTo(_out.Buffer.AsSpan(_out.Count));
        _out.Count += frame.Length;
        RecordCount++;
    }

    /// <summary>Writes buffered records to the stream and flushes it.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_out.Disposed, this);
        _out.Flush();
    }

    /// <summary>Flushes, then disposes the stream unless created with leaveOpen.</summary>
    public void Dispose() => _out.Dispose();
}
