using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

public class BackendChangeTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr","state":"FARMSTATE",
          "backends":[BCK0{"name":"bck1","ip-addr":"192.168.1.11"},{"name":"bck2","ip-addr":"192.168.1.12","priority":"PRIO2"}]}]}
        """;

    private static string Config(string bck0State = "up", bool withBck0 = true, string farmState = "up", int standbyPriority = 1) =>
        Farm.Replace("BCK0", withBck0 ? $"{{\"name\":\"bck0\",\"ip-addr\":\"192.168.1.10\",\"state\":\"{bck0State}\"}}," : "")
            .Replace("FARMSTATE", farmState).Replace("PRIO2", standbyPriority.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static byte[] Client(int n, byte flags) =>
        Tcp("02:00:00:00:01:" + n.ToString("x2", System.Globalization.CultureInfo.InvariantCulture), "192.168.101." + (10 + n), "192.168.101.250", 40000, 443, flags);

    private static EngineHarness Start(string config)
    {
        var h = new EngineHarness(config);
        h.LearnBackends();
        h.Learn("02:00:00:00:00:12", "192.168.1.12");
        return h;
    }

    [Theory]
    [InlineData("down")]
    [InlineData("off")]
    public void Apply_BackendNoLongerUp_NoNewFlowsButExistingFlowContinues(string state)
    {
        var h = Start(Config());
        Assert.Equal("192.168.1.10", Dst(h.Forward(Client(1, Syn), S)));
        h.Forward(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 443, 40000, Syn | Ack), S + Ms);

        h.Apply(Config(bck0State: state));
        for (int n = 2; n < 8; n++)
            Assert.NotEqual("192.168.1.10", Dst(h.Forward(Client(n, Syn), 2 * S)));

        // The existing connection keeps its backend in both directions.
        var ack = h.Forward(Client(1, Ack), 3 * S);
        Assert.Equal("192.168.1.10", Dst(ack));
        var data = h.Forward(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 443, 40000, Psh | Ack), 3 * S + Ms);
        Assert.Equal("192.168.101.11", Dst(data));
        Assert.Equal("192.168.101.250", Src(data));
        Assert.Equal(7, h.Counters.NewFlows);
    }

    [Fact]
    public void Apply_BackendRemoved_ItsFlowNoLongerSentToIt()
    {
        var h = Start(Config());
        Assert.Equal("192.168.1.10", Dst(h.Forward(Client(1, Syn), S)));
        h.Forward(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 443, 40000, Syn | Ack), S + Ms);
        int bck0 = h.BackendId("app", "bck0");

        h.Apply(Config(withBck0: false));
        var after = h.Process(Client(1, Ack), 2 * S);
        Assert.DoesNotContain(after, f => Dst(f) == "192.168.1.10");
        Assert.DoesNotContain(h.LiveEntries(), i => h.Engine.Table[i].BackendId == bck0);
        // Loose pickup re-schedules the mid-stream packet onto a remaining backend.
        var f = Assert.Single(after);
        Assert.Contains(Dst(f), new[] { "192.168.1.11", "192.168.1.12" });
    }

    [Fact]
    public void Apply_BackendRemoved_ItsLateRepliesNotForwarded()
    {
        var h = Start(Config());
        h.Forward(Client(1, Syn), S);
        h.Apply(Config(withBck0: false));
        var sent = h.Process(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 443, 40000, Syn | Ack), 2 * S);
        Assert.Empty(sent);
        Assert.Equal(1, h.Counters.Dropped);
        Assert.Empty(h.LiveEntries());
    }

    [Fact]
    public void Apply_FarmDown_NewFlowsDroppedWithFarmDown()
    {
        var h = Start(Config());
        h.Apply(Config(farmState: "down"));
        Assert.Empty(h.Process(Client(1, Syn), S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.FarmDown]);
    }

    [Fact]
    public void Apply_PrimaryDown_StandbyAtPriorityTwoGetsNewFlows()
    {
        // bck0, bck1 at priority 1; bck2 at priority 2 is a standby.
        var h = Start(Config(standbyPriority: 2));
        var before = Enumerable.Range(1, 6).Select(n => Dst(h.Forward(Client(n, Syn), S))).ToList();
        Assert.DoesNotContain("192.168.1.12", before);

        h.Apply(Config(bck0State: "down", standbyPriority: 2));
        var after = Enumerable.Range(10, 6).Select(n => Dst(h.Forward(Client(n, Syn), 2 * S))).ToList();
        Assert.Equal(3, after.Count(d => d == "192.168.1.12"));
        Assert.Equal(3, after.Count(d => d == "192.168.1.11"));
        Assert.DoesNotContain("192.168.1.10", after);
    }

    [Fact]
    public void Apply_AllBackendsDown_NoBackendDrop()
    {
        const string json = """
            {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443",
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10","state":"down"}]}]}
            """;
        var h = new EngineHarness(json);
        Assert.Empty(h.Process(Client(1, Syn), S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.NoBackend]);
    }
}
