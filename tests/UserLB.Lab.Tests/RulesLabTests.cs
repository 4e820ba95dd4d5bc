using System.Diagnostics;

namespace UserLB.Lab.Tests;

/// <summary>lab/rules-lab.sh: the rules <c>userlb rules</c> prints, pasted into a kernel (its own namespaces op*), balance as configured.</summary>
[Collection("lab")]
public sealed class RulesLabTests
{
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RulesLab_PastedIntoKernel_ForwardsWithConfiguredShares(bool nft)
    {
        LiveLab.SkipUnlessRoot();
        var root = LiveLab.RepoRoot();
        var psi = new ProcessStartInfo(Path.Combine(root, "lab", "rules-lab.sh"), nft ? ["--nft"] : [])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        psi.Environment["USERLB_LAB_PREFIX"] = "op";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string output = await p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "rules-lab.sh timed out\n" + output);
        output += await stderr;
        Assert.True(p.ExitCode == 0, output);
        Assert.Contains("== shares as configured", output);
        if (!nft) Assert.Contains("== kernel listing identical to userlb rules' listing", output);
    }
}
