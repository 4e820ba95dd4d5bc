using UserLB.Cli.Commands;

namespace UserLB.Cli.Tests;

/// <summary><c>userlb rules</c>: options (lab/rules-lab.sh, the printed rules pasted into a kernel, is in UserLB.Lab.Tests: RulesLabTests).</summary>
public sealed class RulesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-rules-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Config()
    {
        var path = Path.Combine(_dir, "farms.json");
        File.WriteAllText(path, """
            {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","scheduler":"weight",
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
            """);
        return path;
    }

    private static string Capture(Func<int> run, out int code)
    {
        var old = Console.Out;
        using var sw = new StringWriter();
        Console.SetOut(sw);
        try { code = run(); }
        finally { Console.SetOut(old); }
        return sw.ToString();
    }

    [Fact]
    public void Run_Default_PrintsMangleAndNatListings()
    {
        var text = Capture(() => RulesCommand.Run(["--config", Config()]), out int code);
        Assert.Equal(0, code);
        Assert.Contains("# iptables -t mangle -n -L PREROUTING", text);
        Assert.Contains("MARK set 0x200", text);
        Assert.Contains("to:192.168.101.250", text);
    }

    [Fact]
    public void Run_Nft_PrintsNftlbStyleTable()
    {
        var text = Capture(() => RulesCommand.Run(["--config", Config(), "--nft"]), out int code);
        Assert.Equal(0, code);
        Assert.StartsWith("table ip nftlb {", text);
    }

    [Theory]
    [InlineData("--format", "xml")]
    [InlineData("--family", "ipx")]
    public void Run_BadOption_UsageError(string option, string value) =>
        Assert.Throws<UsageException>(() => RulesCommand.Run(["--config", Config(), option, value]));

    [Fact]
    public void Run_NftWithFormat_UsageError() =>
        Assert.Throws<UsageException>(() => RulesCommand.Run(["--config", Config(), "--nft", "--format", "save"]));
}
