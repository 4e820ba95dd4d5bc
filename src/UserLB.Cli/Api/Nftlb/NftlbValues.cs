using System.Globalization;

namespace UserLB.Cli.Api.Nftlb;

/// <summary>
/// How nftlb reads and prints each value: enums fall back to their default with a warning, rates take a unit
/// (second, minute, hour, day, week; per second when none), marks print as hexadecimal, field lists end each field with a space.
/// </summary>
internal static class NftlbValues
{
    public static readonly string[] Families = ["ipv4", "ipv6", "dual"];
    public static readonly string[] Modes = ["snat", "dnat", "dsr", "stlsdnat", "local"];
    public static readonly string[] Protocols = ["tcp", "udp", "sctp", "all"];
    public static readonly string[] Schedulers = ["rr", "weight", "hash", "symhash"];
    public static readonly string[] Helpers = ["none", "ftp", "pptp", "sip", "snmp", "tftp"];
    public static readonly string[] FarmStates = ["up", "down", "off", "config_error"];
    public static readonly string[] BackendStates = ["up", "down", "off", "config_error"];
    public static readonly string[] Switches = ["on", "off"];
    public static readonly string[] PolicyTypes = ["blacklist", "whitelist"];
    public static readonly string[] Routes = ["in", "out"];
    public static readonly string[] HashFields = ["srcip", "dstip", "srcport", "dstport", "srcmac", "dstmac"];
    public static readonly string[] LogHooks = ["input", "forward", "output"];
    public static readonly string[] Verdicts = ["log", "drop", "accept"];
    private static readonly string[] RateUnits = ["second", "minute", "hour", "day", "week"];

    /// <summary>One of <paramref name="known"/>; otherwise the warning nftlb gives and <paramref name="fallback"/>.</summary>
    public static string Enum(string value, string key, string[] known, string fallback, List<string> warnings)
    {
        foreach (var k in known)
            if (string.Equals(k, value, StringComparison.Ordinal)) return k;
        warnings.Add($"Parsing unknown value '{value}' in '{key}', using default '{fallback}'");
        return fallback;
    }

    /// <summary>A rate <c>N[/unit]</c> printed as <c>N/unit</c>; null when it is not one.</summary>
    public static string? Rate(string value)
    {
        int slash = value.IndexOf('/', StringComparison.Ordinal);
        string number = slash < 0 ? value : value[..slash];
        string unit = slash < 0 ? "second" : value[(slash + 1)..];
        if (!ulong.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n)) return null;
        return Array.IndexOf(RateUnits, unit) < 0 ? null : n.ToString(CultureInfo.InvariantCulture) + "/" + unit;
    }

    /// <summary>A mark (hexadecimal, with or without 0x) printed as <c>0x…</c>; null when it is not one.</summary>
    public static string? Mark(string value)
    {
        string digits = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? value[2..] : value;
        if (digits.Length == 0) return "0x0";
        return uint.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint m)
            ? "0x" + m.ToString("x", CultureInfo.InvariantCulture) : null;
    }

    /// <summary>An integer as nftlb prints it (digits only, a leading minus allowed); null when it is not one.</summary>
    public static string? Number(string value) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) ? n.ToString(CultureInfo.InvariantCulture) : null;

    /// <summary>
    /// A list of words from <paramref name="known"/> printed as nftlb does, each followed by a space (<c>"srcip srcport "</c>),
    /// <paramref name="none"/> when empty; unknown words are left out with a warning.
    /// </summary>
    public static string Fields(string value, string key, string[] known, string none, List<string> warnings)
    {
        var words = value.Split([' ', ',', '.'], StringSplitOptions.RemoveEmptyEntries);
        var text = new System.Text.StringBuilder();
        foreach (var k in known)
            if (Array.IndexOf(words, k) >= 0) text.Append(k).Append(' ');
        foreach (var w in words)
            if (Array.IndexOf(known, w) < 0 && w != none) warnings.Add($"Parsing unknown value '{w}' in '{key}'");
        return text.Length == 0 ? none : text.ToString();
    }

    /// <summary>A verdict list, in the order log, drop, accept, each word followed by a space (unset: <c>log drop accept</c>).</summary>
    public static string Verdict(string value, List<string> warnings)
    {
        var words = value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries);
        var text = new System.Text.StringBuilder();
        foreach (var k in Verdicts)
            if (Array.IndexOf(words, k) >= 0) text.Append(k).Append(' ');
        _ = warnings; // as nftlb, other words (e.g. "forward") are left out without a warning
        return text.Length is 0 or 16 ? "log drop accept" : text.ToString(); // all three print as the default does
    }
}
