using System.Diagnostics;
using UserLB.Cli.Commands;

namespace UserLB.Cli.Tests.Service;

/// <summary>dist/userlb.service: its command lines use options the commands take, and it says what docs/service.md says.</summary>
public sealed class UnitFileTests
{
    private static readonly string[] Unit = File.ReadAllLines(Path.Combine(ReplayFiles.RepositoryRoot, "dist", "userlb.service"));

    private static string Value(string key) =>
        Assert.Single(Unit, l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];

    /// <summary>The arguments after "userlb COMMAND", with the configuration file replaced by one that does not exist.</summary>
    private static string[] Arguments(string key, string command)
    {
        var words = Value(key).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["/usr/local/bin/userlb", command], words[..2]);
        var args = words[2..];
        int config = Array.IndexOf(args, "--config");
        Assert.True(config >= 0, $"{key} has no --config");
        args[config + 1] = Path.Combine(Path.GetTempPath(), "userlb-unit-test-" + Guid.NewGuid().ToString("N"), "farms.json");
        return args;
    }

    [Fact]
    public void Unit_ServiceSettings_NotifyNonRootNetRawOnlyKeyFromEnvironmentReloadBySighup()
    {
        Assert.Equal("notify", Value("Type"));
        Assert.Equal("userlb", Value("User"));
        Assert.Equal("CAP_NET_RAW", Value("AmbientCapabilities"));
        Assert.Equal("CAP_NET_RAW", Value("CapabilityBoundingSet"));
        Assert.Equal("/etc/userlb/userlb.env", Value("EnvironmentFile"));
        Assert.Equal("/bin/kill -HUP $MAINPID", Value("ExecReload"));
        Assert.DoesNotContain(Unit, l => l.Contains("--key", StringComparison.Ordinal)); // the key never on a command line
    }

    [Fact]
    public void Unit_ExecStartPre_CheckTakesItsOptions()
    {
        using var output = new StringWriter();
        Assert.Equal(1, CheckCommand.Run(Arguments("ExecStartPre", "check"), output, "CapEff:\t0000000000002000\n"));
        Assert.StartsWith("error: cannot read ", output.ToString(), StringComparison.Ordinal); // the file, not an option
    }

    [Fact]
    public void Unit_ExecStart_RunTakesItsOptions()
    {
        var ex = Assert.Throws<UsageException>(() => RunCommand.Run(Arguments("ExecStart", "run")));
        Assert.StartsWith("--config ", ex.Message, StringComparison.Ordinal); // options parsed; only the file is missing
    }

    [SkippableFact]
    public void Unit_SystemdAnalyzeVerify_NoFindings()
    {
        Skip.IfNot(File.Exists("/usr/bin/systemd-analyze"), "systemd-analyze is not installed");
        string dir = Directory.CreateTempSubdirectory("userlb-unit-").FullName;
        try
        {
            // The binary it names is not installed here: point the Exec lines at one that exists.
            string unit = Path.Combine(dir, "userlb.service");
            File.WriteAllLines(unit, Unit.Select(l => l.Replace("/usr/local/bin/userlb", "/bin/true", StringComparison.Ordinal)));
            var psi = new ProcessStartInfo("systemd-analyze", ["verify", unit]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            string errors = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(30_000), "systemd-analyze did not finish");
            Assert.True(p.ExitCode == 0 && errors.Length == 0, errors);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
