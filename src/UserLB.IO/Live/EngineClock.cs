namespace UserLB.IO.Live;

/// <summary>The engines' time in nanoseconds, from the forwarder's <see cref="TimeProvider"/> (tests inject a fake one).</summary>
internal sealed class EngineClock(TimeProvider time)
{
    public TimeProvider Time => time;

    public long NowNs() => (long)(time.GetTimestamp() * (1_000_000_000.0 / time.TimestampFrequency));
}
