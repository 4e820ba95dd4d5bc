using System.Text;
using UserLB.IO.PcapFiles;

namespace UserLB.CaptureGen;

/// <summary>Writes scenarios as <c>&lt;root&gt;/&lt;name&gt;/{farms.json, in.pcap, expected.pcap, README.md}</c>.</summary>
public static class CaptureWriter
{
    public static readonly IReadOnlyList<string> FileNames = ["farms.json", "in.pcap", "expected.pcap", "README.md"];

    /// <summary>Writes every scenario under <paramref name="root"/>; returns the folders written.</summary>
    public static IReadOnlyList<string> WriteAll(string root)
    {
        var written = new List<string>();
        foreach (var s in Scenarios.All()) written.Add(Write(root, s));
        return written;
    }

    public static string Write(string root, CaptureScenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var dir = Path.Combine(root, scenario.Name);
        Directory.CreateDirectory(dir);
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        File.WriteAllText(Path.Combine(dir, "farms.json"), scenario.FarmsJson, utf8);
        File.WriteAllText(Path.Combine(dir, "README.md"), scenario.Readme, utf8);
        WritePcap(Path.Combine(dir, "in.pcap"), scenario.Input);
        WritePcap(Path.Combine(dir, "expected.pcap"), scenario.Expected);
        return dir;
    }

    public static void WritePcap(string path, IEnumerable<TimedFrame> frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        using var w = PcapWriter.Create(path);
        foreach (var f in frames) w.Write(f.TimestampNs, f.Data);
    }

    /// <summary>The folder holding UserLB.sln, found by walking up from <paramref name="start"/>.</summary>
    public static string? FindRepositoryRoot(string start)
    {
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "UserLB.sln"))) return d.FullName;
        return null;
    }
}
