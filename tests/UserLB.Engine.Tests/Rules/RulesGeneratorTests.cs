using System.Globalization;
using System.Text.RegularExpressions;
using UserLB.Engine.Config;
using UserLB.Engine.Rules;

namespace UserLB.Engine.Tests.Rules;

public partial class RulesGeneratorTests
{
    private static LoadBalancerConfig Farm(string weights, string extraFarmKeys = "")
    {
        var backends = string.Join(", ", weights.Split(',').Select((w, i) =>
            $$"""{"name": "b{{i}}", "ip-addr": "10.0.0.{{i + 10}}", "weight": "{{w}}"}"""));
        return ConfigParser.Parse($$"""
            {"farms": [{"name": "f", "virtual-addr": "10.1.0.1", "scheduler": "weight"{{extraFarmKeys}},
              "backends": [{{backends}}]}]}
            """);
    }

    /// <summary>Walks the mangle rules as the kernel does (last match wins) and returns each mark's share.</summary>
    private static Dictionary<string, double> Shares(string listing)
    {
        var rules = MarkRule().Matches(listing).Select(m => (P: double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Mark: m.Groups[2].Value)).ToList();
        var shares = new Dictionary<string, double>();
        // The i-th listed rule wins when it matches and no later rule matches.
        for (int i = 0; i < rules.Count; i++)
        {
            double p = rules[i].P;
            for (int j = i + 1; j < rules.Count; j++) p *= 1 - rules[j].P;
            shares[rules[i].Mark] = shares.GetValueOrDefault(rules[i].Mark) + p;
        }
        return shares;
    }

    [Theory]
    [InlineData("1,1")]
    [InlineData("1,2,3,4")]
    [InlineData("5,1,1,1,1,1,1,1,1,1")]
    [InlineData("7,0,3")]
    public void Generate_Weights_SharesAreExactForAnyNumberOfBackends(string weights)
    {
        var w = weights.Split(',').Select(int.Parse).ToArray();
        var shares = Shares(IptablesRules.Generate(Farm(weights), IptablesFormat.Listing));
        double total = w.Sum();
        for (int i = 0; i < w.Length; i++)
        {
            string mark = "0x" + (0x200 + i).ToString("x", CultureInfo.InvariantCulture);
            Assert.Equal(w[i] / total, shares.GetValueOrDefault(mark), 8);
        }
    }

    [Fact]
    public void Generate_Weights1234_ListsLastBackendFirstWithProbabilityOne()
    {
        var listing = IptablesRules.Generate(Farm("1,2,3,4"), IptablesFormat.Listing);
        var marks = MarkRule().Matches(listing).Select(m => m.Groups[2].Value).ToList();
        Assert.Equal(["0x203", "0x202", "0x201", "0x200"], marks);
        Assert.Contains("probability 1.00000000000", listing);
        Assert.Contains("probability 0.10000000009", listing); // 1/10 as iptables stores it (31-bit fraction)
    }

    [Theory]
    [InlineData(0.5, "0.50000000000")]
    [InlineData(1.0, "1.00000000000")]
    [InlineData(1.0 / 3, "0.33333333349")]
    [InlineData(0.0, "0.00000000000")]
    public void Probability_Value_PrintedAsIptablesStoresIt(double p, string expected) =>
        Assert.Equal(expected, IptablesRules.Probability(p));

    [Fact]
    public void Generate_DnatMode_NoSnatRules()
    {
        var config = Farm("1,1", ", \"mode\": \"dnat\"");
        Assert.DoesNotContain("SNAT", IptablesRules.Generate(config, IptablesFormat.Listing));
        Assert.DoesNotContain("SNAT", IptablesRules.Generate(config, IptablesFormat.Save));
        Assert.DoesNotContain("elements", NftRules.Generate(config).Split("map proto-services-back-m")[1].Split("}")[0]);
    }

    [Fact]
    public void Generate_MarksMatchTheEngineSnapshot()
    {
        var config = Farm("1,1,1");
        var snapshot = UserLB.Engine.Farms.EngineSnapshot.Build(config, new UserLB.Engine.Farms.IdRegistry(), null, 1);
        var listing = IptablesRules.Generate(config, IptablesFormat.Listing);
        foreach (var b in snapshot.Farms[0].Backends)
            Assert.Contains($"mark match 0x{b.Mark:x} /* FARM_f_{b.Index}_ */ to:{b.Address}", listing);
    }

    [Fact]
    public void Generate_NoCandidate_NftDropsNewConnectionsAndIptablesHasNoMarkRule()
    {
        var config = Farm("0,0");
        Assert.Empty(MarkRule().Matches(IptablesRules.Generate(config, IptablesFormat.Listing)));
        Assert.Contains("ct state new drop", NftRules.Generate(config));
    }

    [Fact]
    public void Generate_SeventeenPorts_SplitIntoMultiportChunksOfFifteen()
    {
        var ports = string.Join(",", Enumerable.Range(1, 17).Select(i => (i * 10).ToString(CultureInfo.InvariantCulture)));
        var config = Farm("1", $", \"virtual-ports\": \"{ports}\"");
        var save = IptablesRules.Generate(config, IptablesFormat.Save);
        Assert.Contains("--dports 10,20,30,40,50,60,70,80,90,100,110,120,130,140,150 ", save);
        Assert.Contains("--dports 160,170 ", save);
    }

    [GeneratedRegex(@"probability ([0-9.]+)[^\n]*MARK set (0x[0-9a-f]+)")]
    private static partial Regex MarkRule();
}
