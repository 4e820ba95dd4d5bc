using System.Globalization;
using System.Net;
using System.Text.Json;

namespace UserLB.Cli.Tests.Api;

/// <summary>1,000 requests at once: every one answered, every change applied whole (the atomic upsert), no deadlock.</summary>
public sealed class ApiConcurrencyTests
{
    [Fact]
    public async Task ThousandConcurrentRequests_AllAnsweredAndTheStateIsEveryChangeApplied()
    {
        await using var api = await ApiFixture.StartAsync();
        long generation = api.Control.Generation;
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1000 })
        {
            BaseAddress = api.Host.Address,
            Timeout = TimeSpan.FromSeconds(120), // a deadlock fails the test instead of hanging it
        };
        http.DefaultRequestHeaders.Add("Key", ApiFixture.Key);
        string Inv(int i) => i.ToString(CultureInfo.InvariantCulture);
        var requests = new List<Func<Task<(HttpStatusCode, string)>>>();
        for (int i = 0; i < 1000; i++)
        {
            int n = i;
            requests.Add((n % 4) switch
            {
                // a new farm, not placed (no iface): stored with its two backends, or not at all
                0 => () => SendAsync(http, HttpMethod.Post, "/farms", $$"""{"farms":[{"name":"f{{Inv(n)}}","virtual-addr":"10.1.{{Inv(n / 250)}}.{{Inv(n % 250)}}","backends":[{"name":"a","ip-addr":"192.168.2.1"},{"name":"b","ip-addr":"192.168.2.2"}]}]}"""),
                // the running farm's two weights, always changed together
                1 => () => SendAsync(http, HttpMethod.Post, "/farms", $$"""{"farms":[{"name":"app","backends":[{"name":"bck0","weight":"{{Inv(n)}}"},{"name":"bck1","weight":"{{Inv(n)}}"}]}]}"""),
                // a rejected change: its first farm is fine, its second is not, so nothing of it may show
                2 => () => SendAsync(http, HttpMethod.Post, "/farms", $$"""{"farms":[{"name":"bad{{Inv(n)}}","virtual-addr":"10.2.0.1"},{"name":"app","mark":"nope"}]}"""),
                _ => () => SendAsync(http, HttpMethod.Get, "/farms", null),
            });
        }
        var replies = await Task.WhenAll(requests.Select(r => Task.Run(r)));

        for (int i = 0; i < replies.Length; i++)
        {
            var (status, body) = replies[i];
            Assert.True(status == (i % 4 == 2 ? HttpStatusCode.BadRequest : HttpStatusCode.OK), $"request {i}: {(int)status} {body}");
            using var doc = JsonDocument.Parse(body); // every reply, views included, is whole JSON
            if (i % 4 == 3)
            {
                foreach (var farm in doc.RootElement.GetProperty("farms").EnumerateArray())
                {
                    Assert.False(farm.GetProperty("name").GetString()!.StartsWith("bad", StringComparison.Ordinal));
                    var backends = farm.GetProperty("backends");
                    if (farm.GetProperty("name").GetString() == "app") // never one weight from one change and one from another
                        Assert.Equal(backends[0].GetProperty("weight").GetString(), backends[1].GetProperty("weight").GetString());
                    else
                        Assert.Equal(2, backends.GetArrayLength());
                }
            }
        }
        var objects = api.Control.Objects;
        Assert.Equal(251, objects.Farms.Count);
        Assert.DoesNotContain(objects.Farms, f => f.Name.StartsWith("bad", StringComparison.Ordinal));
        var app = objects.Farm("app")!;
        string weight = app.Backend("bck0")!.Get("weight");
        Assert.Equal(weight, app.Backend("bck1")!.Get("weight"));
        Assert.Equal(1, int.Parse(weight, CultureInfo.InvariantCulture) % 4);
        // The engine runs what the objects say: the last weight change, and only the placed farm.
        var running = await api.Forwarder.InvokeAsync((e, _) => e.Snapshot.Config);
        Assert.Same(api.Control.Config, running);
        Assert.Equal(["app"], running.Farms.Select(f => f.Name));
        Assert.Equal(int.Parse(weight, CultureInfo.InvariantCulture), running.Farms[0].Backends[0].Weight);
        Assert.InRange(api.Control.Generation, generation + 1, generation + 250);
    }

    private static async Task<(HttpStatusCode, string)> SendAsync(HttpClient http, HttpMethod method, string path, string? body)
    {
        using var req = new HttpRequestMessage(method, path);
        if (body is not null) req.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var res = await http.SendAsync(req);
        return (res.StatusCode, await res.Content.ReadAsStringAsync());
    }
}
