using UserLB.Engine.Config;
using UserLB.Engine.Rules;

namespace UserLB.Engine.Tests.Rules;

/// <summary>
/// <c>userlb rules</c> output against checked-in golden files (Rules/golden/NAME.json → NAME.list, NAME.save, NAME.nft).
/// The .list files were checked against the kernel: restoring NAME.save with iptables-restore and listing with
/// <c>iptables -n -L</c> gives the same text (lab/rules-lab.sh does that in CI). USERLB_UPDATE_GOLDEN=1 rewrites them.
/// </summary>
public class RulesGoldenTests
{
    public static TheoryData<string> Cases() => ["reference", "weighted4", "dnat-priority", "ipv6", "all-ports-multifarm", "synproxy", "dsr-stlsdnat", "policies"];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Generate_GoldenConfig_MatchesGoldenFiles(string name)
    {
        var dir = GoldenDir();
        var config = ConfigParser.Parse(File.ReadAllText(Path.Combine(dir, name + ".json")));
        Check(Path.Combine(dir, name + ".list"), IptablesRules.Generate(config, IptablesFormat.Listing));
        Check(Path.Combine(dir, name + ".save"), IptablesRules.Generate(config, IptablesFormat.Save));
        Check(Path.Combine(dir, name + ".nft"), NftRules.Generate(config));
    }

    private static void Check(string path, string actual)
    {
        if (Environment.GetEnvironmentVariable("USERLB_UPDATE_GOLDEN") == "1") File.WriteAllText(path, actual);
        Assert.True(File.Exists(path), path + " is missing (run with USERLB_UPDATE_GOLDEN=1 to create it)");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    internal static string GoldenDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "UserLB.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("UserLB.sln not found"),
            "tests", "UserLB.Engine.Tests", "Rules", "golden");
    }
}
