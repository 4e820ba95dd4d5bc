using System.Globalization;

namespace UserLB.Packets;

/// <summary>The text form of <see cref="VnetHeader"/> (<see cref="VnetHeader.ToString"/>), read back: pcapng comments carry it.</summary>
public readonly partial record struct VnetHeader
{
    /// <summary>
    /// Reads <see cref="ToString"/>'s format: "plain", or space-separated <c>needs_csum start=N offset=N</c>,
    /// <c>data_valid</c>, <c>gso=tcpv4|tcpv6|udp_l4|udp|typeN[+ecn] size=N</c>, <c>hdr_len=N</c> in any order, each once
    /// (N decimal, 0–65535). start= and offset= go with needs_csum (both required), size= with gso= (required).
    /// Returns false for anything else; never throws.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out VnetHeader header) => TryParse(text, out header, out _);

    /// <summary>As <see cref="TryParse(ReadOnlySpan{char}, out VnetHeader)"/>, with why the text is not a header.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out VnetHeader header, out string? error)
    {
        header = default;
        text = text.Trim();
        if (text.IsEmpty)
        {
            error = "empty";
            return false;
        }
        if (text.SequenceEqual("plain"))
        {
            error = null;
            return true;
        }

        byte flags = 0, gso = 0;
        int start = -1, offset = -1, size = -1, hdrLen = -1;
        bool hasGso = false;
        foreach (var range in text.SplitAny(' ', '\t'))
        {
            var token = text[range];
            if (token.IsEmpty) continue;
            int eq = token.IndexOf('=');
            var key = eq < 0 ? token : token[..eq];
            var value = eq < 0 ? [] : token[(eq + 1)..];
            switch (key)
            {
                case "needs_csum" when eq < 0:
                    if (!SetFlag(ref flags, FlagNeedsChecksum, token, out error)) return false;
                    break;
                case "data_valid" when eq < 0:
                    if (!SetFlag(ref flags, FlagDataValid, token, out error)) return false;
                    break;
                case "start" when eq >= 0:
                    if (!ReadNumber(ref start, value, token, out error)) return false;
                    break;
                case "offset" when eq >= 0:
                    if (!ReadNumber(ref offset, value, token, out error)) return false;
                    break;
                case "size" when eq >= 0:
                    if (!ReadNumber(ref size, value, token, out error)) return false;
                    break;
                case "hdr_len" when eq >= 0:
                    if (!ReadNumber(ref hdrLen, value, token, out error)) return false;
                    break;
                case "gso" when eq >= 0:
                    if (hasGso)
                    {
                        error = Inv($"\"{token.ToString()}\": gso given twice");
                        return false;
                    }
                    if (!TryParseGsoType(value, out gso))
                    {
                        error = Inv($"\"{token.ToString()}\": the gso type is not tcpv4, tcpv6, udp_l4, udp or typeN, with an optional +ecn");
                        return false;
                    }
                    hasGso = true;
                    break;
                default:
                    error = Inv($"\"{token.ToString()}\" is not a vnet header field (needs_csum, start=, offset=, data_valid, gso=, size=, hdr_len=)");
                    return false;
            }
        }

        bool needsCsum = (flags & FlagNeedsChecksum) != 0;
        if (needsCsum != (start >= 0 && offset >= 0) || (!needsCsum && (start >= 0 || offset >= 0)))
        {
            error = needsCsum ? "needs_csum wants start= and offset=" : "start= and offset= go with needs_csum";
            return false;
        }
        if (hasGso != size >= 0)
        {
            error = hasGso ? "gso= wants size=" : "size= goes with gso=";
            return false;
        }
        if (flags == 0 && !hasGso)
        {
            error = "neither a checksum flag nor gso: write \"plain\"";
            return false;
        }
        header = new VnetHeader(flags, gso, (ushort)Math.Max(hdrLen, 0), (ushort)Math.Max(size, 0),
            (ushort)Math.Max(start, 0), (ushort)Math.Max(offset, 0));
        error = null;
        return true;
    }

    /// <summary>Reads <see cref="ToString"/>'s format; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static VnetHeader Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var header, out string? error)
            ? header
            : throw new FormatException(Inv($"\"{text}\" is not a vnet header: {error}"));
    }

    private static bool SetFlag(ref byte flags, byte flag, ReadOnlySpan<char> token, out string? error)
    {
        if ((flags & flag) != 0)
        {
            error = Inv($"\"{token.ToString()}\" given twice");
            return false;
        }
        flags |= flag;
        error = null;
        return true;
    }

    private static bool ReadNumber(ref int field, ReadOnlySpan<char> value, ReadOnlySpan<char> token, out string? error)
    {
        if (field >= 0)
        {
            error = Inv($"\"{token.ToString()}\": given twice");
            return false;
        }
        // Decimal digits only: no sign, no spaces, no hex.
        if (value.IsEmpty || value.ContainsAnyExceptInRange('0', '9')
            || !ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ushort n))
        {
            error = Inv($"\"{token.ToString()}\": the value is not a number from 0 to 65535");
            return false;
        }
        field = n;
        error = null;
        return true;
    }

    private static bool TryParseGsoType(ReadOnlySpan<char> value, out byte type)
    {
        byte ecn = 0;
        if (value.EndsWith("+ecn", StringComparison.Ordinal))
        {
            ecn = GsoEcn;
            value = value[..^4];
        }
        byte kind;
        switch (value)
        {
            case "tcpv4": kind = GsoTcpV4; break;
            case "tcpv6": kind = GsoTcpV6; break;
            case "udp_l4": kind = GsoUdpL4; break;
            case "udp": kind = GsoUdp; break;
            default:
                if (!value.StartsWith("type", StringComparison.Ordinal) || value.Length == 4 || value[4..].ContainsAnyExceptInRange('0', '9')
                    || !byte.TryParse(value[4..], NumberStyles.None, CultureInfo.InvariantCulture, out kind) || kind >= GsoEcn)
                {
                    type = 0;
                    return false;
                }
                break;
        }
        type = (byte)(kind | ecn);
        return true;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
