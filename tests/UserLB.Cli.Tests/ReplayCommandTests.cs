using System.Diagnostics;
using System.Text;
using UserLB.Cli.Commands;
using UserLB.Engine.Conntrack;
using UserLB.IO.PcapFiles;
using static UserLB.Cli.Tests.ReplayFiles;

namespace UserLB.Cli.Tests;

/// <summary>The <c>userlb replay</c> program: standard input and output, events to a file or standard output, usage errors.</summary>
public sealed class ReplayCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-replay-cmd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs the userlb program with <paramref name="stdin"/> on its standard input; returns exit code, stdout bytes and stderr text.</summary>
    private static (int Code, byte[] Stdout, string Stderr) Userlb(byte[]? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "userlb.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        using var stdout = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        if (stdin is not null) p.StandardInput.BaseStream.Write(stdin);
        p.StandardInput.Close();
        copy.Wait();
        Assert.True(p.WaitForExit(60_000));
        return (p.ExitCode, stdout.ToArray(), stderr.Result);
    }

    [Fact]
    public void Main_StdinToStdoutAsPcapNg_ReplaysThePipe()
    {
        string config = Path.Combine(Capture("ref-snat"), "farms.json");
        byte[] capture = File.ReadAllBytes(Path.Combine(Capture("ref-snat"), "in.pcap"));
        var (code, stdout, stderr) = Userlb(capture, "replay", "--config", config, "--in", "-", "--out", "-", "--out-format", "pcapng", "--seed", "1");
        Assert.True(code == 0, stderr);
        string output = Path.Combine(_dir, "piped.pcapng");
        File.WriteAllBytes(output, stdout);
        var frames = ReadNg(output);
        Assert.Equal(ReadPcap(Path.Combine(Capture("ref-snat"), "in.pcap")).Count, frames.Count(f => f.Interface == "input"));
        Assert.Equal(ReadPcap(Path.Combine(Capture("ref-snat"), "expected.pcap")).Select(f => f.Data),
            frames.Where(f => f.Interface == "port0").Select(f => f.Data));
        // The summary on stderr, and no progress line: stderr is no terminal here.
        Assert.StartsWith("userlb replay: 26 frames in, 22 out", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("\x1b", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Main_FileToStdoutClassicPcap_SameBytesAsToAFile()
    {
        string folder = Capture("tcp-reopen");
        string file = Path.Combine(_dir, "file.pcap");
        Assert.Equal(0, Userlb(null, "replay", "--config", Path.Combine(folder, "farms.json"), "--in", Path.Combine(folder, "in.pcap"), "--out", file, "--seed", "1").Code);
        var (code, stdout, stderr) = Userlb(null, "replay", "--config", Path.Combine(folder, "farms.json"), "--in", Path.Combine(folder, "in.pcap"), "--out", "-", "--seed", "1");
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllBytes(file), stdout);
    }

    [Fact]
    public void Main_EventsToStdout_JsonLinesAndACountOnStderr()
    {
        string folder = Capture("udp-expiry");
        var (code, stdout, stderr) = Userlb(null, "replay", "--config", Path.Combine(folder, "farms.json"), "--in", Path.Combine(folder, "in.pcap"),
            "--out", Path.Combine(_dir, "out.pcap"), "--events", "-");
        Assert.True(code == 0, stderr);
        var events = ConntrackEventReader.Read(new StringReader(Encoding.UTF8.GetString(stdout)), "stdout").ToList();
        Assert.Contains(events, e => e.Event == "DESTROY" && e.CauseTimer == "timeout");
        Assert.Contains($"userlb replay: {events.Count} conntrack events written to standard output", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Main_TruncatedInput_Exit0WarningNamesTheBlock()
    {
        string input = Path.Combine(_dir, "cut.pcapng"), good = Path.Combine(_dir, "good.pcapng");
        WriteHandshakeThenInvalid(good);
        var bytes = File.ReadAllBytes(good);
        File.WriteAllBytes(input, bytes[..^30]);
        string config = Path.Combine(_dir, "farms.json");
        File.WriteAllText(config, ReferenceFarm);
        var (code, _, stderr) = Userlb(null, "replay", "--config", config, "--in", input, "--out", Path.Combine(_dir, "out.pcapng"));
        Assert.Equal(0, code);
        Assert.Contains("userlb replay: warning: " + input + ": corrupt or truncated enhanced packet block (block type 0x00000006)", stderr, StringComparison.Ordinal);
        Assert.Equal(6, ReadNg(Path.Combine(_dir, "out.pcapng")).Count(f => f.Interface == "input"));
    }

    [Theory]
    [InlineData("--out-format pcapx", "option --out-format: \"pcapx\" is not pcap or pcapng")]
    [InlineData("--out - --trace", "--out -, --events -, --timeline - and --trace all write standard output: give at most one of them")]
    [InlineData("--out - --events -", "--out -, --events -, --timeline - and --trace all write standard output")]
    [InlineData("--events - --trace", "--out -, --events -, --timeline - and --trace all write standard output")]
    [InlineData("--timeline - --trace", "--out -, --events -, --timeline - and --trace all write standard output")]
    public void Run_ConflictingOptions_UsageError(string extra, string message)
    {
        string config = Path.Combine(_dir, "farms.json");
        File.WriteAllText(config, ReferenceFarm);
        string input = Path.Combine(_dir, "in.pcapng");
        WriteHandshakeThenInvalid(input);
        string[] args = ["--config", config, "--in", input, .. (extra.Contains("--out ", StringComparison.Ordinal) ? Array.Empty<string>() : ["--out", Path.Combine(_dir, "o.pcap")]), .. extra.Split(' ')];
        var ex = Assert.Throws<UsageException>(() => ReplayCommand.Run(args));
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_EventsFileInAMissingFolder_UsageErrorNamingIt()
    {
        string config = Path.Combine(_dir, "farms.json");
        File.WriteAllText(config, ReferenceFarm);
        string input = Path.Combine(_dir, "in.pcapng");
        WriteHandshakeThenInvalid(input);
        string events = Path.Combine(_dir, "no", "such", "events.jsonl");
        var ex = Assert.Throws<UsageException>(() => ReplayCommand.Run(["--config", config, "--in", input, "--out", Path.Combine(_dir, "o.pcap"), "--events", events]));
        Assert.StartsWith($"--events {events}: ", ex.Message, StringComparison.Ordinal);
    }
}
