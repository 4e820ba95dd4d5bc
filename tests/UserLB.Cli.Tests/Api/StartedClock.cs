using Microsoft.Extensions.Time.Testing;

namespace UserLB.Cli.Tests.Api;

/// <summary>A FakeTimeProvider for the engines' clock: timestamps counted from its start (the engine's nanoseconds of a
/// timestamp in DateTime ticks since year 1 would not fit a long).</summary>
internal sealed class StartedClock(DateTimeOffset origin) : FakeTimeProvider(origin)
{
    /// <summary>A fake clock whose wall time starts at 1700000000 s since 1970.</summary>
    public static StartedClock Create() => new(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));

    public override long GetTimestamp() => (GetUtcNow() - Start).Ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
}
