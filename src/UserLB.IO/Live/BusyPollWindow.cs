namespace UserLB.IO.Live;

/// <summary>
/// How long the one receive thread keeps polling after the last frame before it sleeps, adapted as the kernel's
/// cpuidle haltpoll governor adapts its window: when a sleep was ended by a frame that came within the ceiling of the
/// previous one, polling would have caught it, so the window grows to cover twice that gap; when the gap was longer than
/// the ceiling, or the sleep timed out, polling would have been wasted, so it halves (to 0 below 2 µs). Request/response
/// traffic with short gaps ends up never sleeping; idle or light traffic ends up never spinning.
/// </summary>
public sealed class BusyPollWindow
{
    /// <summary>Below this the window is 0: spinning for less than a wake-up costs is not worth it.</summary>
    public const long MinNs = 2_000;
    private long _windowNs;

    /// <param name="ceilingNs">The longest window (<c>--busy-poll</c>); 0: never poll.</param>
    public BusyPollWindow(long ceilingNs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ceilingNs);
        CeilingNs = ceilingNs;
    }

    public long CeilingNs { get; }

    /// <summary>The window now (read by other threads for the views).</summary>
    public long WindowNs => Volatile.Read(ref _windowNs);

    /// <summary>A sleep ended by a frame that arrived <paramref name="gapNs"/> after the thread last had work.</summary>
    public void OnWake(long gapNs)
    {
        if (gapNs >= 0 && gapNs <= CeilingNs)
            Volatile.Write(ref _windowNs, Math.Min(CeilingNs, Math.Max(MinNs, 2 * gapNs)));
        else
            Shrink();
    }

    /// <summary>A sleep that ended with no frame (the poll timeout): the link is idle.</summary>
    public void OnTimeout() => Shrink();

    private void Shrink()
    {
        long w = _windowNs / 2;
        Volatile.Write(ref _windowNs, w < MinNs ? 0 : w);
    }
}
