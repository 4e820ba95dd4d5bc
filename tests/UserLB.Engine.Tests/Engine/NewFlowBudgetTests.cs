using UserLB.Engine.L2;
using UserLB.Engine.Limits;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// The global new-flow budget (EngineOptions.NewFlowBudget): a token bucket of new flows, checked after the farm match
/// and before scheduling; a packet over it is a counted drop (new_flow_budget) whose sender is not learned; packets of
/// tracked flows never count.
/// </summary>
public class NewFlowBudgetTests
{
    private const string Vip = "192.168.101.250";

    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private static string Spoofed(int i) => IpAddr.FromV4(0xC612_0000u + (uint)i + 1).ToString();

    private static byte[] FloodSyn(int i) => Tcp(ClientMac, Spoofed(i), Vip, (ushort)(1024 + i), 443, Syn, seq: (uint)i);

    /// <summary>(budget a second, burst, SYN times in ms, how many are admitted).</summary>
    [Theory]
    [InlineData(10, 0, "0 0 0 0 0 0 0 0 0 0 0 0", 10)]      // the bucket: one second's worth
    [InlineData(10, 3, "0 0 0 0 0", 3)]                      // a burst of 3
    [InlineData(10, 3, "0 0 0 0 100 100 200", 5)]            // 3, then one per 100 ms
    [InlineData(10, 3, "0 0 0 1000 1000 1000 1000", 6)]      // a second refills at most the bucket (3)
    [InlineData(1000, 1, "0 1 2 3 3 3", 4)]                  // 1 ms apart: each one admitted, the second and third in 3 ms not
    public void Process_SynsAgainstTheBudget_ExcessDroppedAndCounted(int perSecond, int burst, string timesMs, int admitted)
    {
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1, NewFlowBudget = perSecond, NewFlowBurst = burst });
        h.LearnBackends();
        var times = timesMs.Split(' ').Select(long.Parse).ToArray();
        for (int i = 0; i < times.Length; i++) h.Process(FloodSyn(i), S + times[i] * Ms);
        Assert.Equal(admitted, h.Counters.NewFlows);
        Assert.Equal(admitted, h.Counters.Forwarded);
        Assert.Equal(times.Length - admitted, h.Counters.Drops[(int)DropReason.NewFlowBudget]);
        Assert.Equal(times.Length - admitted, h.Counters.FarmDrops[h.Engine.Snapshot.Farms[0].Id * (int)DropReason.Count + (int)DropReason.NewFlowBudget]);
        Assert.Equal(admitted, h.Engine.Table.Count);
        // The dropped SYNs' senders were not learned (a flood over the budget costs no neighbour entry).
        Assert.Equal(2 + admitted, h.Engine.Neighbors.Count);
    }

    [Fact]
    public void Process_BudgetSpent_EstablishedFlowsForwardedAndNewOnesDropped()
    {
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1, NewFlowBudget = 1, NewFlowBurst = 1 });
        h.LearnBackends();
        var syn = h.Forward(Tcp(ClientMac, "192.168.101.1", Vip, 40000, 443, Syn), S);
        ushort port = EngineHarness.Tcp(syn).SourcePort;
        h.Forward(Tcp(Bck0Mac, "192.168.1.10", Vip, 443, port, Syn | Ack, seq: 5000, ack: 1001), S + Ms);
        h.Forward(Tcp(ClientMac, "192.168.101.1", Vip, 40000, 443, Ack, seq: 1001, ack: 5001), S + 2 * Ms);
        for (int i = 0; i < 100; i++)
        {
            long t = S + (3 + i) * Ms;
            Assert.Empty(h.Process(FloodSyn(i), t));
            h.Forward(Tcp(ClientMac, "192.168.101.1", Vip, 40000, 443, Psh | Ack, seq: 1001, ack: 5001, payload: 10), t);
            h.Forward(Tcp(Bck0Mac, "192.168.1.10", Vip, 443, port, Psh | Ack, seq: 5001, ack: 1011, payload: 10), t);
        }
        Assert.Equal(100, h.Counters.Drops[(int)DropReason.NewFlowBudget]);
        Assert.Equal(1, h.Counters.NewFlows);
        // A second later the budget has one flow again.
        h.Forward(FloodSyn(1000), 3 * S);
    }

    /// <summary>(SYNs as "client@ms"; which get in): over the budget, a tuple dropped less than 10 s before is admitted
    /// (a client's retransmission); a flood from random sources never repeats one.</summary>
    [Theory]
    [InlineData("a@0 b@500 b@600", "a b", 1)]                        // b's retransmission gets in though the bucket is empty
    [InlineData("a@0 b@500 c@600", "a", 0)]                          // another tuple does not
    [InlineData("a@0 b@500 b@1600", "a b", 0)]                       // a second later there is credit anyway
    [InlineData("a@0 b@700 e@11000 b@11100", "a e", 0)]              // 10.4 s later b is forgotten (and e took the credit)
    [InlineData("a@0 b@100 c@200 b@300 c@400 d@500", "a b c", 2)]
    public void Process_RetriedTupleOverTheBudget_Admitted(string syns, string admitted, int retries)
    {
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1, NewFlowBudget = 1, NewFlowBurst = 1 });
        h.LearnBackends();
        var got = new List<string>();
        foreach (var syn in syns.Split(' '))
        {
            string who = syn[..1];
            long at = long.Parse(syn[2..], System.Globalization.CultureInfo.InvariantCulture);
            int n = who[0] - 'a';
            if (h.Process(Tcp(ClientMac, Spoofed(n), Vip, (ushort)(20000 + n), 443, Syn), S + at * Ms).Count == 1 && !got.Contains(who)) got.Add(who);
        }
        Assert.Equal(admitted, string.Join(' ', got));
        Assert.Equal(retries, h.Counters.NewFlowBudgetRetries);
    }

    [Fact]
    public void Process_NoBudget_EverySynAdmitted()
    {
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1 });
        h.LearnBackends();
        for (int i = 0; i < 1000; i++) h.Forward(FloodSyn(i), S);
        Assert.Equal(1000, h.Counters.NewFlows);
        Assert.Equal(0, h.Counters.Drops[(int)DropReason.NewFlowBudget]);
    }

    [Fact]
    public void Process_OverBudgetWithTrace_SaysWhy()
    {
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1, NewFlowBudget = 5, NewFlowBurst = 1 });
        h.LearnBackends();
        h.Forward(FloodSyn(0), S);
        var trace = new StringTrace();
        h.Engine.Trace = trace;
        Assert.Empty(h.Process(FloodSyn(1), S));
        Assert.Contains("filter: new-flow budget 5/second burst 1 spent: dropped before scheduling", trace.Text, StringComparison.Ordinal);
        Assert.Contains("drop: new_flow_budget", trace.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(-1, 0)]
    [InlineData(10, -1)]
    public void NewFlowBudget_BadArguments_Throw(int perSecond, int burst) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new NewFlowBudget(perSecond, burst));

    [Fact]
    public void Process_FloodFromNewSources_NeighbourVersionUnchangedSoEstablishedFlowsKeepTheirNextHop()
    {
        // Each admitted flood SYN teaches the engine a new neighbour; none is one a flow has cached, so the version that
        // validates the flows' cached next hops must not move (else every established packet leaves the fast path).
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1 });
        h.LearnBackends();
        var syn = h.Forward(Tcp(ClientMac, "192.168.101.1", Vip, 40000, 443, Syn), S);
        ushort port = EngineHarness.Tcp(syn).SourcePort;
        h.Forward(Tcp(Bck0Mac, "192.168.1.10", Vip, 443, port, Syn | Ack, seq: 5000, ack: 1001), S + Ms);
        h.Forward(Tcp(ClientMac, "192.168.101.1", Vip, 40000, 443, Ack, seq: 1001, ack: 5001), S + 2 * Ms);
        int version = h.Engine.Neighbors.Version;
        for (int i = 0; i < 2000; i++) h.Forward(FloodSyn(i), S + 3 * Ms);
        Assert.Equal(2000 + 3, h.Engine.Neighbors.Count);
        Assert.Equal(version, h.Engine.Neighbors.Version);
        var e = h.SingleEntryOf("192.168.101.1");
        Assert.Equal(version, e.NeighborVersion);
    }

    [Fact]
    public void Learn_EvictingAPinnedNeighbour_BumpsTheVersionOthersDoNot()
    {
        var n = new NeighborTable(2);
        var mac = MacAddress.Parse("02:00:00:00:00:01");
        IpAddr A(int i) => IpAddr.FromV4(0x0A00_0000u + (uint)i);
        int v0 = n.Version;
        n.Learn(A(1), mac, 0, 1);
        n.Learn(A(2), mac, 0, 2);
        Assert.Equal(v0, n.Version);                 // new mappings: nothing cached them
        Assert.True(n.TryGet(A(2), out _, out _));   // looked up (a flood SYN-ACK's next hop) but not pinned
        n.Pin(A(1));                                  // an established flow's next hop
        n.Learn(A(3), mac, 0, 3);                     // evicts A(2) (A(1) is passed over): no bump
        Assert.Equal(v0, n.Version);
        Assert.True(n.Contains(A(1)));
        n.Pin(A(3));                                  // now every entry is pinned
        n.Learn(A(4), mac, 0, 4);                     // one of them goes: flows may have cached it
        Assert.Equal(v0 + 1, n.Version);
        n.Learn(A(4), MacAddress.Parse("02:00:00:00:00:02"), 0, 5); // a mapping changes
        Assert.Equal(v0 + 2, n.Version);
    }

    private sealed class StringTrace : IPacketTrace
    {
        private readonly System.Text.StringBuilder _text = new();
        public string Text => _text.ToString();
        public void Frame(long frameNumber, long nowNs, string summary) => _text.Append('#').Append(frameNumber).Append(' ').AppendLine(summary);
        public void Step(string text) => _text.Append("    ").AppendLine(text);
    }
}
