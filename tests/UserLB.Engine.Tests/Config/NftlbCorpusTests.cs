using System.Runtime.CompilerServices;
using UserLB.Engine.Config;

namespace UserLB.Engine.Tests.Config;

public class NftlbCorpusTests
{
    /// <summary>Corpus files UserLB rejects on purpose, with the start of the expected message (none now: 042's
    /// policies are read and enforced).</summary>
    private static readonly Dictionary<string, string> RejectedOnPurpose = new(StringComparer.Ordinal);

    public static TheoryData<string> Names() => [.. NftlbCorpus.Files.Keys];

    [Theory]
    [MemberData(nameof(Names))]
    public void Parse_NftlbCorpusFile_ParsesOrIsRejectedOnPurpose(string name)
    {
        var json = NftlbCorpus.Files[name];

        if (RejectedOnPurpose.TryGetValue(name, out var expected))
        {
            var ex = Assert.Throws<ConfigException>(() => ConfigParser.Parse(json));
            Assert.StartsWith(expected, ex.Message);
            return;
        }

        var config = ConfigParser.Parse(json);
        Assert.Equal(config, ConfigParser.Parse(ConfigParser.Serialize(config)));
        foreach (var farm in config.Farms)
        {
            Assert.StartsWith("lb0", farm.Name);
        }
    }

    [Fact]
    public void Parse_CorpusStaticSessions_Kept()
    {
        var farm = ConfigParser.Parse(NftlbCorpus.Files["046_snat_ipv4_tcp_weight_static_sessions_srcip_srcport"]).Farms[0];

        Assert.Equal(HashFields.SrcIp | HashFields.SrcPort, farm.Persistence);
        Assert.Equal(50, farm.PersistTtlSeconds);
        Assert.Equal(
            [new StaticSession("192.168.44.4 . 95", "bck0"), new StaticSession("192.168.44.4 . 96", "bck1"), new StaticSession("192.168.44.4 . 97", "bck1")],
            farm.Sessions.ToArray());
        Assert.Equal([(ushort)10, (ushort)20], farm.Backends.Select(b => b.Port));
    }

    [Fact]
    public void Parse_CorpusDsrIpv6_ReadsEtherAddresses()
    {
        var farm = ConfigParser.Parse(NftlbCorpus.Files["005_dsr_ipv6_udp_rr"]).Farms[0];

        Assert.Equal((AddressFamilyKind.Ipv6, FarmMode.Dsr, FarmProtocol.Udp), (farm.Family, farm.Mode, farm.Protocol));
        Assert.Equal("01:01:01:01:01:01", farm.EtherAddr);
        Assert.Equal(["02:02:02:02:02:02", "03:03:03:03:03:03"], farm.Backends.Select(b => b.EtherAddr));
        Assert.Equal(("lo", "lo"), (farm.Iface, farm.Oface));
    }

    [Fact]
    public void Parse_CorpusMultiFarmHashParams_ReadsEachFarm()
    {
        var config = ConfigParser.Parse(NftlbCorpus.Files["029_dnat_ipv4_tcp_udp_multifarm_hash_params"]);

        Assert.Equal(HashFields.DstIp, config.Farms[0].SchedParam);
        Assert.Equal(HashFields.SrcIp | HashFields.SrcPort | HashFields.SrcMac, config.Farms[1].SchedParam);
        Assert.Equal(FarmProtocol.Udp, config.Farms[1].Protocol);
    }

    [Fact]
    public void Parse_CorpusBackendOfaceAndFarmExtras_KeptVerbatim()
    {
        var stls = ConfigParser.Parse(NftlbCorpus.Files["016_stlsdnat_ipv4_tcp_weighted_rr"]).Farms[0];
        var offload = ConfigParser.Parse(NftlbCorpus.Files["048_snat_ipv4_tcp_weight_flowoffload"]).Farms[0];
        var logRate = ConfigParser.Parse(NftlbCorpus.Files["061_snat_ipv4_tcp_weight_tcpstrict_with_logrtlimit"]).Farms[0];

        Assert.All(stls.Backends, b => Assert.Equal("lo", b.Extras["oface"]));
        Assert.Equal("on", offload.Extras["flow-offload"]);
        Assert.Equal("10", logRate.Extras["log-rtlimit"]);
        Assert.True(logRate.TcpStrict);
    }

    [Fact]
    public void EmbeddedCorpus_MatchesFilesOnDisk()
    {
        var dir = Path.Combine(Path.GetDirectoryName(ThisFile())!, "nftlb-corpus");
        if (!Directory.Exists(dir))
        {
            return; // sources not available (e.g. tests run from a copied build output)
        }

        var onDisk = Directory.GetFiles(dir, "*.json").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(NftlbCorpus.Files.Keys.ToArray(), onDisk);
        foreach (var name in onDisk)
        {
            Assert.Equal(File.ReadAllText(Path.Combine(dir, name + ".json")), NftlbCorpus.Files[name!]);
        }
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;
}
