using System.Net;
using Microsoft.Extensions.Time.Testing;
using UserLB.Cli.Commands;

namespace UserLB.Cli.Tests.Api;

/// <summary>
/// Readiness and drain: GET /ready (no key) answers 200 while serving and 503 while draining; POST /drain starts it and
/// counts the established connections, DELETE /drain undoes it; <c>userlb drain</c> does the same and with --wait
/// follows the established count on the (injected) clock until it reaches 0 or the time is up.
/// </summary>
public sealed class DrainTests
{
    private static async Task<(HttpStatusCode Status, string Body)> ReadyAsync(ApiFixture api)
    {
        using var anonymous = new HttpClient { BaseAddress = api.Host.Address, Timeout = TimeSpan.FromSeconds(10) };
        using var res = await anonymous.GetAsync("/ready");
        return (res.StatusCode, await res.Content.ReadAsStringAsync());
    }

    private static string[] Cli(ApiFixture api, params string[] extra) =>
        ["--api", api.Host.Address.ToString(), "--key", ApiFixture.Key, .. extra];

    /// <summary>Moves the injected clock a second at a time (letting each poll's request finish) until <paramref name="run"/> ends.</summary>
    /// <summary>Advances the injected clock one second at a time, each time only once the command has written its next
    /// line (it is waiting on the clock again), so a slow HTTP call never lets the clock run ahead of the command.</summary>
    private static async Task AdvanceUntilDoneAsync(FakeTimeProvider clock, Task run, StringWriter output)
    {
        int lines = 0;
        for (int i = 0; i < 100 && !run.IsCompleted; i++)
        {
            // The command's next line: the first once it drains, then one per poll after each second.
            for (int wait = 0; wait < 1000 && !run.IsCompleted && Lines(output) <= lines; wait++) await Task.Delay(10);
            lines = Lines(output);
            if (!run.IsCompleted) clock.Advance(TimeSpan.FromSeconds(1));
        }
    }

    private static int Lines(StringWriter output)
    {
        lock (output) return output.ToString().Count(c => c == '\n');
    }

    [Fact]
    public async Task Ready_Serving_Answers200WithoutKey()
    {
        await using var api = await ApiFixture.StartAsync();
        var (status, body) = await ReadyAsync(api);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("{\"ready\": true, \"draining\": false}", body.Trim());
    }

    [Fact]
    public async Task PostDrain_OneEstablishedFlow_CountsItAndReadyAnswers503UntilDeleted()
    {
        await using var api = await ApiFixture.StartAsync(ViewEndpointsTests.Farms);
        await ViewEndpointsTests.ThreeFlowsAsync(api); // one ESTABLISHED, one SYN_SENT, one UDP
        using (var res = await api.Http.PostAsync("/drain", null))
        {
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
            Assert.Equal("{\"response\": \"success\", \"draining\": true, \"established\": 1}", (await res.Content.ReadAsStringAsync()).Trim());
        }
        var (status, body) = await ReadyAsync(api);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.StartsWith("{\"ready\": false, \"draining\": true, \"since\": \"", body, StringComparison.Ordinal);
        Assert.True(api.Control.Draining);
        using (var res = await api.Http.DeleteAsync("/drain")) Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ReadyAsync(api)).Status);
        Assert.False(api.Control.Draining);
    }

    [Fact]
    public async Task PostDrain_WithoutKey_Returns401AndKeepsServing()
    {
        await using var api = await ApiFixture.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = api.Host.Address, Timeout = TimeSpan.FromSeconds(10) };
        using var res = await anonymous.PostAsync("/drain", null);
        Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
        Assert.False(api.Control.Draining);
    }

    [Fact]
    public async Task DrainCommand_ThenUndo_DrainsAndServesAgain()
    {
        await using var api = await ApiFixture.StartAsync();
        var output = new StringWriter();
        Assert.Equal(0, await DrainCommand.RunAsync(Cli(api), output, TimeProvider.System, CancellationToken.None));
        Assert.Equal("draining: GET /ready answers 503, the VIP is withdrawn; 0 established TCP connection(s)", output.ToString().Trim());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await ReadyAsync(api)).Status);
        Assert.Equal(0, await DrainCommand.RunAsync(Cli(api, "--undo"), new StringWriter(), TimeProvider.System, CancellationToken.None));
        Assert.Equal(HttpStatusCode.OK, (await ReadyAsync(api)).Status);
    }

    [Fact]
    public async Task DrainCommandWait_ConnectionStaysEstablished_Returns3AfterTheWaitOnTheInjectedClock()
    {
        await using var api = await ApiFixture.StartAsync(ViewEndpointsTests.Farms);
        await ViewEndpointsTests.ThreeFlowsAsync(api);
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var output = new StringWriter();
        var run = DrainCommand.RunAsync(Cli(api, "--wait", "3"), output, clock, CancellationToken.None);
        await AdvanceUntilDoneAsync(clock, run, output);
        Assert.Equal(3, await run);
        string[] lines = output.ToString().Trim().Split('\n');
        Assert.Equal("draining: GET /ready answers 503, the VIP is withdrawn; 1 established TCP connection(s)", lines[0].TrimEnd('\r'));
        Assert.Equal("1 connection(s) still established after 3 s", lines[^1].TrimEnd('\r'));
        Assert.Equal(3, lines.Count(l => l.Trim() == "1 established"));
    }

    [Fact]
    public async Task DrainCommandWait_ConnectionGoes_Returns0AndSaysDrained()
    {
        await using var api = await ApiFixture.StartAsync(ViewEndpointsTests.Farms);
        await ViewEndpointsTests.ThreeFlowsAsync(api);
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var output = new StringWriter();
        var run = DrainCommand.RunAsync(Cli(api, "--wait", "60"), output, clock, CancellationToken.None);
        using (var res = await api.Http.DeleteAsync("/conntrack?state=ESTABLISHED")) Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        await AdvanceUntilDoneAsync(clock, run, output);
        Assert.Equal(0, await run);
        Assert.EndsWith("drained: no established connection left", output.ToString().Trim(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--undo", "--wait", "5" }, "--undo and --wait do not go together")]
    [InlineData(new[] { "--wait", "soon" }, "option --wait: \"soon\" is not a number of seconds (0-86400)")]
    [InlineData(new[] { "now" }, "unexpected argument \"now\"")]
    public async Task DrainCommand_BadArguments_UsageError(string[] argv, string message)
    {
        var ex = await Assert.ThrowsAsync<UsageException>(() => DrainCommand.RunAsync(argv, new StringWriter(), TimeProvider.System, CancellationToken.None));
        Assert.Equal(message, ex.Message);
    }
}
