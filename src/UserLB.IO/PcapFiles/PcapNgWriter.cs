using System.Buffers.Binary;
using System.Text;

namespace UserLB.IO.PcapFiles;

/// <summary>
/// Writes little-endian pcapng files (one section): interfaces with a name (if_name) and a description, and Enhanced
/// Packet Blocks with the direction bits of epb_flags and comments (one opt_comment per line), which Wireshark and
/// tshark show as <c>frame.packet_flags_direction</c> and <c>frame.comment</c>.
/// </summary>
/// <remarks>
/// Blocks are staged in an internal buffer and written to the stream in large chunks; writing a packet without
/// comments does not allocate. Call <see cref="Flush"/> or <see cref="Dispose"/> to push buffered blocks to the stream.
/// </remarks>
public sealed class PcapNgWriter : IDisposable
{
    /// <summary>Snapshot length written in each interface description; longer frames are truncated.</summary>
    public const int SnapLength = PcapReader.MaxCaptureLength;

    private const uint SectionHeaderBlock = 0x0A0D0D0A;
    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const uint InterfaceDescriptionBlock = 1;
    private const uint EnhancedPacketBlock = 6;
    private const ushort OptionEnd = 0;
    private const ushort OptionComment = 1;
    private const ushort OptionEpbFlags = 2;
    private const ushort OptionIfName = 2;
    private const ushort OptionIfDescription = 3;
    private const ushort OptionShbUserAppl = 4;
    private const ushort OptionIfTsResol = 9;
    private const int MaxOptionLength = ushort.MaxValue;
    private const int DefaultBufferSize = 64 * 1024;
    private const long NanosPerSecond = 1_000_000_000;

    private readonly List<string> _interfaceNames = [];
    private readonly CaptureOutput _out;

    /// <summary>Creates a writer and stages the Section Header Block.</summary>
    /// <param name="stream">Writable destination stream.</param>
    /// <param name="nanosecondResolution">Interfaces get if_tsresol 9 (nanoseconds) instead of the default microseconds.</param>
    /// <param name="application">shb_userappl: the program that wrote the file.</param>
    /// <param name="leaveOpen">When true, <see cref="Dispose"/> flushes but does not dispose the stream.</param>
    public PcapNgWriter(Stream stream, bool nanosecondResolution = false, string? application = "userlb", bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream must be writable.", nameof(stream));
        }

        _out = new CaptureOutput(stream, leaveOpen, DefaultBufferSize);
        NanosecondResolution = nanosecondResolution;

        int optionsLength = (application is null ? 0 : TextOptionSize(application)) + 4;
        var block = Begin(SectionHeaderBlock, 16 + optionsLength);
        BinaryPrimitives.WriteUInt32LittleEndian(block, ByteOrderMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(block[4..], 1); // version major
        BinaryPrimitives.WriteUInt16LittleEndian(block[6..], 0); // version minor
        BinaryPrimitives.WriteInt64LittleEndian(block[8..], -1); // section length: not given
        int pos = 16;
        if (application is not null)
        {
            pos += WriteTextOption(block[pos..], OptionShbUserAppl, application);
        }

        WriteOption(block[pos..], OptionEnd, []);
        End(block.Length);
    }

    /// <summary>Creates (or overwrites) a pcapng file.</summary>
    public static PcapNgWriter Create(string path, bool nanosecondResolution = false)
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
            return new PcapNgWriter(stream, nanosecondResolution, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>True when timestamps are stored with nanosecond resolution (if_tsresol 9).</summary>
    public bool NanosecondResolution { get; }

    /// <summary>Names of the interfaces added so far, by interface id.</summary>
    public IReadOnlyList<string> InterfaceNames => _interfaceNames;

    /// <summary>Number of packet blocks written so far.</summary>
    public long RecordCount { get; private set; }

    /// <summary>Writes an Interface Description Block; returns the new interface's id (0, 1, …).</summary>
    /// <param name="name">if_name, e.g. "eth0".</param>
    /// <param name="linkType">Link type (see <see cref="LinkTypes"/>).</param>
    /// <param name="description">if_description, or null.</param>
    public int AddInterface(string name, int linkType = LinkTypes.Ethernet, string? description = null)
    {
        ObjectDisposedException.ThrowIf(_out.Disposed, this);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegative(linkType);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(linkType, ushort.MaxValue);

        int optionsLength = TextOptionSize(name)
            + (description is null ? 0 : TextOptionSize(description))
            + (NanosecondResolution ? OptionSize(1) : 0)
            + 4;
        var block = Begin(InterfaceDescriptionBlock, 8 + optionsLength);
        BinaryPrimitives.WriteUInt16LittleEndian(block, (ushort)linkType);
        BinaryPrimitives.WriteUInt16LittleEndian(block[2..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], SnapLength);
        int pos = 8;
        pos += WriteTextOption(block[pos..], OptionIfName, name);
        if (description is not null)
        {
            pos += WriteTextOption(block[pos..], OptionIfDescription, description);
        }

        if (NanosecondResolution)
        {
            pos += WriteOption(block[pos..], OptionIfTsResol, [9]);
        }

        WriteOption(block[pos..], OptionEnd, []);
        End(block.Length);
        _interfaceNames.Add(name);
        return _interfaceNames.Count - 1;
    }

    /// <summary>
    /// Appends an Enhanced Packet Block. Frames longer than <see cref="SnapLength"/> are truncated (the original length
    /// is kept). <paramref name="comment"/>'s lines each become an opt_comment (a line longer than 65535 UTF-8 bytes is
    /// cut); <paramref name="direction"/> other than Unknown is written as epb_flags.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">No such interface, or a negative timestamp.</exception>
    public void Write(int interfaceId, long timestampNanos, ReadOnlySpan<byte> frame,
        PacketDirection direction = PacketDirection.Unknown, string? comment = null)
    {
        ObjectDisposedException.ThrowIf(_out.Disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(timestampNanos);
        if ((uint)interfaceId >= (uint)_interfaceNames.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(interfaceId), interfaceId,
                $"interface {interfaceId} does not exist; the file has {_interfaceNames.Count} interface(s)");
        }

        int originalLength = frame.Length;
        if (frame.Length > SnapLength)
        {
            frame = frame[..SnapLength];
        }

        int optionsLength = 0;
        if (direction != PacketDirection.Unknown)
        {
            optionsLength += OptionSize(4);
        }

        if (!string.IsNullOrEmpty(comment))
        {
            foreach (var line in comment.AsSpan().EnumerateLines())
            {
                optionsLength += TextOptionSize(line);
            }
        }

        if (optionsLength > 0)
        {
            optionsLength += 4;
        }

        int padded = (frame.Length + 3) & ~3;
        var block = Begin(EnhancedPacketBlock, 20 + padded + optionsLength);
        ulong units = NanosecondResolution ? (ulong)timestampNanos : (ulong)(timestampNanos / 1000);
        BinaryPrimitives.WriteUInt32LittleEndian(block, (uint)interfaceId);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], (uint)(units >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(block[8..], (uint)units);
        BinaryPrimitives.WriteUInt32LittleEndian(block[12..], (uint)frame.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(block[16..], (uint)originalLength);
        frame.CopyTo(block[20..]);
        block.Slice(20 + frame.Length, padded - frame.Length).Clear();
        int pos = 20 + padded;
        if (optionsLength > 0)
        {
            if (direction != PacketDirection.Unknown)
            {
                Span<byte> flags = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(flags, (uint)direction & PacketFlags.DirectionMask);
                pos += WriteOption(block[pos..], OptionEpbFlags, flags);
            }

            if (!string.IsNullOrEmpty(comment))
            {
                foreach (var line in comment.AsSpan().EnumerateLines())
                {
                    pos += WriteTextOption(block[pos..], OptionComment, line);
                }
            }

            WriteOption(block[pos..], OptionEnd, []);
        }

        End(block.Length);
        RecordCount++;
    }

    /// <summary>Writes buffered blocks to the stream and flushes it.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_out.Disposed, this);
        _out.Flush();
    }

    /// <summary>Flushes, then disposes the stream unless created with leaveOpen.</summary>
    public void Dispose() => _out.Dispose();

    /// <summary>Reserves a block with a body of <paramref name="bodyLength"/> bytes; writes its type and both lengths.</summary>
    private Span<byte> Begin(uint type, int bodyLength)
    {
        int total = 12 + bodyLength;
        if (_out.Buffer.Length - _out.Count < total)
        {
            _out.FlushBuffer();
            if (_out.Buffer.Length < total)
            {
                _out.Buffer = new byte[Math.Max(total, _out.Buffer.Length * 2)];
            }
        }

        var block = _out.Buffer.AsSpan(_out.Count, total);
        BinaryPrimitives.WriteUInt32LittleEndian(block, type);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], (uint)total);
        BinaryPrimitives.WriteUInt32LittleEndian(block[^4..], (uint)total);
        return block[8..^4];
    }

    private void End(int bodyLength) => _out.Count += 12 + bodyLength;

    private static int OptionSize(int valueLength) => 4 + ((valueLength + 3) & ~3);

    private static int WriteOption(Span<byte> destination, ushort code, ReadOnlySpan<byte> value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, code);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)value.Length);
        value.CopyTo(destination[4..]);
        int size = OptionSize(value.Length);
        destination[(4 + value.Length)..size].Clear();
        return size;
    }

    /// <summary>Writes a UTF-8 option, cut at a character boundary when longer than an option can be.</summary>
    private static int WriteTextOption(Span<byte> destination, ushort code, ReadOnlySpan<char> text)
    {
        text = FitText(text, out int length);
        BinaryPrimitives.WriteUInt16LittleEndian(destination, code);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)length);
        int written = Encoding.UTF8.GetBytes(text, destination[4..]);
        int size = OptionSize(written);
        destination[(4 + written)..size].Clear();
        return size;
    }

    /// <summary>The option size of a text option (see <see cref="FitText"/>).</summary>
    private static int TextOptionSize(ReadOnlySpan<char> text)
    {
        FitText(text, out int length);
        return OptionSize(length);
    }

    /// <summary>The longest prefix of <paramref name="text"/> of whole characters whose UTF-8 fits in an option, and its length in bytes.</summary>
    private static ReadOnlySpan<char> FitText(ReadOnlySpan<char> text, out int length)
    {
        length = Encoding.UTF8.GetByteCount(text);
        if (length <= MaxOptionLength)
        {
            return text;
        }

        // At most 3 UTF-8 bytes per UTF-16 unit: start from a prefix that surely fits, then add characters while they do.
        int chars = MaxOptionLength / 3;
        if (char.IsHighSurrogate(text[chars - 1]))
        {
            chars--;
        }

        length = Encoding.UTF8.GetByteCount(text[..chars]);
        while (chars < text.Length)
        {
            int step = char.IsHighSurrogate(text[chars]) && chars + 1 < text.Length ? 2 : 1;
            int more = Encoding.UTF8.GetByteCount(text.Slice(chars, step));
            if (length + more > MaxOptionLength)
            {
                break;
            }

            length += more;
            chars += step;
        }

        return text[..chars];
    }
}
