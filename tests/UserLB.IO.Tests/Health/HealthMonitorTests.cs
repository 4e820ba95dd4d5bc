using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.Health;

namespace UserLB.IO.Tests.Health;

public class HealthMonitorTests
{
    /// <summary>Answers each backend's probes from a table the test sets; optionally never answers (a hung backend).</summary>
    private sealed class FakeProbe : IHealthProbe
    {
        public ConcurrentDictionary<string, bool> Up { get; } = new();
        public ConcurrentDictionary<string, bool> Hang { get; } = new();
        public ConcurrentDictionary<string, int> Calls { get; } = new();

        public async Task<ProbeResult> ProbeAsync(HealthTarget target, CancellationToken cancellationToken)
        {
            Calls.AddOrUpdate(target.Backend, 1, (_, n) => n + 1);
            if (Hang.GetValueOrDefault(target.Backend))
                await Task.Delay(Timeout.Infinite, cancellationToken);
            return Up.GetValueOrDefault(target.Backend, true) ? ProbeResult.Success : ProbeResult.Fail("refused");
        }
    }

    private sealed class ListLogger : ILogger
    {
        public ConcurrentQueue<string> Lines { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(logLevel + " " + formatter(state, exception));
    }

    private const string Config = """
        {"farms": [{"name": "app", "virtual-addr": "192.168.101.250", "virtual-ports": "80", "scheduler": "weight",
          "health-check": {"type": "tcp", "interval": "2", "timeout": "1", "fall": "3", "rise": "2", "flush": "on"},
          "backends": [
            {"name": "primary", "ip-addr": "192.168.1.10", "priority": "1"},
            {"name": "standby", "ip-addr": "192.168.1.11", "priority": "2"},
            {"name": "unchecked", "ip-addr": "192.168.1.12", "priority": "3", "health-check": "none"}]}]}
        """;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeProbe _probe = new();
    private readonly ListLogger _log = new();
    private readonly List<HealthChange> _changes = [];

    private async Task<HealthMonitor> Monitor(string json = Config)
    {
        var m = new HealthMonitor(_probe, _time, _log) { OnChange = c => { _changes.Add(c); return Task.CompletedTask; } };
        await m.ConfigureAsync(ConfigParser.Parse(json));
        return m;
    }

    /// <summary>One interval passes and the due backends are probed.</summary>
    private async Task Round(HealthMonitor m, double seconds = 2)
    {
        _time.Advance(TimeSpan.FromSeconds(seconds));
        await m.CheckDueAsync();
    }

    [Fact]
    public async Task Configure_FarmCheckAndBackendNone_ChecksOnlyBackendsWithACheck()
    {
        var m = await Monitor();
        Assert.Equal(["primary", "standby"], m.Targets.Select(t => t.Backend).Order());
        Assert.All(m.Targets, t => Assert.Equal(80, t.Port));
        Assert.Equal(2, await m.CheckDueAsync()); // new checks are due at once
        Assert.Equal(0, await m.CheckDueAsync()); // then not before the interval
        _time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.Equal(0, await m.CheckDueAsync());
        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(2, await m.CheckDueAsync());
    }

    [Fact]
    public async Task CheckDue_FailsFallTimes_MarkedDownOnTheFallthAndFlushAsked()
    {
        var m = await Monitor();
        _probe.Up["primary"] = false;
        await m.CheckDueAsync();
        await Round(m);
        Assert.Empty(m.Unhealthy);
        Assert.Empty(_changes);
        await Round(m);
        Assert.Equal(["app/primary"], m.Unhealthy);
        var change = Assert.Single(_changes);
        Assert.False(change.Healthy);
        Assert.True(change.Flush);
        Assert.Contains("3 consecutive tcp check(s) failed, last: refused", change.Detail);
        Assert.Contains(_log.Lines, l => l.StartsWith("Warning health: farm app backend primary is DOWN", StringComparison.Ordinal));
        await Round(m);
        Assert.Single(_changes); // no repeat while down
    }

    [Fact]
    public async Task CheckDue_AlternatingResults_NeverMarkedDown()
    {
        var m = await Monitor();
        for (int i = 0; i < 10; i++)
        {
            _probe.Up["primary"] = i % 3 == 2; // fail, fail, ok, ...: never 3 in a row
            await Round(m);
        }
        Assert.Empty(_changes);
        Assert.Empty(m.Unhealthy);
    }

    [Fact]
    public async Task CheckDue_DownThenRiseSuccesses_MarkedUpOnTheRiseth()
    {
        var m = await Monitor();
        _probe.Up["primary"] = false;
        for (int i = 0; i < 3; i++) await Round(m);
        Assert.Equal(["app/primary"], m.Unhealthy);
        _probe.Up["primary"] = true;
        await Round(m);
        Assert.Equal(["app/primary"], m.Unhealthy);
        _probe.Up["primary"] = false; // a failure resets the rise count
        await Round(m);
        _probe.Up["primary"] = true;
        await Round(m);
        Assert.Equal(["app/primary"], m.Unhealthy);
        await Round(m);
        Assert.Empty(m.Unhealthy);
        Assert.Equal([false, true], _changes.Select(c => c.Healthy));
        Assert.Contains(_log.Lines, l => l.StartsWith("Information health: farm app backend primary is UP", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CheckDue_ProbeHangs_FailsAtTheTimeout()
    {
        var m = await Monitor();
        _probe.Hang["primary"] = true;
        for (int i = 0; i < 3; i++)
        {
            var round = m.CheckDueAsync();
            Assert.False(round.IsCompleted); // waiting for the hung probe
            _time.Advance(TimeSpan.FromSeconds(1)); // its timeout
            await round;
            _time.Advance(TimeSpan.FromSeconds(1)); // rest of the interval
        }
        var change = Assert.Single(_changes);
        Assert.Contains("timeout after 1 s", change.Detail);
    }

    [Fact]
    public async Task Unhealthy_PrimaryFails_StandbyAtPriorityTwoTakesOverAndPrimaryReturns()
    {
        var m = await Monitor();
        var config = ConfigParser.Parse(Config);
        var ids = new IdRegistry();
        var before = EngineSnapshot.Build(config, ids, m.Unhealthy, 1).Farms[0];
        Assert.Equal(1, before.Level);
        Assert.Equal(["primary"], before.Candidates.Select(b => b.Name));

        _probe.Up["primary"] = false;
        for (int i = 0; i < 3; i++) await Round(m);
        var during = EngineSnapshot.Build(config, ids, m.Unhealthy, 2).Farms[0];
        Assert.Equal(2, during.Level);
        Assert.Equal(["standby"], during.Candidates.Select(b => b.Name));

        _probe.Up["primary"] = true;
        for (int i = 0; i < 2; i++) await Round(m);
        var after = EngineSnapshot.Build(config, ids, m.Unhealthy, 3).Farms[0];
        Assert.Equal(["primary"], after.Candidates.Select(b => b.Name));
    }

    [Fact]
    public async Task Configure_BackendRemovedWhileDown_ReportedUpAndUnchangedTargetsKeepState()
    {
        var m = await Monitor();
        _probe.Up["primary"] = false;
        _probe.Up["standby"] = false;
        for (int i = 0; i < 3; i++) await Round(m);
        Assert.Equal(2, m.Unhealthy.Count);
        // primary removed, standby unchanged
        await m.ConfigureAsync(ConfigParser.Parse(Config.Replace(
            """{"name": "primary", "ip-addr": "192.168.1.10", "priority": "1"},""", "", StringComparison.Ordinal)));
        Assert.Equal(["app/standby"], m.Unhealthy);
        Assert.Contains(_changes, c => c.Backend == "primary" && c.Healthy && c.Detail == "no longer checked");
    }

    [Fact]
    public async Task Configure_DownBackendOrFarm_NotProbed()
    {
        var m = await Monitor(Config.Replace("\"priority\": \"2\"}", "\"priority\": \"2\", \"state\": \"down\"}", StringComparison.Ordinal));
        Assert.Equal(["primary"], m.Targets.Select(t => t.Backend));
        await m.ConfigureAsync(ConfigParser.Parse(Config.Replace("\"scheduler\": \"weight\",", "\"scheduler\": \"weight\", \"state\": \"off\",", StringComparison.Ordinal)));
        Assert.Empty(m.Targets);
    }

    [Fact]
    public async Task OnChange_Throws_LoggedAndMonitorContinues()
    {
        var m = new HealthMonitor(_probe, _time, _log) { OnChange = _ => throw new InvalidOperationException("worker gone") };
        await m.ConfigureAsync(ConfigParser.Parse(Config));
        _probe.Up["primary"] = false;
        for (int i = 0; i < 3; i++) await Round(m);
        Assert.Equal(["app/primary"], m.Unhealthy);
        Assert.Contains(_log.Lines, l => l.Contains("worker gone", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_FakeClock_ProbesAtTheIntervalUntilCancelled()
    {
        var m = new HealthMonitor(_probe, _time, NullLogger.Instance) { ConfigSource = () => ConfigParser.Parse(Config) };
        using var cts = new CancellationTokenSource();
        var run = m.RunAsync(cts.Token);
        for (int i = 0; i < 20 && _probe.Calls.GetValueOrDefault("primary") < 1; i++) await Task.Delay(10);
        for (int i = 0; i < 3; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(20);
            _time.Advance(TimeSpan.FromSeconds(1));
            for (int j = 0; j < 50 && _probe.Calls.GetValueOrDefault("primary") < i + 2; j++) await Task.Delay(10);
        }
        await cts.CancelAsync();
        await run;
        Assert.InRange(_probe.Calls.GetValueOrDefault("primary"), 4, 5);
    }
}
