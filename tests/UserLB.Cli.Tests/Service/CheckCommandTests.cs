using UserLB.Cli.Commands;
using UserLB.IO.Routes;
using UserLB.Packets;

namespace UserLB.Cli.Tests.Service;

/// <summary><c>userlb check</c>: findings and exit status for configurations userlb run would and would not start with.</summary>
public sealed class CheckCommandTests : IDisposable
{
    private const string Backends = "\"backends\":[{\"name\":\"b0\",\"ip-addr\":\"192.168.1.10\"}]";
    /// <summary>A process status with CAP_NET_RAW, so that the findings do not depend on who runs the tests.</summary>
    private const string WithNetRaw = "CapEff:\t0000000000002000\n";

    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-check-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>The routing table the checks see: none, unless a test gives one (the host's own would change the findings).</summary>
    private RouteTable _routes = RouteTable.Empty;

    private (int Status, string[] Lines) Check(string farmsJson, params string[] extra)
    {
        string path = Path.Combine(_dir, "farms.json");
        File.WriteAllText(path, farmsJson);
        using var output = new StringWriter();
        int status = CheckCommand.Run(["--config", path, .. extra], output, WithNetRaw, _routes);
        return (status, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static string Farm(string name, string keys) =>
        $$"""{"name":"{{name}}","virtual-addr":"192.168.101.250","virtual-ports":"80",{{keys}}{{Backends}}}""";

    [Fact]
    public void Check_RunnableFarmOnExistingInterface_ExitZeroNoFindings()
    {
        var (status, lines) = Check($$"""{"farms":[{{Farm("app", "\"iface\":\"lo\",")}}]}""");
        Assert.Equal(0, status);
        Assert.EndsWith(": 0 error(s), 0 warning(s)", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_KeysThatDoNothing_WarnedByFarmBackendAndKeyExitZero()
    {
        var (status, lines) = Check($$"""
            {"farms":[{"name":"app","virtual-addr":"192.168.101.250","iface":"lo","helper":"ftp","log":"forward","rst-rtlimit":"5",
              "queue":"-1","flow-offload":"off","backends":[{"name":"b0","ip-addr":"192.168.1.10","oface":"lo"}]}]}
            """);
        Assert.Equal(0, status);
        Assert.Contains("warning: farm \"app\", key \"helper\": \"ftp\" is accepted but does nothing here (no conntrack helpers (ftp, sip, ...) in the engine)", lines);
        Assert.Contains(lines, l => l.StartsWith("warning: farm \"app\", key \"log\": \"forward\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("warning: farm \"app\", key \"rst-rtlimit\": \"5/second\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("warning: farm \"app\", backend \"b0\", key \"oface\": \"lo\"", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("queue", StringComparison.Ordinal)); // -1 is nftlb's default: no queue
        Assert.DoesNotContain(lines, l => l.Contains("flow-offload", StringComparison.Ordinal)); // off, the default
        Assert.EndsWith(": 0 error(s), 4 warning(s)", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Check_FarmWithoutIfaceNoRoute_WarnedUnlessIfaceOption()
    {
        string farms = $$"""{"farms":[{{Farm("app", "")}}]}""";
        var (status, lines) = Check(farms);
        Assert.Equal(0, status);
        Assert.Contains("warning: farm \"app\" would be stored but not placed: no route to backend b0 (192.168.1.10)", lines);
        Assert.Single(Check(farms, "--iface", "lo").Lines);
    }

    [Fact]
    public void Check_FarmWithoutVirtualAddress_WarnedStoredExitZero()
    {
        var (status, lines) = Check($$"""{"farms":[{{Farm("app", "\"iface\":\"lo\",")}},{"name":"later","virtual-addr":"","iface":"lo",{{Backends}}}]}""");
        Assert.Equal(0, status);
        Assert.Contains("warning: farm \"later\" would be stored but not placed: no virtual address", lines);
        Assert.EndsWith(": 0 error(s), 1 warning(s)", lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Check_FarmWithoutIfaceBackendsRouted_PlacedByRouteNoWarning()
    {
        _routes = new RouteTable([new RouteEntry(IpAddr.FromIPAddress(System.Net.IPAddress.Parse("192.168.1.0")), 24, "lo")]);
        var (status, lines) = Check($$"""{"farms":[{{Farm("app", "")}}]}""");
        Assert.Equal(0, status);
        Assert.EndsWith(": 0 error(s), 0 warning(s)", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"farms\":[{\"name\":\"app\",", "error: invalid JSON at line 1")]
    [InlineData("{\"farms\":[{\"name\":\"app\",\"virtual-addr\":\"192.168.101.250\",\"iface\":\"lo\",\"colour\":\"red\"}]}", "error: farm \"app\": unknown key \"colour\"")]
    [InlineData("{\"farms\":[{\"name\":\"app\",\"virtual-addr\":\"192.168.101.250\",\"iface\":\"lo\",\"mode\":\"local\"}]}", "error: farm \"app\", key \"mode\": \"local\" is not supported by UserLB")]
    [InlineData("{\"farms\":[{\"name\":\"app\",\"virtual-addr\":\"192.168.101.250\",\"iface\":\"nosuch0\"}]}", "error: interface \"nosuch0\" does not exist")]
    public void Check_FileUserlbRunWouldRefuse_ExitOneWithTheReason(string text, string expected)
    {
        var (status, lines) = Check(text);
        Assert.Equal(1, status);
        Assert.Contains(lines, l => l.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Check_EngineTap_MissingInterfaceIsCreatedNotAnError()
    {
        var (status, _) = Check("{\"farms\":[{\"name\":\"app\",\"virtual-addr\":\"192.168.101.250\",\"iface\":\"nosuch0\"}]}", "--engine", "tap");
        Assert.Equal(0, status);
    }

    [Fact]
    public void Check_MissingFile_ExitOne()
    {
        using var output = new StringWriter();
        Assert.Equal(1, CheckCommand.Run(["--config", Path.Combine(_dir, "none.json")], output, WithNetRaw));
        Assert.StartsWith("error: cannot read ", output.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Name:\tuserlb\nCapInh:\t0000000000002000\nCapEff:\t0000000000002000\n", false)]
    [InlineData("CapEff:\t000001ffffffffff\n", false)]
    [InlineData("CapPrm:\t0000000000002000\nCapEff:\t0000000000000000\n", true)]
    [InlineData("CapEff:\t0000000000001000\n", true)]
    [InlineData("Name:\tuserlb\n", false)]
    public void MissingNetRaw_ProcStatus_ReadsTheEffectiveSet(string status, bool missing) =>
        Assert.Equal(missing, CheckCommand.MissingNetRaw(status));

    [Fact]
    public void Check_ProcessWithoutNetRaw_WarnedExitZero()
    {
        string path = Path.Combine(_dir, "farms.json");
        File.WriteAllText(path, $$"""{"farms":[{{Farm("app", "\"iface\":\"lo\",")}}]}""");
        using var output = new StringWriter();
        Assert.Equal(0, CheckCommand.Run(["--config", path], output, "CapEff:\t0000000000000000\n"));
        Assert.StartsWith("warning: this process has no CAP_NET_RAW", output.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new string[0], "missing required option --config")]
    [InlineData(new[] { "--config", "x.json", "--engine", "xdp" }, "option --engine")]
    [InlineData(new[] { "--config", "x.json", "--colour" }, "unknown option --colour")]
    public void Check_BadOptions_UsageError(string[] argv, string message) =>
        Assert.Contains(message, Assert.Throws<UsageException>(() => CheckCommand.Run(argv, TextWriter.Null)).Message, StringComparison.Ordinal);
}
