using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>Parsing and printing of single nftlb values. Every parser throws <see cref="ConfigException"/> located by <see cref="Where"/>.</summary>
internal static partial class ConfigValues
{
    public static readonly (string Text, AddressFamilyKind Value)[] Families =
        [("ipv4", AddressFamilyKind.Ipv4), ("ipv6", AddressFamilyKind.Ipv6), ("inet", AddressFamilyKind.Inet)];

    public static readonly (string Text, FarmMode Value)[] Modes =
        [("snat", FarmMode.Snat), ("dnat", FarmMode.Dnat), ("dsr", FarmMode.Dsr), ("stlsdnat", FarmMode.StlsDnat), ("local", FarmMode.Local)];

    public static readonly (string Text, FarmProtocol Value)[] Protocols =
        [("tcp", FarmProtocol.Tcp), ("udp", FarmProtocol.Udp), ("sctp", FarmProtocol.Sctp), ("all", FarmProtocol.All)];

    public static readonly (string Text, SchedulerKind Value)[] Schedulers =
        [("rr", SchedulerKind.RoundRobin), ("weight", SchedulerKind.Weight), ("hash", SchedulerKind.Hash), ("symhash", SchedulerKind.SymHash)];

    /// <summary>Object states; "available" is how nftlb's GET prints an up backend standing by for priority (read as up, written "up").</summary>
    public static readonly (string Text, ObjectState Value)[] States =
        [("up", ObjectState.Up), ("down", ObjectState.Down), ("off", ObjectState.Off), ("available", ObjectState.Up)];

    public static readonly (string Text, ConfigAction Value)[] Actions =
        [("none", ConfigAction.None), ("start", ConfigAction.Start), ("stop", ConfigAction.Stop), ("reload", ConfigAction.Reload),
         ("delete", ConfigAction.Delete), ("flush", ConfigAction.Flush)];

    public static readonly (string Text, HashFields Value)[] HashFieldNames =
        [("srcip", HashFields.SrcIp), ("dstip", HashFields.DstIp), ("srcport", HashFields.SrcPort), ("dstport", HashFields.DstPort),
         ("srcmac", HashFields.SrcMac), ("dstmac", HashFields.DstMac)];

    public static readonly (string Text, LogTargets Value)[] LogNames =
        [("input", LogTargets.Input), ("forward", LogTargets.Forward), ("output", LogTargets.Output)];

    public static readonly string[] Helpers = ["none", "ftp", "pptp", "sip", "snmp", "tftp"];

    private static readonly string[] RateUnits = ["second", "minute", "hour", "day", "week"];

    private static readonly string[] VerdictNames = ["log", "drop", "accept"];

    private static readonly System.Buffers.SearchValues<char> HexDigits =
        System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    private static readonly char[] ListSeparators = [' ', '\t', ',', '\n', '\r'];

    // ---- scalars ----------------------------------------------------------------------------------

    public static string Name(string s, Where w)
    {
        if (s.Length == 0)
        {
            throw w.Error("the name cannot be empty");
        }

        if (s.Length > 255)
        {
            throw w.Error(Where.Quote(s) + " is not a valid name (at most 255 characters)");
        }

        foreach (var c in s)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c) || c == '/')
            {
                throw w.Error(Where.Quote(s) + " is not a valid name (no spaces, '/' or control characters)");
            }
        }

        return s;
    }

    public static T Enum<T>((string Text, T Value)[] table, string s, Where w)
    {
        foreach (var (text, value) in table)
        {
            if (string.Equals(text, s, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        throw w.Error(Where.Quote(s) + " is not one of: " + string.Join(", ", table.Select(t => t.Text)));
    }

    public static string Text<T>((string Text, T Value)[] table, T value)
        where T : struct, Enum
    {
        foreach (var (text, v) in table)
        {
            if (EqualityComparer<T>.Default.Equals(v, value))
            {
                return text;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(value), value, "no nftlb name for this value");
    }

    /// <summary>An integer in [min, max] written as plain decimal digits (a leading '-' only when min &lt; 0).</summary>
    public static int Int(string s, Where w, int min, int max = int.MaxValue)
    {
        var ok = s.Length > 0 && s.Length <= 11;
        var i = 0;
        if (ok && s[0] == '-' && min < 0)
        {
            i = 1;
            ok = s.Length > 1;
        }

        for (; ok && i < s.Length; i++)
        {
            ok = char.IsAsciiDigit(s[i]);
        }

        if (ok && int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max)
        {
            return v;
        }

        string what = (min, max) switch
        {
            (0, int.MaxValue) => "a non-negative integer",
            (_, int.MaxValue) => string.Create(CultureInfo.InvariantCulture, $"an integer >= {min}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"an integer from {min} to {max}"),
        };
        throw w.Error(Where.Quote(s) + " is not " + what);
    }

    public static ushort Port(string s, Where w)
    {
        if (s.Length == 0)
        {
            return 0;
        }

        if (!TryPort(s, out var port))
        {
            throw w.Error(Where.Quote(s) + " is not a port number (0-65535)");
        }

        return port;
    }

    /// <summary>nftlb marks are hexadecimal strings (<c>0x200</c> or <c>200</c>); a JSON number is taken as decimal.</summary>
    public static uint Mark(JsonElement e, Where w)
    {
        if (e.ValueKind == JsonValueKind.Number)
        {
            if (e.TryGetUInt32(out var n))
            {
                return n;
            }

            throw w.Error(Where.Quote(e.GetRawText()) + " is not a mark (a 32-bit unsigned number)");
        }

        var s = Scalar(e, w);
        var digits = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? s.AsSpan(2) : s.AsSpan();
        if (digits.Length > 0
            && !digits.ContainsAnyExcept(HexDigits)
            && uint.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var mark))
        {
            return mark;
        }

        throw w.Error(Where.Quote(s) + " is not a mark (hexadecimal, e.g. \"0x200\", at most 0xffffffff)");
    }

    public static string PrintMark(uint mark) => "0x" + mark.ToString("x", CultureInfo.InvariantCulture);

    public static bool Switch(JsonElement e, Where w)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            case JsonValueKind.String:
                var s = e.GetString()!;
                if (string.Equals(s, "on", StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }

                if (string.Equals(s, "off", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }

                throw w.Error(Where.Quote(s) + " is not one of: on, off");
            default:
                throw w.Error("expected \"on\" or \"off\", got " + Describe(e));
        }
    }

    public static string PrintSwitch(bool on) => on ? "on" : "off";

    /// <summary>Rate limits: <c>N</c> or <c>N/second</c>. Other nftlb units (minute, hour, ...) are rejected on purpose: the model is per second.</summary>
    public static int RatePerSecond(string s, Where w)
    {
        var slash = s.IndexOf('/', StringComparison.Ordinal);
        var number = slash < 0 ? s : s[..slash];
        if (slash >= 0)
        {
            var unit = s[(slash + 1)..];
            if (!string.Equals(unit, "second", StringComparison.OrdinalIgnoreCase))
            {
                if (RateUnits.Contains(unit.ToLowerInvariant()))
                {
                    throw w.Error(Where.Quote(s) + " is not supported: only per-second rate limits are (\"N\" or \"N/second\")");
                }

                throw w.Error(Where.Quote(s) + " is not a rate limit (\"N\" or \"N/second\")");
            }
        }

        if (number.Length == 0 || number.Any(c => !char.IsAsciiDigit(c)) || !int.TryParse(number, CultureInfo.InvariantCulture, out var n))
        {
            throw w.Error(Where.Quote(s) + " is not a rate limit (\"N\" or \"N/second\")");
        }

        return n;
    }

    public static string PrintRate(int perSecond) =>
        perSecond == 0 ? "0" : perSecond.ToString(CultureInfo.InvariantCulture) + "/second";

    /// <summary>A space-separated set of hash fields, or <c>none</c>; empty means none.</summary>
    public static HashFields HashFieldSet(string s, Where w)
    {
        var tokens = s.Split(ListSeparators, StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length == 1 && string.Equals(tokens[0], "none", StringComparison.OrdinalIgnoreCase))
        {
            return HashFields.None;
        }

        var result = HashFields.None;
        foreach (var t in tokens)
        {
            var found = false;
            foreach (var (text, value) in HashFieldNames)
            {
                if (string.Equals(text, t, StringComparison.OrdinalIgnoreCase))
                {
                    result |= value;
                    found = true;
                }
            }

            if (!found)
            {
                throw w.Error(Where.Quote(s) + ": unknown field " + Where.Quote(t)
                    + "; expected none, or any of: " + string.Join(' ', HashFieldNames.Select(f => f.Text)));
            }
        }

        return result;
    }

    public static string PrintHashFields(HashFields fields) => PrintFlags(HashFieldNames, fields);

    public static LogTargets Log(JsonElement e, Where w)
    {
        if (e.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            // A boolean means "log new connections where they are forwarded" / "don't log".
            return e.ValueKind == JsonValueKind.True ? LogTargets.Forward : LogTargets.None;
        }

        var s = ScalarOrList(e, w, ' ');
        var tokens = s.Split(ListSeparators, StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length == 1 && string.Equals(tokens[0], "none", StringComparison.OrdinalIgnoreCase))
        {
            return LogTargets.None;
        }

        var result = LogTargets.None;
        foreach (var t in tokens)
        {
            var found = false;
            foreach (var (text, value) in LogNames)
            {
                if (string.Equals(text, t, StringComparison.OrdinalIgnoreCase))
                {
                    result |= value;
                    found = true;
                }
            }

            if (!found)
            {
                throw w.Error(Where.Quote(s) + ": unknown log target " + Where.Quote(t)
                    + "; expected none, or any of: " + string.Join(' ', LogNames.Select(f => f.Text)));
            }
        }

        return result;
    }

    public static string PrintLog(LogTargets log) => PrintFlags(LogNames, log);

    public static string Helper(string s, Where w)
    {
        foreach (var h in Helpers)
        {
            if (string.Equals(h, s, StringComparison.OrdinalIgnoreCase))
            {
                return h;
            }
        }

        throw w.Error(Where.Quote(s) + " is not one of: " + string.Join(", ", Helpers));
    }

    /// <summary>Helpers nftlb allows per protocol (farm_s_validate_helper_proto); sctp has no conntrack helpers.</summary>
    public static bool HelperFitsProtocol(string helper, FarmProtocol protocol) => helper == "none" || protocol switch
    {
        FarmProtocol.All => helper is "sip",
        FarmProtocol.Tcp => helper is "ftp" or "pptp" or "sip",
        FarmProtocol.Udp => helper is "tftp" or "snmp" or "sip",
        _ => false,
    };

    /// <summary>Strict IP parsing: dotted-quad IPv4 (no shorthand, no leading zeros) or IPv6 without scope or prefix.</summary>
    public static IPAddress Ip(string s, Where w)
    {
        if (TryIp(s, out var ip))
        {
            return ip;
        }

        throw w.Error(Where.Quote(s) + " is not an IP address");
    }

    /// <summary>An optional address: "" means none (nftlb writes "source-addr": "" for none).</summary>
    public static IPAddress? OptionalIp(string s, Where w) => s.Length == 0 ? null : Ip(s, w);

    public static bool TryIp(string s, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? ip)
    {
        ip = null;
        if (s.Contains(':', StringComparison.Ordinal))
        {
            if (s.Contains('%', StringComparison.Ordinal) || s.Contains('/', StringComparison.Ordinal) || s.Contains('[', StringComparison.Ordinal)
                || !IPAddress.TryParse(s, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                return false;
            }

            ip = v6;
            return true;
        }

        Span<byte> bytes = stackalloc byte[4];
        var part = 0;
        var start = 0;
        for (var i = 0; i <= s.Length; i++)
        {
            if (i < s.Length && s[i] != '.')
            {
                continue;
            }

            var octet = s.AsSpan(start, i - start);
            if (part >= 4 || octet.Length is 0 or > 3 || (octet.Length > 1 && octet[0] == '0')
                || octet.ContainsAnyExceptInRange('0', '9') || !byte.TryParse(octet, NumberStyles.None, CultureInfo.InvariantCulture, out var b))
            {
                return false;
            }

            bytes[part++] = b;
            start = i + 1;
        }

        if (part != 4)
        {
            return false;
        }

        ip = new IPAddress(bytes);
        return true;
    }

    public static string FamilyName(IPAddress ip) => ip.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    public static bool FamilyAllows(AddressFamilyKind family, IPAddress ip) => family switch
    {
        AddressFamilyKind.Ipv4 => ip.AddressFamily == AddressFamily.InterNetwork,
        AddressFamilyKind.Ipv6 => ip.AddressFamily == AddressFamily.InterNetworkV6,
        _ => true,
    };

    /// <summary>"" = none; else six hex octets separated by ':'.</summary>
    public static string? Mac(string s, Where w)
    {
        if (s.Length == 0)
        {
            return null;
        }

        var ok = s.Length == 17;
        for (var i = 0; ok && i < 17; i++)
        {
            ok = i % 3 == 2 ? s[i] == ':' : char.IsAsciiHexDigit(s[i]);
        }

        return ok ? s : throw w.Error(Where.Quote(s) + " is not a MAC address (e.g. \"02:00:00:00:00:01\")");
    }

    /// <summary>"" = none; else an interface name (an alias suffix after ':' is allowed, as nftlb strips it).</summary>
    public static string? Iface(string s, Where w)
    {
        if (s.Length == 0)
        {
            return null;
        }

        // Linux's dev_valid_name: 1 to 15 characters (IFNAMSIZ - 1), not "." or "..", no '/', ':' or whitespace.
        var ok = s.Length <= 15 && s != "." && s != "..";
        foreach (var c in s)
        {
            ok &= !char.IsWhiteSpace(c) && !char.IsControl(c) && c != '/' && c != ':';
        }

        return ok ? s : throw w.Error(Where.Quote(s) + " is not an interface name");
    }

    /// <summary><c>80,443,8000-8010</c> (also space-separated); "" = all ports. Result sorted and merged.</summary>
    public static ImmutableArray<PortRange> PortList(string s, Where w)
    {
        var tokens = s.Split(ListSeparators, StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Length == 0)
        {
            return ImmutableArray<PortRange>.Empty;
        }

        var ranges = new List<PortRange>(tokens.Length);
        foreach (var t in tokens)
        {
            var dash = t.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                if (!TryPort(t, out var p))
                {
                    throw w.Error(Where.Quote(s) + ": " + Where.Quote(t) + " is not a port number (0-65535)");
                }

                ranges.Add(PortRange.Single(p));
                continue;
            }

            if (!TryPort(t[..dash], out var first) || !TryPort(t[(dash + 1)..], out var last))
            {
                throw w.Error(Where.Quote(s) + ": " + Where.Quote(t) + " is not a port range (\"first-last\", ports 0-65535)");
            }

            if (first > last)
            {
                throw w.Error(Where.Quote(s) + ": in range " + Where.Quote(t) + " the first port is greater than the last");
            }

            ranges.Add(new PortRange(first, last));
        }

        ranges.Sort((a, b) => a.First.CompareTo(b.First));
        var merged = ImmutableArray.CreateBuilder<PortRange>(ranges.Count);
        foreach (var r in ranges)
        {
            if (merged.Count > 0 && r.First <= merged[^1].Last + 1)
            {
                var top = merged[^1];
                merged[^1] = new PortRange(top.First, Math.Max(top.Last, r.Last));
            }
            else
            {
                merged.Add(r);
            }
        }

        return merged.ToImmutable();
    }

    public static string PrintPorts(ImmutableArray<PortRange> ports) =>
        ports.IsDefaultOrEmpty ? string.Empty : string.Join(',', ports.Select(p => p.ToString()));
}
