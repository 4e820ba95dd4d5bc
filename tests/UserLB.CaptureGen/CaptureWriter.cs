using System.Text;
using UserLB.IO.PcapFiles;

namespace UserLB.CaptureGen;

/// <summary>
/// Writes scenarios as <c>&lt;root&gt;/&lt;name&gt;/{farms.json, in.pcap, expected.pcap, README.md}</c>; a scenario whose
/// input has offloads gets <c>in.pcapng</c> (each such frame's comment says <c>vnet: …</c>) instead of in.pcap, and
/// <c>expected-sent.pcapng</c>, the frames as the LB sends them.
/// </summary>
public static class CaptureWriter
{
    /// <summary>The files of a scenario without offloads.</summary>
    public static readonly IReadOnlyList<string> FileNames = ["farms.json", "in.pcap", "expected.pcap", "README.md"];

    /// <summary>The files <see cref="Write"/> writes for <paramref name="scenario"/>.</summary>
    public static IReadOnlyList<string> FileNamesOf(CaptureScenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        return scenario.HasOffloads
            ? ["farms.json", scenario.InputFileName, "expected.pcap", AsSentFileName, "README.md"]
            : FileNames;
    }

    /// <summary>The frames as sent, with offloads, of a scenario with offloads.</summary>
    public const string AsSentFileName = "expected-sent.pcapng";

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
        if (scenario.HasOffloads)
        {
            WritePcapNg(Path.Combine(dir, scenario.InputFileName), scenario.Input, PacketDirection.Inbound);
            WritePcapNg(Path.Combine(dir, AsSentFileName), scenario.ExpectedAsSent ?? scenario.Expected, PacketDirection.Outbound);
        }
        else
        {
            WritePcap(Path.Combine(dir, "in.pcap"), scenario.Input);
        }
        WritePcap(Path.Combine(dir, "expected.pcap"), scenario.Expected);
        return dir;
    }

    public static void WritePcap(string path, IEnumerable<TimedFrame> frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        using var w = PcapWriter.Create(path);
        foreach (var f in frames)
        {
            if (!f.Offload.IsPlain) throw new InvalidOperationException($"{path}: classic pcap cannot carry a frame's offloads ({f.Offload})");
            w.Write(f.TimestampNs, f.Data);
        }
    }

    /// <summary>pcapng with one interface ("lb"): frames with offloads say so in a comment line <c>vnet: …</c>.</summary>
    public static void WritePcapNg(string path, IEnumerable<TimedFrame> frames, PacketDirection direction)
    {
        ArgumentNullException.ThrowIfNull(frames);
        using var w = PcapNgWriter.Create(path);
        int lb = w.AddInterface("lb", LinkTypes.Ethernet, direction == PacketDirection.Inbound ? "frames arriving at the LB" : "frames the LB sends");
        foreach (var f in frames)
            w.Write(lb, f.TimestampNs, f.Data, direction, f.Offload.IsPlain ? null : "vnet: " + f.Offload);
    }

    /// <summary>The folder holding UserLB.sln, found by walking up from <paramref name="start"/>.</summary>
    public static string? FindRepositoryRoot(string start)
    {
        for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "UserLB.sln"))) return d.FullName;
        return null;
    }
}
