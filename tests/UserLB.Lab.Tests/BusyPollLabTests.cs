namespace UserLB.Lab.Tests;

/// <summary>
/// <c>userlb run --engine afpacket --busy-poll 50</c> on real interfaces (namespaces lvo*): the one receive thread polls
/// both rings (client side and backend side) and busy-polls between frames while it receives alone; the farms and probes
/// of <see cref="LiveLabTests"/> must come out as without polling.
/// </summary>
[Collection("lab")]
public class BusyPollLabTests
{
    private static LabRun? Lab()
    {
        LiveLab.SkipUnlessRoot();
        return LiveLab.RunOnce("busy-poll/afpacket", "lvo", "afpacket", LiveLabTests.Farms("afpacket"), LiveLabTests.Probes,
            ["--busy-poll", "50"]);
    }

    [SkippableFact]
    public void Probes_BusyPolling_EveryConnectionAndExchangeSucceeds()
    {
        if (Lab() is not { } lab) return;
        foreach (var spec in LiveLabTests.Probes)
        {
            int n = int.Parse(spec[(spec.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(lab[spec].Ok == n && lab[spec].Fail == 0, lab.Describe(spec));
            Assert.Empty(lab.UnexplainedPortChanges(LiveLabTests.Probes, spec));
        }
        Assert.Contains("busy-poll 50 us", lab.UserlbLog, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"# drop (no_farm|tcp_invalid|tcp_no_syn_for_new_flow)=", lab.Status);
    }

    [SkippableFact]
    public void Weights_BusyPolling_SharesWithinBinomialBoundsDownBackendNothingDtaKeepsClient()
    {
        if (Lab() is not { } lab) return;
        int b1 = lab[$"tcp:80:{LiveLabTests.Many}"].CountOf("bck1");
        Assert.True(b1 is >= 120 and <= 180, $"bck1 got {b1} of {LiveLabTests.Many} for weight 3 of 4\n" + lab.Describe($"tcp:80:{LiveLabTests.Many}"));
        Assert.Equal(0, lab["tcp:82:30"].CountOf("bck1"));
        Assert.Equal(new HashSet<string> { LiveLab.Client }, lab["tcp:83:30"].SeenClients());
        Assert.Equal(new HashSet<string> { LiveLab.Vip }, lab["udp:5000:30"].SeenClients());
    }
}
