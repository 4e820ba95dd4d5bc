using System.Globalization;
using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>Reads and writes the <c>health-check</c> object; every error names the field, e.g. <c>key "health-check.fall"</c>.</summary>
internal static class HealthCheckValues
{
    public const string Key = "health-check";

    public static readonly (string Text, HealthCheckType Value)[] Types =
        [("none", HealthCheckType.None), ("tcp", HealthCheckType.Tcp), ("http", HealthCheckType.Http), ("icmp", HealthCheckType.Icmp)];

    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxInterval = TimeSpan.FromHours(1);

    /// <summary>An object, or the string <c>none</c> (no check).</summary>
    public static HealthCheckConfig Parse(JsonElement e, Where w)
    {
        if (e.ValueKind == JsonValueKind.String)
        {
            var s = e.GetString()!;
            if (string.Equals(s, "none", StringComparison.OrdinalIgnoreCase) || string.Equals(s, "off", StringComparison.OrdinalIgnoreCase))
            {
                return HealthCheckConfig.Default with { Type = HealthCheckType.None };
            }

            throw w.Error(Where.Quote(s) + " is not a health check: expected an object like {\"type\": \"tcp\", \"interval\": \"5\"} or \"none\"");
        }

        if (e.ValueKind != JsonValueKind.Object)
        {
            throw w.Error("expected an object like {\"type\": \"tcp\", \"interval\": \"5\"} or \"none\", got " + ConfigValues.Describe(e));
        }

        var hc = HealthCheckConfig.Default;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        bool timeoutGiven = false;
        foreach (var p in e.EnumerateObject())
        {
            var kw = w.WithKey(Key + "." + p.Name);
            if (!seen.Add(p.Name))
            {
                throw kw.Error("the field is given twice");
            }

            var v = p.Value;
            switch (p.Name)
            {
                case "type":
                    hc = hc with { Type = ConfigValues.Enum(Types, ConfigValues.Scalar(v, kw), kw) };
                    break;
                case "interval":
                    hc = hc with { Interval = Seconds(ConfigValues.Scalar(v, kw), kw, MinInterval, MaxInterval) };
                    break;
                case "timeout":
                    hc = hc with { Timeout = Seconds(ConfigValues.Scalar(v, kw), kw, TimeSpan.FromMilliseconds(1), MaxInterval) };
                    timeoutGiven = true;
                    break;
                case "fall":
                    hc = hc with { Fall = ConfigValues.Int(ConfigValues.Scalar(v, kw), kw, 1, 100) };
                    break;
                case "rise":
                    hc = hc with { Rise = ConfigValues.Int(ConfigValues.Scalar(v, kw), kw, 1, 100) };
                    break;
                case "port":
                    hc = hc with { Port = ConfigValues.Port(ConfigValues.Scalar(v, kw), kw) };
                    break;
                case "path":
                    hc = hc with { Path = HttpPath(ConfigValues.Scalar(v, kw), kw) };
                    break;
                case "status":
                    hc = hc with { Status = ConfigValues.Int(ConfigValues.Scalar(v, kw), kw, 100, 599) };
                    break;
                case "flush":
                    hc = hc with { Flush = Flag(v, kw) };
                    break;
                default:
                    throw w.WithKey(Key).Error("unknown field " + Where.Quote(p.Name)
                        + " (expected type, interval, timeout, fall, rise, port, path, status, flush)");
            }
        }

        if (!timeoutGiven && hc.Timeout > hc.Interval)
        {
            hc = hc with { Timeout = hc.Interval };
        }

        if (hc.Timeout > hc.Interval)
        {
            throw w.WithKey(Key + ".timeout").Error(Print(hc.Timeout) + " s is longer than the interval (" + Print(hc.Interval) + " s)");
        }

        if (hc.Type != HealthCheckType.Http && (seen.Contains("path") || seen.Contains("status")))
        {
            throw w.WithKey(Key + "." + (seen.Contains("path") ? "path" : "status")).Error("only an http check has a path and a status");
        }

        if (hc.Type == HealthCheckType.Icmp && seen.Contains("port"))
        {
            throw w.WithKey(Key + ".port").Error("an icmp check has no port");
        }

        return hc;
    }

    public static void Write(Utf8JsonWriter w, HealthCheckConfig hc)
    {
        w.WriteStartObject(Key);
        w.WriteString("type", ConfigValues.Text(Types, hc.Type));
        w.WriteString("interval", Print(hc.Interval));
        w.WriteString("timeout", Print(hc.Timeout));
        w.WriteString("fall", hc.Fall.ToString(CultureInfo.InvariantCulture));
        w.WriteString("rise", hc.Rise.ToString(CultureInfo.InvariantCulture));
        if (hc.Port != 0) w.WriteString("port", hc.Port.ToString(CultureInfo.InvariantCulture));
        if (hc.Type == HealthCheckType.Http)
        {
            w.WriteString("path", hc.Path);
            w.WriteString("status", hc.Status.ToString(CultureInfo.InvariantCulture));
        }

        w.WriteString("flush", ConfigValues.PrintSwitch(hc.Flush));
        w.WriteEndObject();
    }

    private static string Print(TimeSpan t) => HealthCheckConfig.PrintSeconds(t);

    /// <summary>Seconds (<c>5</c>, <c>0.5</c>) or milliseconds with a suffix (<c>500ms</c>); whole milliseconds.</summary>
    private static TimeSpan Seconds(string s, Where w, TimeSpan min, TimeSpan max)
    {
        var text = s.Trim();
        double scale = 1000;
        if (text.EndsWith("ms", StringComparison.OrdinalIgnoreCase))
        {
            text = text[..^2];
            scale = 1;
        }
        else if (text.EndsWith('s'))
        {
            text = text[..^1];
        }

        if (text.Length == 0 || !char.IsAsciiDigit(text[0])
            || !double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            || double.IsInfinity(value))
        {
            throw w.Error(Where.Quote(s) + " is not a duration (seconds like \"5\" or \"0.5\", or \"500ms\")");
        }

        var ms = Math.Round(value * scale);
        if (ms < min.TotalMilliseconds || ms > max.TotalMilliseconds)
        {
            throw w.Error(Where.Quote(s) + " is out of range (" + Print(min) + " s to " + Print(max) + " s)");
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    private static string HttpPath(string s, Where w)
    {
        if (s.Length == 0 || s[0] != '/' || s.Length > 1024)
        {
            throw w.Error(Where.Quote(s) + " is not an HTTP path (it starts with '/')");
        }

        foreach (var c in s)
        {
            if (c <= ' ' || c >= 0x7f)
            {
                throw w.Error(Where.Quote(s) + " is not an HTTP path (no spaces, control or non-ASCII characters)");
            }
        }

        return s;
    }

    private static bool Flag(JsonElement v, Where w)
    {
        if (v.ValueKind == JsonValueKind.String)
        {
            var s = v.GetString()!;
            if (string.Equals(s, "true", StringComparison.OrdinalIgnoreCase)) return true;
            if (string.Equals(s, "false", StringComparison.OrdinalIgnoreCase)) return false;
        }

        return ConfigValues.Switch(v, w);
    }
}
