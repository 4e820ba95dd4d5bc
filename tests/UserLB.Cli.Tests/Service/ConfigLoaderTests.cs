using UserLB.Cli.Commands;
using UserLB.Engine.Config;

namespace UserLB.Cli.Tests.Service;

/// <summary>
/// <see cref="ConfigLoader.Split"/>: a configuration file's farms without a virtual address are kept apart as stored
/// farms (nftlb keeps them with no rules; the API accepts them and GET /farms prints them with an empty virtual-addr),
/// every other farm goes to the engine, and a file with none goes to the parser untouched.
/// </summary>
public sealed class ConfigLoaderTests
{
    private const string Backends = "\"backends\":[{\"name\":\"b0\",\"ip-addr\":\"192.168.1.10\"}]";
    private const string Runs = "{\"name\":\"runs\",\"virtual-addr\":\"192.168.101.250\",\"virtual-ports\":\"80\"," + Backends + "}";

    public static TheoryData<string, string> StoredFarms() => new()
    {
        { "no virtual-addr key", "{\"name\":\"f1\",\"virtual-ports\":\"80\"," + Backends + "}" },
        { "an empty virtual-addr", "{\"name\":\"f1\",\"virtual-addr\":\"\",\"virtual-ports\":\"80\"," + Backends + "}" },
        { "GET /farms's own address with an empty ip-addr", "{\"name\":\"f1\",\"virtual-addr\":\"\",\"addresses\":[{\"name\":\"f1-addr\",\"family\":\"ipv4\",\"ip-addr\":\"\",\"ports\":\"80\",\"protocol\":\"tcp\"}]," + Backends + "}" },
        { "an empty addresses list", "{\"name\":\"f1\",\"addresses\":[]," + Backends + "}" },
    };

    [Theory]
    [MemberData(nameof(StoredFarms))]
    public void Split_FarmWithoutVirtualAddress_StoredOthersRun(string what, string farm)
    {
        var file = ConfigLoader.Split($$"""{"farms":[{{Runs}},{{farm}}]}""");
        Assert.True(file.Config.Farms.Length == 1, what);
        Assert.Equal("runs", file.Config.Farms[0].Name);
        Assert.Equal(["f1"], file.StoredNames);
        var objects = file.Objects();
        Assert.Equal(["runs", "f1"], objects.Farms.Select(f => f.Name));
    }

    [Fact]
    public void Split_NamedTopLevelAddressWithEmptyIp_Stored()
    {
        var file = ConfigLoader.Split($$"""
            {"addresses":[{"name":"vip","family":"ipv4","ip-addr":"","ports":"80","protocol":"tcp"}],
             "farms":[{{Runs}},{"name":"f1","addresses":[{"name":"vip"}],{{Backends}}}]}
            """);
        Assert.Equal(["runs"], file.Config.Farms.Select(f => f.Name));
        Assert.Equal(["f1"], file.StoredNames);
    }

    [Fact]
    public void Split_EveryFarmHasAnAddress_NothingStoredSameAsTheParser()
    {
        string text = $$"""{"farms":[{{Runs}}]}""";
        var file = ConfigLoader.Split(text);
        Assert.Null(file.Stored);
        Assert.Empty(file.StoredNames);
        Assert.Equal(ConfigParser.Parse(text), file.Config);
    }

    [Theory]
    [InlineData("{\"farms\":[{\"name\":\"app\",", "invalid JSON at line 1")]
    [InlineData("{\"farms\":[{\"name\":\"f1\",\"virtual-addr\":\"not-an-ip\"}]}", "\"not-an-ip\" is not an IP address")]
    public void Split_BadDocument_TheParsersError(string text, string message)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Split(text));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Objects_StoredFarmTheApiRefuses_UsageErrorNamingIt()
    {
        var file = ConfigLoader.Split($$"""{"farms":[{{Runs}},{"name":"f1","virtual-addr":"","backends":"not a list"}]}""");
        var ex = Assert.Throws<UsageException>(file.Objects);
        Assert.Contains("f1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Objects_MisspelledVirtualAddressKey_UsageErrorNamingTheKey()
    {
        var file = ConfigLoader.Split($$"""{"farms":[{{Runs}},{"name":"f1","virtual-adr":"10.0.0.1",{{Backends}}}]}""");
        var ex = Assert.Throws<UsageException>(file.Objects);
        Assert.Equal("farm(s) without a virtual address (f1): Unknown key 'virtual-adr' in farm 'f1'", ex.Message);
    }
}
