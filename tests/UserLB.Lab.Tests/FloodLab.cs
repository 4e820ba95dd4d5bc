using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace UserLB.Lab.Tests;

/// <summary>One flood at the VIP in a lab, with new connections tried during and after it: what the flood tool printed,
/// its packets a second, and each new connection's result.</summary>
public sealed record Flood(string Tool, string Output, double Pps, List<(double Seconds, string? Error)> During, List<(double Seconds, string? Error)> After)
{
    public int Served(List<(double Seconds, string? Error)> list) => list.Count(x => x.Error is null);

    public string Describe() =>
        FloodLab.Inv($"flood: {Tool}, {Pps:N0} packets/s ({Output.Trim().Replace('\n', ' ')})\n") +
        FloodLab.Inv($"  during: {Served(During)}/{During.Count} served, seconds [{string.Join(" ", During.Select(x => x.Seconds.ToString("F2", CultureInfo.InvariantCulture)))}]{Errors(During)}\n") +
        FloodLab.Inv($"  after:  {Served(After)}/{After.Count} served, seconds [{string.Join(" ", After.Select(x => x.Seconds.ToString("F2", CultureInfo.InvariantCulture)))}]{Errors(After)}");

    private static string Errors(List<(double Seconds, string? Error)> list) =>
        list.Any(x => x.Error is not null) ? "; " + string.Join("; ", list.Where(x => x.Error is not null).Select(x => x.Error).Distinct().Take(3)) : "";
}

/// <summary>Running a flood from the client's namespace while new connections (lab/stream.py connect) are tried.</summary>
public static class FloodLab
{
    public static bool HasHping3 => LiveLab.Sh("/", "command -v hping3 || true", 10).Trim().Length > 0;

    /// <summary>
    /// Runs <paramref name="command"/> (a flood that ends by itself after <paramref name="seconds"/> s) in the client's
    /// namespace; half a second in, <paramref name="connections"/> new connections to VIP:<paramref name="port"/> start,
    /// one every 0.35 s; <paramref name="exchange"/> (if any) runs every 200 ms while the flood lasts; then as many new
    /// connections right after it.
    /// </summary>
    public static Flood Run(LabSession lab, int port, int seconds, int connections, string tool, string command, Action<string>? exchange)
    {
        var floodOut = new StringBuilder();
        var duringOut = new StringBuilder();
        var flood = lab.Start("c", command, floodOut);
        Thread.Sleep(500); // the table and the port spaces fill within the first seconds
        var during = lab.Start("c", $"python3 lab/stream.py connect {LiveLab.Vip} {port} {connections} 0.35 3", duringOut);
        int n = 0;
        var sw = Stopwatch.StartNew();
        while (!flood.HasExited && sw.Elapsed < TimeSpan.FromSeconds(seconds + 20))
        {
            exchange?.Invoke(Inv($"{port}-{n++}"));
            Thread.Sleep(200);
        }
        LabSession.Finish(flood, 10_000);
        LabSession.Finish(during, 60_000);
        var afterOut = new StringBuilder();
        var after = lab.Start("c", $"python3 lab/stream.py connect {LiveLab.Vip} {port} {connections} 0.1 3", afterOut);
        LabSession.Finish(after, 60_000);
        flood.WaitForExit();
        string output;
        lock (floodOut) output = floodOut.ToString();
        return new Flood(tool, Summary(output), Rate(output, seconds), Results(duringOut), Results(afterOut));
    }

    /// <summary>Packets a second: hping3's "N packets transmitted" over the flood's length, or synflood.py's "pps".</summary>
    private static double Rate(string output, int seconds)
    {
        var m = Regex.Match(output, @"(\d+) packets transmitted");
        if (m.Success) return long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) / (double)seconds;
        m = Regex.Match(output, "\"pps\": (\\d+)");
        return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private static string Summary(string output) =>
        string.Join(' ', output.Split('\n').Where(l => l.Contains("transmitted", StringComparison.Ordinal) || l.Contains("\"sent\"", StringComparison.Ordinal)));

    private static List<(double, string?)> Results(StringBuilder output)
    {
        var list = new List<(double, string?)>();
        string json;
        lock (output) json = output.ToString().Trim();
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            foreach (var r in doc.RootElement.GetProperty("results").EnumerateArray())
            {
                string? reply = r[1].GetString(), error = r[2].GetString();
                bool ok = reply is not null && reply.EndsWith(" new-" + list.Count.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
                list.Add((r[0].GetDouble(), ok ? null : error ?? "bad reply " + reply));
            }
        }
        catch (System.Text.Json.JsonException)
        {
            list.Add((0, "stream.py connect printed: " + json));
        }
        return list;
    }

    /// <summary>A <c>name=N</c> field of the status file's comment lines; -1 when absent.</summary>
    public static long Field(string status, string name)
    {
        var m = Regex.Match(status, @"\b" + Regex.Escape(name) + @"=(\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }

    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
