using System.Diagnostics;

namespace UserLB.Lab.Tests;

/// <summary>
/// Runs ./run-lab.sh (its own namespaces, removed on exit) for each engine: real TCP and UDP through userlb in NAT and
/// DTA mode, and afpacket in IPv6 (--ipv6). Needs root; CI runs as root.
/// </summary>
[Collection("lab")]
public class LabTests
{
    [SkippableTheory]
    [InlineData("pcap", false)]
    [InlineData("afpacket", false)]
    [InlineData("tap", false)]
    [InlineData("afpacket", true)]
    public void RunLab_BothModes_EveryRequestSucceedsAndBackendsSeeTheRightSource(string engine, bool ipv6)
    {
        LiveLab.SkipUnlessRoot();
        string[] args = ipv6 ? ["--engine", engine, "-n", "6", "--ipv6"] : ["--engine", engine, "-n", "6"];
        var psi = new ProcessStartInfo(Path.Combine(LiveLab.RepoRoot(), "run-lab.sh"), args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = LiveLab.RepoRoot(),
        };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(240_000), "run-lab.sh timed out\n" + output);
        Assert.True(p.ExitCode == 0, output);
        Assert.Contains("== all requests succeeded in both modes", output);
        // NAT mode: backends see the VIP; DTA mode: they see the client.
        Assert.Contains(ipv6 ? "tcp fd00:101::250" : "tcp 192.168.101.250", output);
        Assert.Contains(ipv6 ? "tcp fd00:101::1 " : "tcp 192.168.101.1 ", output);
        Assert.Contains("12 succeeded, 0 failed", output);
    }
}
