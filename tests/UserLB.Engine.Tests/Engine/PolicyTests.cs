using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// nftlb's policies (PacketEngine.Policies.cs): per client packet, before scheduling, in the farm's order — a blacklist
/// drops (<c>policy_blacklist</c>), a whitelist lets a source past the later policies; per-element counters.
/// </summary>
public class PolicyTests
{
    private const string Vip = "192.168.101.250";
    private const string Vip6 = "2001:db8::fa";

    // dsr farms with ether-addr: a forwarded frame leaves as it came but for its MACs, so the expected output is exact.
    private const string Farms = """
        {"policies":[POLICIES],
         "farms":[{"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"dsr","scheduler":"hash",VERDICT
                   "backends":[{"name":"bck0","ip-addr":"192.168.1.10","ether-addr":"02:00:00:00:00:10"}],"policies":[NAMES]},
                  {"name":"web6","family":"ipv6","virtual-addr":"2001:db8::fa","virtual-ports":"80","mode":"dsr","scheduler":"hash",VERDICT
                   "backends":[{"name":"bck0","ip-addr":"2001:db8:1::10","ether-addr":"02:00:00:00:00:10"}],"policies":[NAMES]},
                  {"name":"other","virtual-addr":"192.168.101.251","virtual-ports":"80","mode":"dsr","scheduler":"hash",
                   "backends":[{"name":"bck0","ip-addr":"192.168.1.10","ether-addr":"02:00:00:00:00:10"}]}]}
        """;

    private const string Black = """{"name":"black","type":"blacklist","elements":[{"data":"10.0.0.0/8"},{"data":"192.168.101.7"},{"data":"172.16.0.5-172.16.0.9"},{"data":"2001:db8:bad::/48"}]}""";
    private const string White = """{"name":"white","type":"whitelist","elements":[{"data":"10.1.0.0/16"},{"data":"2001:db8:bad:1::/64"}]}""";

    private static string Config(string policies, string names, string verdict = "") =>
        Farms.Replace("POLICIES", policies).Replace("NAMES", names).Replace("VERDICT", verdict.Length == 0 ? "" : "\"verdict\":\"" + verdict + "\",");

    private static string Refs(params string[] names) => string.Join(",", names.Select(n => "{\"name\":\"" + n + "\"}"));

    private static byte[] Syn(string client, string vip = Vip, ushort port = 40000) => Tcp(ClientMac, client, vip, port, 80, TestFrames.Syn);

    private static byte[] Out(byte[] input) => WithMacs(input, Bck0Mac, LbMac);

    /// <summary>(case, policies and the farm's list, verdict, input frame, expected output or null, drop reason).</summary>
    public static TheoryData<string, string, string, string, byte[], byte[]?, DropReason> FirstPackets() => new()
    {
        { "v4 address blacklisted", Black, Refs("black"), "", Syn("192.168.101.7"), null, DropReason.PolicyBlacklist },
        { "v4 in a blacklisted /8", Black, Refs("black"), "", Syn("10.200.3.4"), null, DropReason.PolicyBlacklist },
        { "v4 in a blacklisted range", Black, Refs("black"), "", Syn("172.16.0.9"), null, DropReason.PolicyBlacklist },
        { "v4 just past the range", Black, Refs("black"), "", Syn("172.16.0.10"), Out(Syn("172.16.0.10")), DropReason.None },
        { "v4 not listed", Black, Refs("black"), "", Syn("192.168.101.8"), Out(Syn("192.168.101.8")), DropReason.None },
        { "v6 in a blacklisted /48", Black, Refs("black"), "", Syn("2001:db8:bad:ff::1", Vip6), null, DropReason.PolicyBlacklist },
        { "v6 not listed", Black, Refs("black"), "", Syn("2001:db8:b0d::1", Vip6), Out(Syn("2001:db8:b0d::1", Vip6)), DropReason.None },
        { "whitelist first: listed source passes the blacklist", White + "," + Black, Refs("white", "black"), "", Syn("10.1.2.3"), Out(Syn("10.1.2.3")), DropReason.None },
        { "whitelist first: unlisted source meets the blacklist", White + "," + Black, Refs("white", "black"), "", Syn("10.2.2.3"), null, DropReason.PolicyBlacklist },
        { "v6 whitelist first passes the blacklist", White + "," + Black, Refs("white", "black"), "", Syn("2001:db8:bad:1::9", Vip6), Out(Syn("2001:db8:bad:1::9", Vip6)), DropReason.None },
        { "blacklist first: the whitelist comes too late", White + "," + Black, Refs("black", "white"), "", Syn("10.1.2.3"), null, DropReason.PolicyBlacklist },
        { "whitelist alone: an unlisted source goes on (nftlb)", White, Refs("white"), "", Syn("192.168.101.9"), Out(Syn("192.168.101.9")), DropReason.None },
        { "verdict log: blacklisted source only counted", Black, Refs("black"), "log", Syn("10.0.0.1"), Out(Syn("10.0.0.1")), DropReason.None },
        { "verdict log drop without accept: whitelist does not skip", White + "," + Black, Refs("white", "black"), "log drop", Syn("10.1.2.3"), null, DropReason.PolicyBlacklist },
        { "farm without policies is not checked", Black, "", "", Syn("10.0.0.1"), Out(Syn("10.0.0.1")), DropReason.None },
        { "another farm's policies do not apply", Black, Refs("black"), "", Syn("10.0.0.1", "192.168.101.251"), Out(Syn("10.0.0.1", "192.168.101.251")), DropReason.None },
    };

    [Theory]
    [MemberData(nameof(FirstPackets))]
    public void Process_FirstPacket_PolicyVerdict(string name, string policies, string names, string verdict, byte[] input, byte[]? expected, DropReason reason)
    {
        var h = new EngineHarness(Config(policies, names, verdict));
        var sent = h.Process(input, EngineHarness.S);
        if (expected is null)
        {
            Assert.True(sent.Count == 0, name);
            Assert.Equal(1, h.Counters.Drops[(int)reason]);
            Assert.Empty(h.LiveEntries()); // a blacklisted source never gets a connection entry
            return;
        }
        Assert.True(sent.Count == 1, $"{name}: {h.DropSummary()}");
        Assert.Equal(expected, sent[0]);
        Assert.Equal(0, h.Counters.Drops[(int)DropReason.PolicyBlacklist]);
    }

    [Fact]
    public void Process_BlacklistDrop_CountedPerFarmAndElement()
    {
        var h = new EngineHarness(Config(Black, Refs("black")));
        var syn = Syn("10.9.9.9");
        h.Process(syn, EngineHarness.S);
        h.Process(syn, EngineHarness.S + 1);
        var snapshot = h.Engine.Snapshot;
        var web = snapshot.FindFarmByName("web")!;
        Assert.Equal(2, h.Counters.FarmDrops[web.Id * (int)DropReason.Count + (int)DropReason.PolicyBlacklist]);
        var black = snapshot.Policies.Single();
        int slash8 = black.Config.Elements.ToList().FindIndex(e => e.Text == "10.0.0.0/8");
        var c = h.Counters.PolicyElement(black.CounterIds[slash8]);
        Assert.Equal(2, c.Packets);
        Assert.Equal(2 * (syn.Length - 14), c.Bytes); // the IP packet's length, as nft's set counters
    }

    [Fact]
    public void Apply_ElementRemovedAndAddedAgain_CountsFromZero()
    {
        const string Two = """{"name":"black","elements":[{"data":"10.0.0.0/8"},{"data":"192.168.101.7"}]}""";
        const string One = """{"name":"black","elements":[{"data":"192.168.101.7"}]}""";
        var h = new EngineHarness(Config(Two, Refs("black")));
        h.Process(Syn("10.0.0.1"), EngineHarness.S);
        h.Process(Syn("192.168.101.7"), EngineHarness.S);
        (long, long) Count(string element)
        {
            var p = h.Engine.Snapshot.Policies.Single();
            int at = p.Config.Elements.ToList().FindIndex(e => e.Text == element);
            var c = h.Counters.PolicyElement(p.CounterIds[at]);
            return (c.Packets, c.Bytes);
        }
        Assert.Equal(1, Count("10.0.0.0/8").Item1);

        h.Apply(Config(One, Refs("black")));
        h.Process(Syn("192.168.101.7"), EngineHarness.S + 1);
        h.Apply(Config(Two, Refs("black")));
        Assert.Equal((0, 0), Count("10.0.0.0/8")); // a new element, as nft's per-element counters
        Assert.Equal(2, Count("192.168.101.7").Item1); // the element that stayed kept its count
        h.Process(Syn("10.0.0.1"), EngineHarness.S + 2);
        Assert.Equal(1, Count("10.0.0.0/8").Item1);
    }

    [Fact]
    public void Process_ElementAddedToLiveFlow_LaterPacketsDroppedEntryKept()
    {
        var h = new EngineHarness(Config(Black, Refs("black")));
        var first = Syn("192.168.101.20");
        Assert.Single(h.Process(first, EngineHarness.S));
        var ack = Tcp(ClientMac, "192.168.101.20", Vip, 40000, 80, Ack, payload: 10);
        Assert.Single(h.Process(ack, EngineHarness.S + 1));
        // The source is blacklisted while its connection runs: as nftlb's ingress check, its next packets are dropped.
        var withSource = Black.Replace("{\"data\":\"192.168.101.7\"}", "{\"data\":\"192.168.101.7\"},{\"data\":\"192.168.101.20\"}");
        h.Apply(Config(withSource, Refs("black")));
        Assert.Empty(h.Process(ack, EngineHarness.S + 2));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.PolicyBlacklist]);
        Assert.Single(h.LiveEntries()); // the entry is left to time out, as the kernel's
        // The element removed again: the same connection goes on.
        h.Apply(Config(Black, Refs("black")));
        Assert.Equal(Out(ack), Assert.Single(h.Process(ack, EngineHarness.S + 3)));
    }

    [Fact]
    public void Process_NatFarmBlacklist_NoEntryNoNeighbourWork()
    {
        const string Nat = """
            {"policies":[{"name":"black","elements":[{"data":"192.168.101.66"}]}],
             "farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","new-rtlimit":"1/second",
                       "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}],"policies":[{"name":"black"}]}]}
            """;
        var h = new EngineHarness(Nat);
        h.LearnBackends();
        for (ushort port = 40000; port < 40010; port++)
            Assert.Empty(h.Process(Tcp(ClientMac, "192.168.101.66", Vip, port, 443, TestFrames.Syn), EngineHarness.S));
        // Policies come before the farm's rate limit (nftlb: netdev ingress before the prerouting filter chain).
        Assert.Equal(10, h.Counters.Drops[(int)DropReason.PolicyBlacklist]);
        Assert.Equal(0, h.Counters.Drops[(int)DropReason.RateLimited]);
        Assert.Empty(h.LiveEntries());
        Assert.Single(h.Process(Tcp(ClientMac, "192.168.101.67", Vip, 40000, 443, TestFrames.Syn), EngineHarness.S));
    }

    [Theory]
    [InlineData("10.2.0.1", "policy black (blacklist): 10.2.0.1 is in 10.0.0.0/8: dropped")]
    [InlineData("10.1.0.1", "policy white (whitelist): 10.1.0.1 is in 10.1.0.0/16: accepted")]
    [InlineData("192.168.101.40", "policies: 192.168.101.40 is in none of the farm's 2 policies: goes on")]
    public void Process_Traced_StepNamesThePolicyVerdict(string client, string expected)
    {
        var h = new EngineHarness(Config(White + "," + Black, Refs("white", "black")));
        var trace = new StepTrace();
        h.Engine.Trace = trace;
        h.Process(Syn(client), EngineHarness.S);
        Assert.Contains(expected, trace.Steps);
    }

    private sealed class StepTrace : IPacketTrace
    {
        public List<string> Steps { get; } = [];

        public void Frame(long frameNumber, long nowNs, string summary) { }

        public void Step(string text) => Steps.Add(text);
    }

    [Fact]
    public void Process_SynReopensTimeWaitEntry_ElementCountsThePacketOnce()
    {
        const string Nat = """
            {"policies":[{"name":"white","type":"whitelist","elements":[{"data":"192.168.101.1"}]}],
             "farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat",
                       "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}],"policies":[{"name":"white"}]}]}
            """;
        var h = new EngineHarness(Nat);
        h.LearnBackends();
        byte[] Client(byte flags) => Tcp(ClientMac, "192.168.101.1", Vip, 40000, 443, flags);
        byte[] Backend(byte flags) => Tcp(Bck0Mac, "192.168.1.10", Vip, 443, 40000, flags);
        long t = EngineHarness.S;
        foreach (var frame in new[] { Client(TestFrames.Syn), Backend(TestFrames.Syn | Ack), Client(Ack), Client(Fin | Ack), Backend(Ack), Backend(Fin | Ack), Client(Ack) })
            Assert.Single(h.Process(frame, t++));
        Assert.Equal(UserLB.Engine.Conntrack.TcpState.TimeWait, h.SingleEntry().TcpState);
        var white = h.Engine.Snapshot.Policies.Single();
        Assert.Equal(4, h.Counters.PolicyElement(white.CounterIds[0]).Packets); // the client's four packets

        Assert.Single(h.Process(Client(TestFrames.Syn), t)); // reopens the entry: checked as part of the tracked flow only
        Assert.Equal(5, h.Counters.PolicyElement(white.CounterIds[0]).Packets);
    }

    [Fact]
    public void WithPolicies_ElementChange_FarmsKeptPolicyRecompiled()
    {
        var ids = new IdRegistry();
        var config = ConfigParser.Parse(Config(Black + "," + White, Refs("black")));
        var before = EngineSnapshot.Build(config, ids, null, 1);
        var changed = config with { Policies = [config.Policies[0] with { Elements = [] }, config.Policies[1]] };
        var after = before.WithPolicies(changed, ids, 2);
        Assert.Same(before.Farms[0], after.Farms[0]); // schedulers and backends are not rebuilt
        Assert.Same(before.Policies[1], after.Policies[1]); // an unchanged policy keeps its compiled form
        Assert.NotSame(before.Policies[0], after.Policies[0]);
        Assert.Equal(-1, after.Policies[0].Find(IpAddr.Parse("10.0.0.1")));
        Assert.True(before.Policies[0].Find(IpAddr.Parse("10.0.0.1")) >= 0);
    }

    /// <summary>(elements, address, the element's text that holds it or null).</summary>
    public static TheoryData<string[], string, string?> Lookups() => new()
    {
        { ["10.0.0.0/8", "10.1.0.0-10.3.0.0"], "10.2.0.0", "10.0.0.0/8" },
        { ["10.0.0.5-10.0.0.20", "10.0.0.10-10.0.0.30"], "10.0.0.25", "10.0.0.10-10.0.0.30" },
        { ["10.0.0.5-10.0.0.20", "10.0.0.10-10.0.0.30"], "10.0.0.15", "10.0.0.5-10.0.0.20" },
        { ["10.0.0.5-10.0.0.20", "10.0.0.10-10.0.0.30"], "10.0.0.31", null },
        { ["0.0.0.0/0"], "255.255.255.255", "0.0.0.0/0" },
        { ["::/0"], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0" },
        { ["::/0"], "1.2.3.4", null },
        { ["1.2.3.4"], "1.2.3.3", null },
        { ["2001:db8::/32", "2001:db8:0:1::/64"], "2001:db8:0:1::5", "2001:db8::/32" },
        { [], "1.2.3.4", null },
    };

    [Theory]
    [MemberData(nameof(Lookups))]
    public void Find_Address_TheElementHoldingIt(string[] elements, string address, string? expected)
    {
        var list = elements.Select(t => Assert.IsType<PolicyElement>(PolicyElement.TryParse(t, out var e) ? e : null)).ToList();
        var runtime = PolicyRuntime.Build(new PolicyConfig { Name = "p", Elements = [.. list] }, new IdRegistry());
        int at = runtime.Find(IpAddr.Parse(address));
        Assert.Equal(expected, at < 0 ? null : list[at].Text);
    }

    [Fact]
    public void Process_PolicyCheckPerPacket_AllocatesNothing()
    {
        var h = new EngineHarness(Config(Black + "," + White, Refs("white", "black")));
        var engine = h.Engine;
        // Each frame goes through both policies (an unlisted source of the whitelist, then the blacklist's bisection).
        byte[][] frames = [Syn("10.0.0.1"), Syn("172.16.0.7"), Syn("2001:db8:bad::1", Vip6), Syn("192.168.101.7")];
        var whitelisted = IpAddr.Parse("10.1.0.1");
        var white = engine.Snapshot.Policies.Single(p => p.Name == "white");
        var copy = new byte[frames.Max(f => f.Length)];
        long sink = 0;
        for (int i = 0; i < 1000; i++) Run(i); // warm up: JIT, tables, the table entry of the admitted source
        long allocated = long.MaxValue;
        for (int round = 0; round < 3; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++) Run(i);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, allocated);
        Assert.Equal(31_000L, h.Counters.Drops[(int)DropReason.PolicyBlacklist] + sink);

        void Run(int i)
        {
            var f = frames[i % frames.Length];
            f.CopyTo(copy, 0);
            engine.Process(copy.AsSpan(0, f.Length), 0, EngineHarness.S + i);
            if (white.Find(whitelisted) < 0) sink--;
        }
    }
}
