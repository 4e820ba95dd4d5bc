namespace UserLB.Cli.Views;

/// <summary>Rates between two captures of the counters.</summary>
internal sealed record Rates(double Seconds, double RxPps, double RxBitsPerSecond, double TxPps, double TxBitsPerSecond,
    double ForwardedPps, double DropsPerSecond, double ConnectionsPerSecond, IReadOnlyDictionary<string, double> FarmConnectionsPerSecond)
{
    public static Rates Between(StatsSnapshot earlier, StatsSnapshot later)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        ArgumentNullException.ThrowIfNull(later);
        double dt = (later.Time - earlier.Time).TotalSeconds;
        if (dt <= 0) dt = double.Epsilon;
        double Per(long a, long b) => Math.Max(0, b - a) / dt;
        var a = earlier.Engine;
        var b = later.Engine;
        var farms = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var f in later.Farms)
        {
            long before = 0;
            foreach (var g in earlier.Farms)
                if (g.Name == f.Name) before = g.Connections;
            farms[f.Name] = Per(before, f.Connections);
        }
        return new Rates(dt, Per(a.RxFrames, b.RxFrames), Per(a.RxBytes, b.RxBytes) * 8, Per(a.TxFrames, b.TxFrames), Per(a.TxBytes, b.TxBytes) * 8,
            Per(a.Forwarded, b.Forwarded), Per(a.Dropped, b.Dropped), Per(a.Connections, b.Connections), farms);
    }
}

/// <summary>
/// Keeps recent captures (at most one a second, up to a minute) so that a status request can give rates without waiting:
/// the reference is the oldest capture of the last <see cref="Window"/>, at least <see cref="MinSpan"/> old.
/// </summary>
internal sealed class RateTracker
{
    public static readonly TimeSpan MinSpan = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private readonly Lock _lock = new();
    private readonly List<StatsSnapshot> _samples = [];

    /// <summary>Records <paramref name="s"/> (when the newest kept capture is at least a second older).</summary>
    public void Add(StatsSnapshot s)
    {
        ArgumentNullException.ThrowIfNull(s);
        lock (_lock)
        {
            if (_samples.Count > 0 && s.Time - _samples[^1].Time < MinSpan) return;
            _samples.Add(s);
            _samples.RemoveAll(x => s.Time - x.Time > TimeSpan.FromMinutes(1));
        }
    }

    /// <summary>The capture to compute rates against for <paramref name="current"/>, or null when none is recent and old enough.</summary>
    public StatsSnapshot? Reference(StatsSnapshot current)
    {
        ArgumentNullException.ThrowIfNull(current);
        lock (_lock)
        {
            foreach (var s in _samples)
            {
                var age = current.Time - s.Time;
                if (age <= Window && age >= MinSpan) return s;
            }
            return null;
        }
    }
}
