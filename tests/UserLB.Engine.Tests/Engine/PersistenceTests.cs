using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

public class PersistenceTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr"PERSIST,
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private static string Config(bool persistence) =>
        Farm.Replace("PERSIST", persistence ? ",\"persistence\":\"srcip\",\"persist-ttl\":\"60\"" : "");

    private static byte[] Syn(string client, ushort port) =>
        Tcp("02:00:00:00:01:" + client.Split('.')[3], client, "192.168.101.250", port, 443, TestFrames.Syn);

    [Theory]
    [InlineData(true, new[] { "192.168.1.10", "192.168.1.10", "192.168.1.10", "192.168.1.10" })]
    [InlineData(false, new[] { "192.168.1.10", "192.168.1.11", "192.168.1.10", "192.168.1.11" })]
    public void Process_SameClientNewConnectionsWithinTtl_SameBackendOnlyWithPersistence(bool persistence, string[] expected)
    {
        var h = new EngineHarness(Config(persistence));
        h.LearnBackends();
        var got = Enumerable.Range(0, 4).Select(i => Dst(h.Forward(Syn("192.168.101.1", (ushort)(40000 + i)), S + i * 10 * S))).ToArray();
        Assert.Equal(expected, got);
        Assert.Equal(4, h.Counters.NewFlows);
    }

    [Fact]
    public void Process_ClientsInterleaved_EachKeepsItsBackend()
    {
        var h = new EngineHarness(Config(true));
        h.LearnBackends();
        Assert.Equal("192.168.1.10", Dst(h.Forward(Syn("192.168.101.1", 40000), S)));
        Assert.Equal("192.168.1.11", Dst(h.Forward(Syn("192.168.101.2", 40000), S)));
        for (int i = 1; i < 5; i++)
        {
            Assert.Equal("192.168.1.10", Dst(h.Forward(Syn("192.168.101.1", (ushort)(40000 + i)), (1 + i) * S)));
            Assert.Equal("192.168.1.11", Dst(h.Forward(Syn("192.168.101.2", (ushort)(40000 + i)), (1 + i) * S)));
        }
    }

    [Fact]
    public void Process_AfterPersistTtl_ClientScheduledAgain()
    {
        var h = new EngineHarness(Config(true));
        h.LearnBackends();
        Assert.Equal("192.168.1.10", Dst(h.Forward(Syn("192.168.101.1", 40000), S)));   // rr 0
        Assert.Equal("192.168.1.11", Dst(h.Forward(Syn("192.168.101.2", 40000), S)));   // rr 1
        Assert.Equal("192.168.1.10", Dst(h.Forward(Syn("192.168.101.3", 40000), S)));   // rr 2
        // 59 s after its last new connection: still persistent.
        Assert.Equal("192.168.1.10", Dst(h.Forward(Syn("192.168.101.1", 40001), 60 * S)));
        // 61 s after that: the record expired, rr decides (its next pick is bck1).
        Assert.Equal("192.168.1.11", Dst(h.Forward(Syn("192.168.101.1", 40002), 121 * S)));
    }

    [Fact]
    public void Process_PersistedBackendDown_ClientMovesToAvailableBackend()
    {
        var h = new EngineHarness(Config(true));
        h.LearnBackends();
        Assert.Equal("192.168.1.10", Dst(h.Forward(Syn("192.168.101.1", 40000), S)));
        h.Apply(Config(true).Replace("\"ip-addr\":\"192.168.1.10\"", "\"ip-addr\":\"192.168.1.10\",\"state\":\"down\""));
        Assert.Equal("192.168.1.11", Dst(h.Forward(Syn("192.168.101.1", 40001), 2 * S)));
        Assert.Equal("192.168.1.11", Dst(h.Forward(Syn("192.168.101.1", 40002), 3 * S)));
    }
}

public class StaticSessionTests
{
    private static string Config(string persistence, string sessions) => $$"""
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr"{{persistence}},
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}],
          "sessions":[{{sessions}}]}]}
        """;

    private static byte[] Syn(string client, ushort port) =>
        Tcp("02:00:00:00:01:" + client.Split('.')[3], client, "192.168.101.250", port, 443, TestFrames.Syn);

    [Theory]
    [InlineData(",\"persistence\":\"srcip\",\"persist-ttl\":\"60\"", "{\"client\":\"192.168.101.1\",\"backend\":\"bck1\"}")]
    [InlineData("", "{\"client\":\"192.168.101.1\",\"backend\":\"bck1\"}")]
    [InlineData(",\"persistence\":\"srcip srcport\"", "{\"client\":\"192.168.101.1 . 40000\",\"backend\":\"bck1\"}")]
    public void Process_ClientWithStaticSession_AlwaysItsBackend(string persistence, string sessions)
    {
        var h = new EngineHarness(Config(persistence, sessions));
        h.LearnBackends();
        // rr alone would alternate bck0, bck1, ...; the pinned client gets bck1 every time. In the srcport case the same
        // port comes back 300 s later, after the earlier unanswered SYN's entry has expired: a new flow each time.
        for (int i = 0; i < 4; i++)
        {
            ushort port = persistence.Contains("srcport", StringComparison.Ordinal) ? (ushort)40000 : (ushort)(40000 + i);
            Assert.Equal("192.168.1.11", Dst(h.Forward(Syn("192.168.101.1", port), (1 + i * 300) * S)));
        }
        // Another client is scheduled normally: rr's first pick.
        Assert.Equal("192.168.1.10", Dst(h.Forward(Syn("192.168.101.2", 40000), 2000 * S)));
    }

    [Fact]
    public void Process_StaticSessionBackendDown_ClientScheduledToAvailableBackend()
    {
        var h = new EngineHarness(Config("", "{\"client\":\"192.168.101.1\",\"backend\":\"bck1\"}").Replace("\"ip-addr\":\"192.168.1.11\"", "\"ip-addr\":\"192.168.1.11\",\"state\":\"down\""));
        h.LearnBackends();
        Assert.Equal("192.168.1.10", Dst(h.Forward(Syn("192.168.101.1", 40000), S)));
    }

    [Theory]
    [InlineData("192.168.44.4", "SrcIp", true)]
    [InlineData("192.168.44.4 . 95", "SrcIp, SrcPort", true)]
    [InlineData("2001:db8::1 . 95", "SrcIp, SrcPort", true)]
    [InlineData("192.168.44.4", "SrcIp, SrcPort", false)]
    [InlineData("192.168.44.4 . x", "SrcIp, SrcPort", false)]
    [InlineData("not-an-ip", "SrcIp", false)]
    [InlineData("192.168.44.4 . 95", "SrcIp", false)]
    public void TryParseClient_NftlbClientString_ParsesFieldsInOrder(string text, string fields, bool ok) =>
        Assert.Equal(ok, UserLB.Engine.Farms.EngineSnapshot.TryParseClient(text, Enum.Parse<UserLB.Engine.Config.HashFields>(fields), out _));
}
