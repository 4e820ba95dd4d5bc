using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;

namespace UserLB.Engine.Tests.Balancing;

public class FarmPriorityTests
{
    /// <summary>"p:u" = priority p, up; "p:d" = priority p, unavailable.</summary>
    private static List<(int, bool)> Backends(string spec) =>
        [.. spec.Split(',').Select(s => (int.Parse(s[..s.IndexOf(':')]), s.EndsWith(":u")))];

    [Theory]
    // nftlb: two primaries at priority 1 and a standby at 2.
    [InlineData("1:u,1:u,2:u", 1)]
    [InlineData("1:d,1:u,2:u", 2)]
    [InlineData("1:u,1:d,2:u", 2)]
    [InlineData("1:d,1:d,2:u", 3)]
    // A down standby does not raise the level while the primaries are up.
    [InlineData("1:u,1:u,2:d", 1)]
    // Chained levels: the level rises to a fixed point.
    [InlineData("1:d,2:d,3:u", 3)]
    [InlineData("1:d,2:u,3:u", 2)]
    [InlineData("1:d,3:u", 2)]
    [InlineData("1:d,2:d,3:d,4:u", 4)]
    [InlineData("2:u,2:u", 1)]
    [InlineData("1:u", 1)]
    public void ComputeLevel_NftlbPriorityExamples_Level(string spec, int expected) =>
        Assert.Equal(expected, FarmRuntime.ComputeLevel(Backends(spec)));

    [Fact]
    public void ComputeLevel_NoBackends_LevelOne() => Assert.Equal(1, FarmRuntime.ComputeLevel([]));

    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","scheduler":"weight","backends":[
          {"name":"up1","ip-addr":"192.168.1.10","priority":"1"},
          {"name":"up2","ip-addr":"192.168.1.11","priority":"1","STATE2"},
          {"name":"standby","ip-addr":"192.168.1.12","priority":"2"},
          {"name":"down","ip-addr":"192.168.1.13","state":"down","priority":"3"},
          {"name":"off","ip-addr":"192.168.1.14","state":"off","priority":"3"},
          {"name":"zero","ip-addr":"192.168.1.15","weight":"0"}]}]}
        """;

    private static FarmRuntime Build(string up2State = "up", IReadOnlySet<string>? unhealthy = null)
    {
        var config = ConfigParser.Parse(Farm.Replace("\"STATE2\"", $"\"state\":\"{up2State}\""));
        var snapshot = EngineSnapshot.Build(config, new IdRegistry(), unhealthy, 1);
        return Assert.Single(snapshot.Farms);
    }

    private static string[] Names(System.Collections.Immutable.ImmutableArray<BackendRuntime> list) => [.. list.Select(b => b.Name)];

    [Fact]
    public void Build_DownOffAndWeightZero_NotCandidates()
    {
        // Level: "down" and "off" are unavailable (2 of them) but at priority 3, above level 1: the level stays 1.
        var farm = Build();
        Assert.Equal(1, farm.Level);
        Assert.Equal(["up1", "up2"], Names(farm.Candidates));
        Assert.Equal(6, farm.Backends.Length);
    }

    [Theory]
    [InlineData("down")]
    [InlineData("off")]
    public void Build_PrimaryUnavailable_LevelTwoAndStandbyCandidate(string state)
    {
        var farm = Build(state);
        Assert.Equal(2, farm.Level);
        Assert.Equal(["up1", "standby"], Names(farm.Candidates));
    }

    [Fact]
    public void Build_PrimaryFailsHealthCheck_LevelTwoAndStandbyCandidate()
    {
        var farm = Build(unhealthy: new HashSet<string> { "app/up2" });
        Assert.Equal(2, farm.Level);
        Assert.Equal(["up1", "standby"], Names(farm.Candidates));
        Assert.False(farm.Backends.Single(b => b.Name == "up2").Available);
    }

    [Fact]
    public void Build_WeightZeroBackendUnderSchedulers_NeverPicked()
    {
        var farm = Build();
        var r = new Random(1);
        for (int i = 0; i < 1000; i++)
        {
            int pick = farm.Scheduler.Pick(SchedulerTestData.RandomFlow(r), r, out _);
            Assert.Contains(farm.Candidates[pick].Name, new[] { "up1", "up2" });
        }
    }

    [Theory]
    [InlineData("weight", "weight")]
    [InlineData("rr", "rr")]
    [InlineData("hash", "hash")]
    [InlineData("symhash", "symhash")]
    public void Build_Scheduler_MatchesConfig(string scheduler, string name)
    {
        var config = ConfigParser.Parse(Farm.Replace("\"STATE2\"", "\"state\":\"up\"").Replace("\"weight\",\"backends\"", $"\"{scheduler}\",\"backends\""));
        var farm = EngineSnapshot.Build(config, new IdRegistry(), null, 1).Farms[0];
        Assert.Equal(name, farm.Scheduler.Name);
    }

    [Fact]
    public void Build_SameRegistry_BackendIdsStableAcrossSnapshots()
    {
        var ids = new IdRegistry();
        var a = EngineSnapshot.Build(ConfigParser.Parse(Farm.Replace("\"STATE2\"", "\"state\":\"up\"")), ids, null, 1);
        var b = EngineSnapshot.Build(ConfigParser.Parse(Farm.Replace("\"STATE2\"", "\"state\":\"down\"")), ids, null, 2);
        foreach (var backend in a.Farms[0].Backends)
            Assert.Equal(backend.Id, b.Farms[0].Backends.Single(x => x.Name == backend.Name).Id);
        Assert.Same(b.Farms[0].Backends.Single(x => x.Name == "standby"), b.Backend(a.Farms[0].Backends.Single(x => x.Name == "standby").Id));
    }

    [Fact]
    public void Build_LocalAddresses_HoldVipAndSnatSource()
    {
        const string json = """
            {"farms":[{"name":"a","virtual-addr":"192.168.101.250","source-addr":"192.168.1.254","mode":"snat",
              "backends":[{"name":"b","ip-addr":"192.168.1.10"}]},
              {"name":"d","virtual-addr":"192.168.101.251","source-addr":"192.168.1.253","mode":"dnat",
              "backends":[{"name":"b","ip-addr":"192.168.1.10"}]}]}
            """;
        var s = EngineSnapshot.Build(ConfigParser.Parse(json), new IdRegistry(), null, 1);
        IReadOnlySet<Packets.IpAddr> local = s.LocalAddresses;
        Assert.Contains(Packets.IpAddr.Parse("192.168.101.250"), local);
        Assert.Contains(Packets.IpAddr.Parse("192.168.1.254"), local);
        Assert.Contains(Packets.IpAddr.Parse("192.168.101.251"), local);
        Assert.DoesNotContain(Packets.IpAddr.Parse("192.168.1.253"), local); // dnat: no SNAT
        Assert.False(s.IsVirtualAddress(Packets.IpAddr.Parse("192.168.1.254")));
    }
}
