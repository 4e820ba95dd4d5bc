namespace UserLB.IO.Live;

/// <summary>
/// A wall-clock window over which a second clock (a thread's CPU time, its run-queue wait) is compared with the wall
/// time that passed: <see cref="ReceiveThreadPolicy"/> and <see cref="PollingGate"/> each keep one. Not thread-safe.
/// </summary>
internal sealed class ClockWindow(long windowNs)
{
    private long _start = -1, _clock;

    /// <summary>Whether the window has ended at <paramref name="wallNs"/> (or none has started).</summary>
    public bool Due(long wallNs) => _start < 0 || wallNs - _start >= windowNs;

    /// <summary>
    /// At the end of a window: whether <paramref name="clockNs"/> advanced by at least <paramref name="fraction"/> of the
    /// wall time that passed, and a new window starts. Null before the window ends, and at the first call (which starts
    /// the first window).
    /// </summary>
    public bool? Close(long wallNs, long clockNs, double fraction)
    {
        if (_start < 0)
        {
            (_start, _clock) = (wallNs, clockNs);
            return null;
        }
        if (!Due(wallNs)) return null;
        bool reached = clockNs - _clock >= fraction * (wallNs - _start);
        (_start, _clock) = (wallNs, clockNs);
        return reached;
    }
}
