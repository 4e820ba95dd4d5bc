using System.Diagnostics;
using System.Text.Json;

namespace UserLB.IO.Tests.PcapFiles;

/// <summary>
/// Reads capture files back with tshark (Wireshark's dissectors: an independent reader of what we write). run-tests.sh
/// installs it; tests that need it skip when it is absent.
/// </summary>
internal static class Tshark
{
    private static readonly Lazy<string?> Found = new(() =>
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            var candidate = Path.Combine(dir, "tshark");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    });

    public static bool Available => Found.Value is not null;

    public const string Missing = "tshark is not installed (run-tests.sh installs it: apt-get install tshark)";

    /// <summary>
    /// One dictionary per frame: field name → its values (several for repeated fields such as frame.comment; absent
    /// fields are missing from the dictionary). Fails the test when tshark reports an error.
    /// </summary>
    public static List<Dictionary<string, string[]>> Fields(string file, params string[] fields)
    {
        var psi = new ProcessStartInfo(Found.Value ?? throw new InvalidOperationException(Missing))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-n", "-r", file, "-T", "json" }) psi.ArgumentList.Add(a);
        foreach (var f in fields)
        {
            psi.ArgumentList.Add("-e");
            psi.ArgumentList.Add(f);
        }
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"tshark -r {file} failed ({p.ExitCode}): {stderr.Result}");
        var frames = new List<Dictionary<string, string[]>>();
        using var doc = JsonDocument.Parse(stdout.Length == 0 ? "[]" : stdout);
        foreach (var frame in doc.RootElement.EnumerateArray())
        {
            var row = new Dictionary<string, string[]>(StringComparer.Ordinal);
            if (frame.GetProperty("_source").TryGetProperty("layers", out var layers))
            {
                foreach (var prop in layers.EnumerateObject())
                    row[prop.Name] = [.. prop.Value.EnumerateArray().Select(v => v.GetString() ?? "")];
            }

            frames.Add(row);
        }
        return frames;
    }

    /// <summary>The first value of <paramref name="field"/>, or null.</summary>
    public static string? One(this Dictionary<string, string[]> frame, string field) =>
        frame.TryGetValue(field, out var v) && v.Length > 0 ? v[0] : null;

    /// <summary>The first value of <paramref name="field"/> as a number (tshark prints some in hex, "0x00000001"), or null.</summary>
    public static long? Number(this Dictionary<string, string[]> frame, string field)
    {
        string? v = frame.One(field);
        if (v is null) return null;
        return v.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? Convert.ToInt64(v[2..], 16)
            : long.Parse(v, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Every value of <paramref name="field"/> (none: empty).</summary>
    public static string[] All(this Dictionary<string, string[]> frame, string field) =>
        frame.TryGetValue(field, out var v) ? v : [];
}
