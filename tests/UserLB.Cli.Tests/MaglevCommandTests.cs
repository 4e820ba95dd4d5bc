using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace UserLB.Cli.Tests;

/// <summary><c>userlb maglev</c>: one table in every process with the same configuration, and Maglev's minimal disruption.</summary>
public sealed partial class MaglevCommandTests : IDisposable
{
    private const string Farms = """
        {"farms":[{"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"dsr","scheduler":"hash","sched-param":"srcip srcport",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11","weight":"2"},
                      {"name":"bck2","ip-addr":"192.168.1.12"},{"name":"bck3","ip-addr":"192.168.1.13"}]}]}
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-maglev-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Stdout, string Stderr) Userlb(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "userlb.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        return (p.ExitCode, stdout, stderr.Result);
    }

    [Fact]
    public void Main_TwoProcessesSameConfig_SameTableAndSameMoves()
    {
        string config = Path.Combine(_dir, "farms.json");
        File.WriteAllText(config, Farms);
        var first = Userlb("maglev", "--config", config, "--down", "bck2", "--flows", "20000");
        var second = Userlb("maglev", "--config", config, "--down", "bck2", "--flows", "20000");
        Assert.True(first.Code == 0, first.Stderr);
        Assert.Equal(first.Stdout, second.Stdout);
        Assert.Matches(FingerprintLine(), first.Stdout);
    }

    [Fact]
    public void Main_OneBackendDown_OnlyItsFlowsMoveAndComeBack()
    {
        string config = Path.Combine(_dir, "farms.json");
        File.WriteAllText(config, Farms);
        var (code, stdout, stderr) = Userlb("maglev", "--config", config, "--down", "bck2", "--flows", "20000");
        Assert.True(code == 0, stderr);
        var moved = MovedLine().Match(stdout);
        Assert.True(moved.Success, stdout);
        int all = Int(moved, 1), fromDown = Int(moved, 2), onDown = Int(moved, 3);
        Assert.Equal(onDown, fromDown); // every flow of the backend taken down moved
        var others = OthersLine().Match(stdout);
        Assert.True(others.Success, stdout);
        Assert.True(Int(others, 1) * 100 < Int(others, 2), stdout); // under 1 % of the others' flows moved
        Assert.Equal(all, fromDown + Int(others, 1));
        Assert.Contains("(the first table); flows moved back: " + all.ToString(CultureInfo.InvariantCulture) + "; flows not where they started: 0", stdout);
        // bck1 has weight 2 of 5: about 40 % of the slots.
        Assert.Matches(@"bck1\s+weight 2\s+2621[0-9] slots", stdout);
    }

    [Fact]
    public void Main_FarmWithoutHash_ClearError()
    {
        string config = Path.Combine(_dir, "farms.json");
        File.WriteAllText(config, Farms.Replace("\"hash\"", "\"weight\""));
        var (code, _, stderr) = Userlb("maglev", "--config", config, "--farm", "web");
        Assert.Equal(2, code);
        Assert.Contains("\"weight\" has no Maglev table (use hash or symhash)", stderr);
    }

    private static int Int(Match m, int group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^farm web: hash over srcip srcport, 4 of 4 backends, Maglev table 65537 slots, fingerprint [0-9a-f]{16}$", RegexOptions.Multiline)]
    private static partial Regex FingerprintLine();

    [GeneratedRegex(@"flows moved: (\d+) of \d+ \([0-9.]+ %\); on the backends taken down: (\d+) of (\d+)")]
    private static partial Regex MovedLine();

    [GeneratedRegex(@"flows of the other backends moved: (\d+) of (\d+)")]
    private static partial Regex OthersLine();
}
