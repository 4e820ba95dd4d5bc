using System.Buffers.Binary;

namespace UserLB.IO.PcapFiles;

/// <summary>The pcapng blocks: section and interface descriptions, packet blocks and their options.</summary>
public sealed partial class PcapReader
{
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
        string? name = null;

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

            if (code == NgOptionIfName)
            {
                if (!TryDecodeUtf8(body.Slice(pos, length), "if_name", out name))
                {
                    return false;
                }
            }
            else if (code == NgOptionTsResol && length >= 1)
            {
                tsResol = body[pos];
            }
            else if (code == NgOptionTsOffset && length >= 8)
            {
                tsOffsetSeconds = (long)U64(body[pos..]);
            }

            pos += (length + 3) & ~3;
        }

        if (!NgInterface.TryCreate(linkType, snapLength, tsResol, tsOffsetSeconds, name, out NgInterface iface))
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

        long padded = (capturedLength + 3) & ~3u;
        if (!ReadPacketData((int)capturedLength) || !Skip(padded - capturedLength)
            || !ReadPacketOptions(bodyLength - fixedLength - padded))
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
        _commentLength = 0; // nor options
        _packetFlags = 0;
        _packetOriginalLength = ClampToInt(originalLength);
        return true;
    }

    /// <summary>
    /// Reads the options of an Enhanced (or obsolete) Packet Block: every opt_comment, joined by '\n' into
    /// <see cref="_comments"/> (UTF-8, checked), and epb_flags; other options are skipped. An option overrunning the
    /// block, or a comment that is not UTF-8, stops reading with an error naming the block.
    /// </summary>
    private bool ReadPacketOptions(long length)
    {
        _commentLength = 0;
        _packetFlags = 0;
        if (length <= 0)
        {
            return true;
        }

        if (length > MaxOptionsLength)
        {
            return FailBlock($"packet block options are {length} bytes (maximum {MaxOptionsLength})");
        }

        if (_options.Length < length)
        {
            _options = new byte[Math.Max(length, _options.Length * 2)];
        }

        Span<byte> options = _options.AsSpan(0, (int)length);
        if (!ReadFully(options, "packet block options"))
        {
            return false;
        }

        int pos = 0;
        while (pos + 4 <= options.Length)
        {
            ushort code = U16(options[pos..]);
            int optionLength = U16(options[(pos + 2)..]);
            pos += 4;
            if (code == NgOptionEnd)
            {
                break;
            }

            if (optionLength > options.Length - pos)
            {
                return FailBlock($"packet block option {code} has length {optionLength}, overrunning the block");
            }

            ReadOnlySpan<byte> value = options.Slice(pos, optionLength);
            if (code == NgOptionComment)
            {
                if (!AppendComment(value))
                {
                    return false;
                }
            }
            else if (code == NgOptionEpbFlags && optionLength >= 4)
            {
                _packetFlags = U32(value);
            }

            pos += (optionLength + 3) & ~3;
        }

        return true;
    }

    private bool AppendComment(ReadOnlySpan<byte> value)
    {
        int invalidAt = Utf8InvalidAt(value);
        if (invalidAt >= 0)
        {
            return FailBlock(
                $"opt_comment is not valid UTF-8 (byte 0x{value[invalidAt]:x2} at position {invalidAt} of {value.Length})");
        }

        int needed = _commentLength + (_commentLength > 0 ? 1 : 0) + value.Length;
        if (_comments.Length < needed)
        {
            Array.Resize(ref _comments, Math.Max(needed, _comments.Length * 2));
        }

        if (_commentLength > 0)
        {
            _comments[_commentLength++] = (byte)'\n';
        }

        value.CopyTo(_comments.AsSpan(_commentLength));
        _commentLength += value.Length;
        return true;
    }

    private bool TryDecodeUtf8(ReadOnlySpan<byte> value, string option, out string? text)
    {
        // Options are often NUL-terminated by writers that predate the pcapng draft's "not terminated" rule.
        int nul = value.IndexOf((byte)0);
        if (nul >= 0)
        {
            value = value[..nul];
        }

        int invalidAt = Utf8InvalidAt(value);
        if (invalidAt >= 0)
        {
            text = null;
            return FailBlock(
                $"{option} is not valid UTF-8 (byte 0x{value[invalidAt]:x2} at position {invalidAt} of {value.Length})");
        }

        text = System.Text.Encoding.UTF8.GetString(value);
        return true;
    }

    /// <summary>The position of the first byte that is not part of valid UTF-8, or -1 when all is valid.</summary>
    private static int Utf8InvalidAt(ReadOnlySpan<byte> value)
    {
        if (System.Text.Unicode.Utf8.IsValid(value))
        {
            return -1;
        }

        int at = 0;
        while (at < value.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(value[at..], out _, out int consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                return at;
            }

            at += consumed;
        }

        return 0;
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
}
