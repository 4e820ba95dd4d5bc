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

    /// <summary>The test's clock: a <see cref="FakeTimeProvider"/> that counts the timers the command starts, so the test
    /// moves time only while the command waits on one (never between a poll and its next wait).</summary>
    private sealed class WaitedClock : TimeProvider
    {
        private int _timers;

        public FakeTimeProvider Fake { get; } = new(DateTimeOffset.UnixEpoch);

        public int Timers => Volatile.Read(ref _timers);

        public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

        public override long GetTimestamp() => Fake.GetTimestamp();

        public override long TimestampFrequency => Fake.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => Fake.LocalTimeZone;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = Fake.CreateTimer(callback, state, dueTime, period);
            Interlocked.Increment(ref _timers);
            return timer;
        }
    }

    /// <summary>Advances the clock one second each time the command has started its next one-second wait, until
    /// <paramref name="run"/> ends.</summary>
    private static async Task AdvanceUntilDoneAsync(WaitedClock clock, Task run)
    {
        int advanced = 0;
        for (int wait = 0; wait < 3000 && !run.IsCompleted; wait++)
        {
            if (clock.Timers > advanced)
            {
                advanced++;
                clock.Fake.Advance(TimeSpan.FromSeconds(1));
                continue;
            }
            await Task.Delay(10);
        }
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
        var clock = new WaitedClock();
        var output = new StringWriter();
        var run = DrainCommand.RunAsync(Cli(api, "--wait", "3"), output, clock, CancellationToken.None);
        await AdvanceUntilDoneAsync(clock, run);
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
        var clock = new WaitedClock();
        var output = new StringWriter();
        var run = DrainCommand.RunAsync(Cli(api, "--wait", "60"), output, clock, CancellationToken.None);
        using (var res = await api.Http.DeleteAsync("/conntrack?state=ESTABLISHED")) Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        await AdvanceUntilDoneAsync(clock, run);
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
