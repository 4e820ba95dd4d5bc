using System.Net;
using System.Text;
using System.Text.Json;
using UserLB.Cli.Api;

namespace UserLB.Cli.Tests.Api;

/// <summary>
/// Malformed requests (wrong types, values out of range, oversize bodies, slow and stalled clients): each gets nftlb's
/// error reply, <c>{"response": "error …"}</c>, and changes nothing; a slow client does not hold the server.
/// </summary>
public sealed class ApiBadInputTests
{
    /// <summary>Short limits, so that a stalled client is dropped within a few of Kestrel's one-second ticks.</summary>
    private static readonly ApiLimits Short = new()
    {
        HeadersTimeout = TimeSpan.FromSeconds(1),
        MinBodyBytesPerSecond = 100,
        BodyGrace = TimeSpan.FromSeconds(1.5),
    };

    public static TheoryData<string, string> WrongTypesAndRanges => new()
    {
        { """{"farms": "app"}""", "farms" },
        { """{"farms": [["app"]]}""", "farms" },
        { """{"farms": [{"name": ["app"]}]}""", "name" },
        { """{"farms": [{"name": {"first": "app"}}]}""", "name" },
        { """{"farms": [{"name": "app", "backends": {"name": "bck0"}}]}""", "backends" },
        { """{"farms": [{"name": "app", "backends": [{"name": "bck0", "weight": {"value": 1}}]}]}""", "weight" },
        { """{"farms": [{"name": "app", "backends": [{"name": "bck0", "weight": "-1"}]}]}""", "weight" },
        { """{"farms": [{"name": "app", "backends": [{"name": "bck0", "port": "65536"}]}]}""", "port" },
        { """{"farms": [{"name": "app", "virtual-ports": "70000"}]}""", "virtual-ports" },
        { """{"farms": [{"name": "app", "virtual-ports": "90-80"}]}""", "virtual-ports" },
        { """{"farms": [{"name": "app", "persist-ttl": "-5"}]}""", "persist-ttl" },
        { """{"farms": [{"name": "app", "mark": "0xzz"}]}""", "mark" },
        { """{"farms": [{"name": "app", "virtual-addr": "192.168.101.250/33"}]}""", "virtual-addr" },
        { """{"farms": [{"name": "app", "new-rtlimit": "99999999999/second"}]}""", "new-rtlimit" },
        { """{"farms": [{"name": "app", "backends": [{"name": "bck0", "ip-addr": "192.168.1.300"}]}]}""", "ip-addr" },
        { """{"farms": [{"name": "app", "backends": [{"name": "bck0", "weight": null}]}]}""", "weight" },
        { """{"policies": [{"name": "p", "elements": "10.0.0.1"}]}""", "elements" },
        { "{\"farms\": [{\"name\": \"app\", \"x\": " + new string('[', 64) + new string(']', 64) + "}]}", "JSON" },
        { "{\"farms\": [{\"name\": \"app\"}]}garbage", "JSON" },
    };

    [Theory]
    [MemberData(nameof(WrongTypesAndRanges))]
    public async Task Post_WrongTypeOrOutOfRange_NftlbErrorNamingTheKeyAndChangesNothing(string body, string named)
    {
        await using var api = await ApiFixture.StartAsync();
        string before = await GetAsync(api, "/farms");
        var config = api.Control.Config;
        using (var res = await api.PostAsync("/farms", body))
        {
            string reply = await res.Content.ReadAsStringAsync();
            Assert.True(res.StatusCode == HttpStatusCode.BadRequest, $"{(int)res.StatusCode} {reply}");
            AssertNftlbError(reply, named);
        }
        Assert.Same(config, api.Control.Config);
        Assert.Equal(before, await GetAsync(api, "/farms"));
    }

    [Fact]
    public Task Post_TenMegabyteBodyWithLength_413NftlbErrorBeforeTheBodyIsReadAndChangesNothing() =>
        AssertTooLargeAsync($"Content-Length: {10 << 20}\r\n", raw =>
            raw.TryWrite(Encoding.ASCII.GetBytes("{\"farms\": ["))); // the rest never comes: the reply must not wait for it

    [Fact]
    public Task Post_TenMegabyteChunkedBody_413NftlbErrorAtTheLimitAndChangesNothing() =>
        AssertTooLargeAsync("Transfer-Encoding: chunked\r\n", raw =>
        {
            var chunk = Encoding.ASCII.GetBytes("10000\r\n" + new string(' ', 0x10000) + "\r\n");
            for (int sent = 0; sent < 160 && raw.TryWrite(chunk); sent++) { } // 160 x 64 KB = 10 MB, or until the server stops reading
        });

    /// <summary>A POST whose body <paramref name="send"/> makes too large: 413, nftlb's error, nothing changed.</summary>
    private static async Task AssertTooLargeAsync(string header, Action<RawHttp> send)
    {
        await using var api = await ApiFixture.StartAsync();
        string before = await GetAsync(api, "/farms");
        using var raw = new RawHttp(api);
        Assert.True(raw.TryWrite(RawHttp.Head("POST", "/farms", header)));
        send(raw);
        string reply = raw.ReadToClose();
        Assert.StartsWith("HTTP/1.1 413 ", reply, StringComparison.Ordinal);
        AssertNftlbError(Body(reply), "too large");
        Assert.Equal(before, await GetAsync(api, "/farms"));
    }

    [Fact]
    public async Task SlowClient_HeadersNeverFinished_DroppedWhileOthersAreServed()
    {
        await using var api = await ApiFixture.StartAsync(limits: Short);
        using var slow = new RawHttp(api);
        Assert.True(slow.TryWrite("POST /farms HTTP/1.1\r\nHost: test\r\n")); // and nothing more
        Assert.Contains("\"app\"", await GetAsync(api, "/farms"), StringComparison.Ordinal); // served meanwhile
        string reply = slow.ReadToClose(); // returns once the server drops the connection (the headers timeout)
        Assert.True(reply.Length == 0 || reply.StartsWith("HTTP/1.1 408 ", StringComparison.Ordinal), reply);
    }

    [Fact]
    public async Task SlowClient_BodyStalled_408NftlbErrorChangesNothingWhileOthersAreServed()
    {
        await using var api = await ApiFixture.StartAsync(limits: Short);
        string before = await GetAsync(api, "/farms");
        var config = api.Control.Config;
        using var slow = new RawHttp(api);
        Assert.True(slow.TryWrite(RawHttp.Head("POST", "/farms", "Content-Length: 1000\r\n") + "{\"farms\": [{\"name\": \"app\","));
        using (var other = await api.PostAsync("/farms", """{"farms":[{"name":"app","backends":[{"name":"bck0","weight":"3"}]}]}"""))
            Assert.Equal(HttpStatusCode.OK, other.StatusCode); // the stalled request holds no lock
        string reply = slow.ReadToClose();
        Assert.StartsWith("HTTP/1.1 408 ", reply, StringComparison.Ordinal);
        AssertNftlbError(Body(reply), "timed out");
        Assert.NotSame(config, api.Control.Config); // the other client's change only
        Assert.Equal("3", api.Control.Objects.Farm("app")!.Backend("bck0")!.Get("weight"));
        Assert.NotEqual(before, await GetAsync(api, "/farms"));
    }

    private static async Task<string> GetAsync(ApiFixture api, string path)
    {
        using var res = await api.Http.GetAsync(path);
        return await res.Content.ReadAsStringAsync();
    }

    private static string Body(string response)
    {
        int at = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return at < 0 ? "" : response[(at + 4)..];
    }

    /// <summary>nftlb's error shape: one key, "response", whose text starts with "error" and mentions <paramref name="named"/>.</summary>
    internal static void AssertNftlbError(string reply, string named)
    {
        using var doc = JsonDocument.Parse(reply);
        var root = doc.RootElement;
        Assert.Equal(["response"], root.EnumerateObject().Select(p => p.Name));
        string text = root.GetProperty("response").GetString()!;
        Assert.StartsWith("error", text, StringComparison.Ordinal);
        Assert.Contains(named, text, StringComparison.OrdinalIgnoreCase);
    }
}
