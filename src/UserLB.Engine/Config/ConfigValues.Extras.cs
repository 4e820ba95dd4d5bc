using System.Collections.Immutable;
using System.Globalization;

namespace UserLB.Engine.Config;

/// <summary>ConfigValues: the values of the keys kept verbatim (extras), checked and normalized.</summary>
internal static partial class ConfigValues
{
    // ---- raw extras -------------------------------------------------------------------------------

    /// <summary>Any text (prefixes, fqdn).</summary>
    public static string AnyText(string s, Where w)
    {
        foreach (var c in s)
        {
            if (char.IsControl(c))
            {
                throw w.Error(Where.Quote(s) + " contains control characters");
            }
        }

        return s;
    }

    public static string NonNegativeText(string s, Where w) =>
        s.Length == 0 ? s : Int(s, w, 0).ToString(CultureInfo.InvariantCulture);

    public static string QueueText(string s, Where w) =>
        s.Length == 0 ? s : Int(s, w, -1).ToString(CultureInfo.InvariantCulture);

    /// <summary>A dsr backend's <c>tunnel</c> (UserLB's key): <c>ipip</c>, or <c>none</c>/empty (layer 2, the default) as "".</summary>
    public static string TunnelText(string s, Where w) =>
        s.ToLowerInvariant() switch
        {
            "" or "none" => string.Empty,
            "ipip" => "ipip",
            _ => throw w.Error(Where.Quote(s) + " is not one of: none, ipip"),
        };

    /// <summary>nftlb log-rtlimit: <c>N</c> or <c>N/unit</c> with unit second, minute, hour, day or week (kept as text).</summary>
    public static string AnyRateText(string s, Where w)
    {
        if (s.Length == 0)
        {
            return s;
        }

        var slash = s.IndexOf('/', StringComparison.Ordinal);
        var number = slash < 0 ? s : s[..slash];
        var ok = number.Length > 0 && number.All(char.IsAsciiDigit) && int.TryParse(number, CultureInfo.InvariantCulture, out _);
        if (ok && slash >= 0)
        {
            ok = RateUnits.Contains(s[(slash + 1)..].ToLowerInvariant());
        }

        return ok ? s : throw w.Error(Where.Quote(s) + " is not a rate limit (\"N\" or \"N/second|minute|hour|day|week\")");
    }

    /// <summary>nftlb verdict: any of log, drop, accept.</summary>
    public static string VerdictText(string s, Where w)
    {
        foreach (var t in s.Split(ListSeparators, StringSplitOptions.RemoveEmptyEntries))
        {
            if (!VerdictNames.Contains(t.ToLowerInvariant()) && !string.Equals(t, "none", StringComparison.OrdinalIgnoreCase))
            {
                throw w.Error(Where.Quote(s) + ": unknown verdict " + Where.Quote(t) + "; expected any of: log drop accept");
            }
        }

        return s;
    }

    private static bool TryPort(string s, out ushort port)
    {
        port = 0;
        return s.Length is > 0 and <= 5 && s.All(char.IsAsciiDigit)
            && ushort.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out port);
    }

    private static string PrintFlags<T>((string Text, T Value)[] names, T flags)
        where T : struct, Enum
    {
        var bits = Convert.ToInt32(flags, CultureInfo.InvariantCulture);
        if (bits == 0)
        {
            return "none";
        }

        var parts = new List<string>();
        foreach (var (text, value) in names)
        {
            var bit = Convert.ToInt32(value, CultureInfo.InvariantCulture);
            if ((bits & bit) == bit)
            {
                parts.Add(text);
            }
        }

        return string.Join(' ', parts);
    }
}
