using System.Globalization;
using System.Text;
using PacketDotNet;
using UserLB.CaptureGen;
using UserLB.Engine.Config;
using UserLB.IO.PcapFiles;
using UserLB.IO.Replay;
using UserLB.Packets;

namespace UserLB.Cli.Tests;

/// <summary>
/// Replays every scenario under <c>captures/</c> (written by tests/UserLB.CaptureGen from the scenarios' descriptions,
/// never by running the engine) and compares the engine's output with <c>expected.pcap</c> frame by frame.
/// </summary>
public sealed class CaptureReplayTests : IDisposable
{
    /// <summary>Folders under captures/ that the generator does not write (smoke has its own generate.py).</summary>
    private static readonly string[] NotGenerated = ["smoke"];

    private static readonly Lazy<Dictionary<string, CaptureScenario>> Generated =
        new(() => CaptureGen.Scenarios.All().ToDictionary(s => s.Name, StringComparer.Ordinal));

    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-captures-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string RepositoryRoot =>
        CaptureWriter.FindRepositoryRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException("UserLB.sln not found above " + AppContext.BaseDirectory);

    private static string CapturesRoot => Path.Combine(RepositoryRoot, "captures");

    private static IEnumerable<string> CaptureFolders() =>
        Directory.GetDirectories(CapturesRoot)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(n => !NotGenerated.Contains(n))
            .Order(StringComparer.Ordinal);

    public static TheoryData<string> Captures()
    {
        var data = new TheoryData<string>();
        foreach (var name in CaptureFolders()) data.Add(name);
        return data;
    }

    // ------------------------------------------------------------------ replay vs expected

    [Theory]
    [MemberData(nameof(Captures))]
    public void Replay_CaptureFolder_OutputMatchesExpected(string name)
    {
        Assert.True(Generated.Value.TryGetValue(name, out var scenario), $"captures/{name} is not a scenario of tests/UserLB.CaptureGen (stale folder?)");
        string folder = Path.Combine(CapturesRoot, name);
        var config = ConfigParser.Parse(File.ReadAllText(Path.Combine(folder, "farms.json")));
        string outPath = Path.Combine(_dir, name + ".out.pcap");

        var result = ReplayRunner.Run(config, Path.Combine(folder, scenario.InputFileName), outPath, new ReplayOptions { Seed = 1 });

        Assert.Null(result.ReadError);
        var expected = ReadPcap(Path.Combine(folder, "expected.pcap"));
        var actual = ReadPcap(outPath);
        var ports = CompareFrames(name, expected, actual, scenario.RemappedPorts, out string? diff);
        Assert.True(diff is null, diff);
        AssertDrops(name, scenario.ExpectedDrops, result.Counters.Drops);

        if (scenario.FollowUp is null) return;
        // The randomly chosen port is known now: replies to it must reach the client whose port was remapped.
        Assert.Single(ports);
        var more = scenario.FollowUp(ports[0]);
        string in2 = Path.Combine(_dir, name + ".in2.pcap"), out2 = Path.Combine(_dir, name + ".out2.pcap");
        CaptureWriter.WritePcap(in2, ReadPcap(Path.Combine(folder, "in.pcap")).Concat(more.Input));
        ReplayRunner.Run(config, in2, out2, new ReplayOptions { Seed = 1 });
        var ports2 = CompareFrames(name + " + follow-up", [.. expected, .. more.Expected], ReadPcap(out2), scenario.RemappedPorts, out diff);
        Assert.True(diff is null, diff);
        Assert.Equal(ports, ports2);
    }

    // ------------------------------------------------------------------ the folders themselves

    [Fact]
    public void CaptureFolders_EachGeneratedScenario_HasAllItsFiles()
    {
        var folders = CaptureFolders().ToList();
        Assert.Equal(Generated.Value.Keys.Order(StringComparer.Ordinal), folders);
        foreach (var name in folders)
        {
            var scenario = Generated.Value[name];
            Assert.Equal(CaptureWriter.FileNamesOf(scenario).Order(StringComparer.Ordinal),
                Directory.GetFiles(Path.Combine(CapturesRoot, name)).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            foreach (var file in CaptureWriter.FileNamesOf(scenario))
            {
                var path = Path.Combine(CapturesRoot, name, file);
                Assert.True(File.Exists(path), $"captures/{name}/{file} is missing");
                Assert.True(new FileInfo(path).Length > 0, $"captures/{name}/{file} is empty");
            }
            Assert.NotEmpty(ReadPcap(Path.Combine(CapturesRoot, name, scenario.InputFileName)));
        }
    }

    [Fact]
    public void Generator_RunTwice_WritesByteIdenticalFilesEqualToTheCommittedOnes()
    {
        string a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b");
        Assert.Equal(0, UserLB.CaptureGen.Program.Main(["--out", a]));
        Assert.Equal(0, UserLB.CaptureGen.Program.Main(["--out", b]));
        foreach (var (name, scenario) in Generated.Value)
        {
            foreach (var file in CaptureWriter.FileNamesOf(scenario))
            {
                var fresh = File.ReadAllBytes(Path.Combine(a, name, file));
                Assert.True(fresh.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b, name, file))), $"{name}/{file}: two runs of the generator differ");
                var committed = Path.Combine(CapturesRoot, name, file);
                Assert.True(File.Exists(committed) && fresh.AsSpan().SequenceEqual(File.ReadAllBytes(committed)),
                    $"captures/{name}/{file} is not what the generator writes now: run `dotnet run --project tests/UserLB.CaptureGen` and commit the result");
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    private static List<TimedFrame> ReadPcap(string path)
    {
        using var r = PcapReader.Open(path);
        var frames = new List<TimedFrame>();
        while (r.TryReadNext(out var rec)) frames.Add(new TimedFrame(rec.TimestampNanos, rec.Data.ToArray()));
        Assert.True(r.Error is null, $"{path}: {r.Error}");
        return frames;
    }

    /// <summary>
    /// Compares frame by frame (timestamp and bytes). Frames with a randomly chosen SNAT port are checked by properties
    /// (port ≠ the original, ≥ 1024, IPv4 and TCP checksums valid) and then compared with the port set to the placeholder.
    /// Returns the ports found in those frames; <paramref name="diff"/> is null when everything matches.
    /// </summary>
    private static List<ushort> CompareFrames(string name, List<TimedFrame> expected, List<TimedFrame> actual,
        IReadOnlyList<RemappedPort> remapped, out string? diff)
    {
        var sb = new StringBuilder();
        var ports = new List<ushort>();
        int problems = 0;
        if (expected.Count != actual.Count)
            sb.Append(Inv($"{name}: expected {expected.Count} frame(s), the engine sent {actual.Count}\n"));
        for (int i = 0; i < Math.Max(expected.Count, actual.Count) && problems < 6; i++)
        {
            if (i >= actual.Count)
            {
                problems++;
                sb.Append(Inv($"\nframe #{i}: missing from the output; expected at {Time(expected[i].TimestampNs)}:\n{Describe(expected[i].Data)}\n"));
                continue;
            }
            if (i >= expected.Count)
            {
                problems++;
                sb.Append(Inv($"\nframe #{i}: not expected; the engine sent at {Time(actual[i].TimestampNs)}:\n{Describe(actual[i].Data)}\n"));
                continue;
            }
            var e = expected[i];
            var a = actual[i].Data;
            string? why = null;
            if (remapped.FirstOrDefault(r => r.ExpectedFrameIndex == i) is { } rp)
            {
                why = CheckRemapped(a, rp.OriginalPort, out ushort port, out a);
                ports.Add(port);
            }
            if (why is null && e.TimestampNs != actual[i].TimestampNs)
                why = Inv($"timestamp {Time(actual[i].TimestampNs)}, expected {Time(e.TimestampNs)}");
            if (why is null && !e.Data.AsSpan().SequenceEqual(a))
            {
                int at = e.Data.AsSpan().CommonPrefixLength(a);
                why = at < Math.Min(e.Data.Length, a.Length)
                    ? Inv($"bytes differ from offset {at} (expected 0x{e.Data[at]:x2}, got 0x{a[at]:x2}); lengths {e.Data.Length} / {a.Length}")
                    : Inv($"length {a.Length}, expected {e.Data.Length}");
            }
            if (why is null) continue;
            problems++;
            sb.Append(Inv($"\nframe #{i}: {why}\n--- expected ({Time(e.TimestampNs)}):\n{Describe(e.Data)}\n--- actual ({Time(actual[i].TimestampNs)}):\n{Describe(actual[i].Data)}\n"));
        }
        diff = sb.Length == 0 ? null : sb.ToString();
        return ports;
    }

    /// <summary>Checks a frame whose SNAT source port the engine chose; <paramref name="normalized"/> is the frame with
    /// that port set to the placeholder and the TCP checksum recomputed, for a byte comparison with the expected frame.</summary>
    private static string? CheckRemapped(byte[] frame, ushort originalPort, out ushort port, out byte[] normalized)
    {
        normalized = frame;
        port = 0;
        var packet = Packet.ParsePacket(LinkLayers.Ethernet, (byte[])frame.Clone());
        var ip = packet.Extract<IPv4Packet>();
        var tcp = packet.Extract<TcpPacket>();
        if (ip is null || tcp is null) return "not an IPv4 TCP frame";
        port = tcp.SourcePort;
        if (port == originalPort) return Inv($"SNAT source port {port} should have been remapped (clash)");
        if (port < 1024) return Inv($"SNAT source port {port} is below 1024 (the original port's class is 1024-65535)");
        if (!ip.ValidIPChecksum) return "bad IPv4 header checksum";
        if (!tcp.ValidTcpChecksum) return "bad TCP checksum";
        tcp.SourcePort = CaptureScenario.PortPlaceholder;
        tcp.UpdateTcpChecksum();
        normalized = packet.Bytes;
        return null;
    }

    private static void AssertDrops(string name, IReadOnlyDictionary<DropReason, long> expected, long[] drops)
    {
        var sb = new StringBuilder();
        for (int r = 1; r < (int)DropReason.Count; r++)
        {
            long want = expected.GetValueOrDefault((DropReason)r);
            if (drops[r] != want) sb.Append(Inv($"\n  {((DropReason)r).Name()}: {drops[r]}, expected {want}"));
        }
        Assert.True(sb.Length == 0, $"{name}: drop counters differ:{sb}");
    }

    private static string Describe(byte[] frame)
    {
        string text;
        try
        {
            text = Packet.ParsePacket(LinkLayers.Ethernet, (byte[])frame.Clone()).ToString(StringOutputType.Verbose);
        }
        catch (Exception ex)
        {
            text = "(PacketDotNet cannot parse it: " + ex.Message + ")";
        }
        return text.TrimEnd() + "\n" + Hex(frame);
    }

    private static string Hex(byte[] frame)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < frame.Length; i += 16)
        {
            sb.Append(Inv($"  {i:x4}: "));
            sb.Append(Convert.ToHexString(frame, i, Math.Min(16, frame.Length - i)).ToLowerInvariant());
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static string Time(long ns) => Inv($"{ns / 1_000_000_000}.{ns % 1_000_000_000 / 1000:D6}");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
