using System.Text;

namespace UserLB.Cli.Tests.Api;

/// <summary>
/// nftlb's API behaviour, as its own API test suite shows it: each case is a request (after setup requests), the exact
/// reply nftlb gives, and pieces of the GET that follows (exact lines of nftlb's formatting).
/// </summary>
public sealed class NftlbBehaviourTests
{
    private const string Farm = """{"farms":[{"name":"lb01","virtual-addr":"200.1.1.1","virtual-ports":"8080","scheduler":"weight","backends":[{"name":"bck0","ip-addr":"172.16.138.202","port":"80","weight":"5","mark":"0x0000001"},{"name":"bck1","ip-addr":"172.16.138.203","port":"80","priority":"2"}]}]}""";
    private const string Ok = """{"response": "success"}""";

    public static TheoryData<string[], string, string, string, string, string[]> Cases => new()
    {
        // setup (POST /farms bodies), verb, path, body → reply, GET fragments
        { [], "POST", "/farms", Farm, Ok, ["\"virtual-addr\": \"200.1.1.1\"", "\"log-rtlimit\": \"0/second\"", "\"verdict\": \"log drop accept\"",
            "\"queue\": \"-1\"", "\"name\": \"lb01-addr\"", "\"used\": \"1\"", "\"mark\": \"0x1\"", "\"policies\": []", "\"state\": \"available\"", "\"scheduler\": \"weight\""] },
        { [], "POST", "/farms", """{"farms":[{"name":"lb01","family":"ip4","virtual-addr":"10.1.1.1"}]}""",
            """{"response": "success. Parsing unknown value 'ip4' in 'family', using default 'ipv4'"}""", ["\"family\": \"ipv4\""] },
        { [Farm], "POST", "/farms", """{"farms":[{"name":"lb01","backends":[{"name":"bck0","state":"sideways"}]}]}""",
            """{"response": "success. Parsing unknown value 'sideways' in 'state', using default 'up'"}""", [] },
        { [Farm], "POST", "/farms", """{"farms":[{"name":"lb01","log-rtlimit":"10/hours"}]}""",
            """{"response": "error parsing buffer. Parsing unknown value '10/hours' in 'log-rtlimit'"}""", ["\"log-rtlimit\": \"0/second\""] },
        { [Farm], "POST", "/farms", """{"farms":[{"name":"lb01","new-rtlimit":"10/minute","rst-rtlimit":"5"}]}""", Ok,
            ["\"new-rtlimit\": \"10/minute\"", "\"rst-rtlimit\": \"5/second\""] },
        { [Farm], "POST", "/farms", """{"farms":[{"name":"lb01","persistence":"srcip srcport"}]}""", Ok, ["\"persistence\": \"srcip srcport \""] },
        { [Farm], "POST", "/farms", """{"farms":[{"name":"lb01","backends":[{"name":"bck0","state":"down"}]}]}""", Ok,
            ["\"priority\": \"2\",\n                        \"state\": \"up\"", "\"priority\": \"2\",\n                                        \"mark\": \"0x2\",\n                                        \"est-connlimit\": \"0\",\n                                        \"state\": \"up\""] },
        { [Farm], "DELETE", "/farms", "", Ok, ["{\n        \"farms\": []\n}"] },
        { [Farm], "POST", "/farms", """{"farms":[{"name":"lb01","newname":"lb02"}]}""", Ok, ["\"name\": \"lb02\"", "\"name\": \"lb02-addr\""] },
        { [Farm], "POST", "/farms", """{"farms":[{"name":"lb01","action":"stop"}]}""", Ok, ["\"state\": \"down\""] },
        { [Farm, """{"farms":[{"name":"lb01","persistence":"srcip srcport","sessions":[{"client":"192.168.44.4 . 90","backend":"bck0"}]}]}"""],
            "DELETE", "/farms/lb01/sessions/192.168.44.4_._90", "", Ok, ["\"policies\": []\n                }"] },
        { [Farm], "POST", "/farms", """{"farms":[{"name":"lb01","protocol":"udp","helper":"ftp"}]}""",
            """{"response": "success. Farm 'lb01' doesn't validate helper protocol"}""", ["\"state\": \"config_error\""] },
    };

    public static TheoryData<string[], string, string, string, string, string, string[]> ObjectCases => new()
    {
        // setup (POST path, body), verb, path, body, GET path → reply, GET fragments
        { ["/policies", """{"policies":[{"name":"bl","elements":[{"data":"103.15.28.215"},{"data":"104.1.1.1"},{"data":"103.15.28.0/24"}]}]}"""],
            "DELETE", "/policies/bl/elements/103.15.28.0/24", "", "/policies", Ok, ["\"elements\": [\n                                {\n                                        \"data\": \"104.1.1.1\""] },
        { [], "POST", "/policies", """{"policies":[{"name":"bl","elements":[{"data":"10.0.0.2"},{"data":"10.0.0.1"}]}]}""", "/policies", Ok,
            ["\"type\": \"blacklist\",\n                        \"route\": \"in\",\n                        \"timeout\": \"0\",\n                        \"used\": \"0\"", "\"data\": \"10.0.0.1\",\n                                        \"counter-packets\": \"0\""] },
        { ["/policies", """{"policies":[{"name":"bl","elements":[{"data":"10.0.0.1"},{"data":"10.0.0.2"}]}]}"""],
            "DELETE", "/policies", """{"policies":[{"name":"bl","elements":[{"data":"10.0.0.1"}]}]}""", "/policies", Ok, ["\"data\": \"10.0.0.2\""] },
        { ["/policies", """{"policies":[{"name":"bl","elements":[{"data":"10.0.0.1"}]}]}""", "/farms", Farm],
            "PATCH", "/farms/lb01/policies", """{"farms":[{"name":"lb01","policies":[{"name":"bl"}]}]}""", "/policies", Ok, ["\"used\": \"1\""] },
        { [], "POST", "/addresses", """{"addresses":[{"name":"myaddr","ip-addr":"200.1.1.1","ports":"8080"}]}""", "/addresses", Ok,
            ["\"verdict\": \"log drop accept\",\n                        \"log-rtlimit\": \"0/second\",\n                        \"used\": \"0\",\n                        \"policies\": []"] },
        { [], "DELETE", "/addresses/myaddr3", "", "/addresses", """{"response": "error stopping address. Unknown address 'myaddr3'"}""", ["\"addresses\": []"] },
        { ["/farms", """{"farms":[{"name":"myfarm","addresses":[{"name":"a3","ip-addr":"200.2.2.2","ports":"888","protocol":"udp"}]}]}"""],
            "DELETE", "/farms/myfarm/addresses/a3", "", "/addresses", Ok, ["\"addresses\": []"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Farms_Request_RepliesAndShowsAsNftlb(string[] setup, string verb, string path, string body, string reply, string[] shown)
    {
        await using var api = await ApiFixture.StartAsync("""{"farms": []}""");
        foreach (var s in setup) await SendAsync(api, "POST", "/farms", s);
        Assert.Equal(reply, await SendAsync(api, verb, path, body));
        string view = await SendAsync(api, "GET", "/farms", "");
        foreach (var piece in shown) Assert.Contains(piece, view, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ObjectCases))]
    public async Task Objects_Request_RepliesAndShowsAsNftlb(string[] setup, string verb, string path, string body, string getPath, string reply, string[] shown)
    {
        await using var api = await ApiFixture.StartAsync("""{"farms": []}""");
        for (int i = 0; i < setup.Length; i += 2) await SendAsync(api, "POST", setup[i], setup[i + 1]);
        Assert.Equal(reply, await SendAsync(api, verb, path, body));
        string view = await SendAsync(api, "GET", getPath, "");
        foreach (var piece in shown) Assert.Contains(piece, view, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("m0", true)]
    public async Task Post_FarmWithoutIface_PlacedOnlyWithADefaultInterface(string? defaultIface, bool placed)
    {
        await using var api = await ApiFixture.StartAsync("""{"farms": []}""", defaultIface: defaultIface);
        Assert.Equal(Ok, await SendAsync(api, "POST", "/farms", Farm));
        Assert.Equal(placed, api.Control.Config.FindFarm("lb01")?.Iface == "m0");
        Assert.Equal(placed, !api.Control.Unplaced.ContainsKey("lb01"));
        Assert.Equal(placed, await api.Forwarder.InvokeAsync((e, _) => e.Snapshot.FindFarmByName("lb01") is not null));
    }

    [Fact]
    public async Task GetFarms_Empty_IsNftlbsDocumentWithoutNewline()
    {
        await using var api = await ApiFixture.StartAsync("""{"farms": []}""");
        Assert.Equal("{\n        \"farms\": []\n}", await SendAsync(api, "GET", "/farms", ""));
    }

    [Fact]
    public async Task Post_Rejected_ChangesNoObject()
    {
        await using var api = await ApiFixture.StartAsync("""{"farms": []}""");
        await SendAsync(api, "POST", "/farms", Farm);
        string before = await SendAsync(api, "GET", "/farms", "");
        string reply = await SendAsync(api, "POST", "/farms", """{"farms":[{"name":"lb01","persistence":"srcip"},{"name":"lb02","queue":"x"}]}""");
        Assert.StartsWith("{\"response\": \"error", reply, StringComparison.Ordinal);
        Assert.Equal(before, await SendAsync(api, "GET", "/farms", ""));
    }

    private static async Task<string> SendAsync(ApiFixture api, string verb, string path, string body)
    {
        using var req = new HttpRequestMessage(new HttpMethod(verb), path);
        if (body.Length > 0) req.Content = new StringContent(body, Encoding.UTF8);
        using var res = await api.Http.SendAsync(req);
        return await res.Content.ReadAsStringAsync();
    }
}
