namespace UserLB.Lab.Tests;

/// <summary>The lab's own helpers: the port-change check (it must accept SNAT clashes and report any other change), each probe run's client ports and the offload setting passed to lab/topo.sh.</summary>
public class ProbeResultTests
{
    [Theory]
    [InlineData(0, 20000, 24999)]
    [InlineData(1, 25000, 29999)]
    [InlineData(7, 55000, 59999)]
    [InlineData(8, 20000, 24999)]
    public void ClientPortRange_Run_ItsBlock(int run, int low, int high) =>
        Assert.Equal((low, high), LiveLab.ClientPortRange(run));

    [Fact]
    public void ClientPortRange_EightConsecutiveRuns_NoPortShared()
    {
        for (int first = 0; first < 8; first++)
        {
            for (int a = first; a < first + 8; a++)
            {
                for (int b = a + 1; b < first + 8; b++)
                {
                    var (la, ha) = LiveLab.ClientPortRange(a);
                    var (lb, hb) = LiveLab.ClientPortRange(b);
                    Assert.True(ha < lb || hb < la, $"runs {a} and {b}: {la}-{ha} and {lb}-{hb} overlap");
                }
            }
        }
    }

    [Fact]
    public void FirstPortBlock_OffloadsOnAndOffLabsOfUpToFourRuns_NoPortShared()
    {
        // LiveLabTests and LiveLabOffloadsOffTests: each setting's runs from blocks of their own.
        Assert.Equal(0, LiveLab.FirstPortBlock("on"));
        Assert.Equal(0, LiveLab.FirstPortBlock(null));
        for (int a = 0; a < 4; a++)
        {
            for (int b = 0; b < 4; b++)
            {
                var (lowOn, highOn) = LiveLab.ClientPortRange(LiveLab.FirstPortBlock("on") + a);
                var (lowOff, highOff) = LiveLab.ClientPortRange(LiveLab.FirstPortBlock("off") + b);
                Assert.True(highOn < lowOff || highOff < lowOn, $"on run {a} ({lowOn}-{highOn}) and off run {b} ({lowOff}-{highOff}) overlap");
            }
        }
    }

    [Theory]
    [InlineData(null, "lab/topo.sh up lvp veth /tmp/w")]
    [InlineData("on", "lab/topo.sh up lvp veth /tmp/w on")]
    [InlineData("off", "lab/topo.sh up lvp veth /tmp/w off")]
    public void TopoUp_Offloads_PassedToTopoShOnlyWhenGiven(string? offloads, string expected) =>
        Assert.Equal(expected, LiveLab.TopoUp("lvp", "veth", "/tmp/w", offloads));

    [Fact]
    public void TopoUp_OtherSetting_Rejected() =>
        Assert.Throws<ArgumentException>(() => LiveLab.TopoUp("lvp", "veth", "/tmp/w", "auto"));

    private static ProbeResult R(int[] ports, int[] moved, int[]? movedTo = null) =>
        new(ports.Length, 0, [], new Dictionary<string, int>(), ports.Length - moved.Length,
            new Dictionary<string, int>(), new Dictionary<string, int>(), ports, moved, movedTo);

    public static TheoryData<string, int[], int[], int[], int[]> Cases => new()
    {
        // description, earlier spec's ports, this spec's ports, indices of this spec's moved ports, expected unexplained
        { "nothing moved", [40000, 40002], [41000, 41002], [], [] },
        { "moved port used by an earlier spec (clash)", [40000, 40002], [40002, 41000], [0], [] },
        { "moved port used earlier in the same spec", [], [41000, 41000], [1], [] },
        { "moved port never used before", [40000], [41000, 41002], [1], [41002] },
        { "moved port used before only by another protocol", [], [41002], [0], [41002] },
        { "first use moved, then reused and moved", [], [41000, 41000], [0, 1], [41000] },
    };

    [Theory]
    [InlineData("a port an earlier spec's moved connection took (seen in CI: the kernel moved 48272)", 48272, new int[0])]
    [InlineData("a port no earlier connection had or took", 48274, new[] { 48274 })]
    public void UnexplainedPortChanges_PortTakenByAnEarlierMove_Explained(string description, int fresh, int[] expected)
    {
        // tcp:80: client port 40000 clashed and the backend saw 48272 instead; tcp:81 then uses 48272 (or 48274) as a
        // client port for the first time, and it clashes with that connection's reply tuple.
        var probes = new Dictionary<string, ProbeResult> { ["tcp:80:2"] = R([40000, 40002], [0], [48272]), ["tcp:81:1"] = R([fresh], [0], [50000]) };
        var got = LabRun.UnexplainedPortChanges(probes, ["tcp:80:2", "tcp:81:1"], "tcp:81:1");
        Assert.True(expected.SequenceEqual(got), $"{description}: got [{string.Join(", ", got)}]");
    }

    [Fact]
    public void UnexplainedPortChanges_PortTakenByAMoveEarlierInTheSameSpec_Explained()
    {
        // 40000 reused, so it clashed and moved to 40004; then the client uses 40004 for the first time and clashes
        // with that connection.
        var probes = new Dictionary<string, ProbeResult> { ["tcp:81:4"] = R([40000, 40002, 40000, 40004], [2, 3], [40004, 40010]) };
        Assert.Empty(LabRun.UnexplainedPortChanges(probes, ["tcp:81:4"], "tcp:81:4"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void UnexplainedPortChanges_Table_ReportsOnlyChangesNotExplainedByReuse(string description, int[] earlier, int[] ports, int[] moved, int[] expected)
    {
        var probes = new Dictionary<string, ProbeResult> { ["tcp:80:2"] = R(earlier, []), ["udp:80:1"] = R([41002], []), ["tcp:81:2"] = R(ports, moved) };
        var got = LabRun.UnexplainedPortChanges(probes, ["tcp:80:2", "udp:80:1", "tcp:81:2"], "tcp:81:2");
        Assert.True(expected.SequenceEqual(got), $"{description}: got [{string.Join(", ", got)}]");
    }
}
