using System.Net;
using System.Text.Json;

namespace UserLB.Cli.Tests.Api;

public sealed class FarmEndpointsTests
{
    [Fact]
    public async Task GetFarms_WithKey_ListsFarmsWithHealth()
    {
        await using var api = await ApiFixture.StartAsync();
        using var res = await api.Http.GetAsync("/farms");
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
        var farm = doc.RootElement.GetProperty("farms")[0];
        Assert.Equal("app", farm.GetProperty("name").GetString());
        Assert.Equal("192.168.1.11", farm.GetProperty("backends")[1].GetProperty("ip-addr").GetString());
        Assert.Equal("none", farm.GetProperty("backends")[1].GetProperty("health").GetString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong")]
    public async Task GetFarms_MissingOrWrongKey_Returns401(string? key)
    {
        await using var api = await ApiFixture.StartAsync();
        using var http = new HttpClient { BaseAddress = api.Host.Address };
        if (key is not null) http.DefaultRequestHeaders.Add("Key", key);
        using var res = await http.GetAsync("/farms");
        Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
        using var doc = JsonDocument.Parse(await res.Content.ReadAsStringAsync());
        Assert.Equal("error", doc.RootElement.GetProperty("response").GetString());
    }
}
