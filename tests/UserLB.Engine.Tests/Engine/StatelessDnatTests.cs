using UserLB.Engine.Config;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// <c>"mode": "stlsdnat"</c> (PacketEngine.Stateless.cs): destination rewritten to the hashed backend, replies' source
/// back to the VIP by the reverse rule, both at layer 2 with no TTL change and no connection table.
/// </summary>
public class StatelessDnatTests
{
    private const string Vip = "192.168.101.250";
    private const string Client = "192.168.101.1";
    private const string Bck0 = "192.168.1.10";

    private const string Farm = """
        {"farms":[{"name":"st","virtual-addr":"192.168.101.250","virtual-ports":"80","protocol":"all","mode":"stlsdnat","scheduler":"hash",
          "sched-param":"srcip srcport",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10","port":"8080","ether-addr":"02:00:00:00:00:10"}]}]}
        """;


    /// <summary>Steps of one flow through one engine: (input, expected output or null, drop reason counted).</summary>
    public static TheoryData<string, (byte[] In, byte[]? Out, DropReason Reason)[]> Flows() => new()
    {
        {
            "TCP handshake both ways", [
                (Tcp(ClientMac, Client, Vip, 40000, 80, Syn), WithMacs(Tcp(ClientMac, Client, Bck0, 40000, 8080, Syn), Bck0Mac, LbMac), DropReason.None),
                (Tcp(Bck0Mac, Bck0, Client, 8080, 40000, Syn | Ack), WithMacs(Tcp(Bck0Mac, Vip, Client, 80, 40000, Syn | Ack), ClientMac, LbMac), DropReason.None),
                (Tcp(ClientMac, Client, Vip, 40000, 80, Ack, payload: 300), WithMacs(Tcp(ClientMac, Client, Bck0, 40000, 8080, Ack, payload: 300), Bck0Mac, LbMac), DropReason.None),
            ]
        },
        {
            "mid-stream ACK needs no state", [
                (Tcp(ClientMac, Client, Vip, 40001, 80, Ack, payload: 10), WithMacs(Tcp(ClientMac, Client, Bck0, 40001, 8080, Ack, payload: 10), Bck0Mac, LbMac), DropReason.None),
            ]
        },
        {
            "UDP both ways, TTL 1 kept", [
                (Udp(ClientMac, Client, Vip, 5000, 80, ttl: 1), WithMacs(Udp(ClientMac, Client, Bck0, 5000, 8080, ttl: 1), Bck0Mac, LbMac), DropReason.None),
                (Udp(Bck0Mac, Bck0, Client, 8080, 5000), WithMacs(Udp(Bck0Mac, Vip, Client, 80, 5000), ClientMac, LbMac), DropReason.None),
            ]
        },
        {
            "from the backend's other port: not the reverse rule", [
                (Tcp(Bck0Mac, Bck0, Client, 8081, 40000, Ack), null, DropReason.NoFarm),
            ]
        },
    };

    [Theory]
    [MemberData(nameof(Flows))]
    public void Process_StatelessFlow_RewrittenEachWayWithoutEntries(string name, (byte[] In, byte[]? Out, DropReason Reason)[] steps)
    {
        var h = new EngineHarness(Farm);
        long now = EngineHarness.S;
        foreach (var (input, expected, reason) in steps)
        {
            var sent = h.Process(input, now += EngineHarness.Ms);
            if (expected is null)
            {
                Assert.True(sent.Count == 0, name);
                Assert.Equal(1, h.Counters.Drops[(int)reason]);
                continue;
            }
            Assert.True(sent.Count == 1, $"{name}: {h.DropSummary()}");
            Assert.Equal(expected, sent[0]);
        }
        Assert.Equal(0, h.Engine.Table.Count);
    }

    [Fact]
    public void Process_TwoInstancesDifferentSeeds_SameBackendPerFlow()
    {
        const string two = """
            {"farms":[{"name":"st","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"stlsdnat","scheduler":"hash",
              "sched-param":"srcip srcport",
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10","ether-addr":"02:00:00:00:00:10"},
                          {"name":"bck1","ip-addr":"192.168.1.11","ether-addr":"02:00:00:00:00:11"}]}]}
            """;
        var a = new EngineHarness(two, new EngineOptions { Seed = 3 });
        var b = new EngineHarness(two, new EngineOptions { Seed = 4 });
        var backends = new HashSet<string>();
        for (int i = 0; i < 100; i++)
        {
            var f = Tcp(ClientMac, $"10.1.0.{1 + i}", Vip, (ushort)(20000 + i), 80, i % 2 == 0 ? Syn : Ack);
            var fromA = Assert.Single(a.Process(f, EngineHarness.S));
            var fromB = Assert.Single(b.Process(f, EngineHarness.S));
            Assert.Equal(fromA, fromB);
            backends.Add(EngineHarness.Dst(fromA));
        }
        Assert.Equal(2, backends.Count);
    }

    [Theory]
    [InlineData("\"scheduler\":\"weight\"", "key \"scheduler\": \"weight\" draws per packet")]
    [InlineData("\"scheduler\":\"hash\",\"persistence\":\"srcip\"", "key \"persistence\": stlsdnat keeps no state")]
    [InlineData("\"scheduler\":\"hash\",\"virtual-ports\":\"80,81\"", "backend \"bck0\", key \"port\": a stlsdnat backend port needs exactly one virtual port")]
    public void Validate_StatelessFarmItCannotRun_ClearError(string keys, string message)
    {
        var json = """
            {"farms":[{"name":"st","virtual-addr":"192.168.101.250","mode":"stlsdnat",KEYS,
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10","port":"8080"}]}]}
            """.Replace("KEYS", keys);
        var ex = Assert.Throws<ConfigException>(() => EngineSupport.Validate(ConfigParser.Parse(json)));
        Assert.Contains(message, ex.Message);
    }
}
