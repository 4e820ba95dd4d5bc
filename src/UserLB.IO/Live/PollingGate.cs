namespace UserLB.IO.Live;

/// <summary>
/// Whether busy polling is allowed in the next window: not after a window in which the polling thread waited on a run
/// queue for <see cref="ContendedFraction"/> of it or more (the CPUs were all taken). Fed once per window.
/// </summary>
public sealed class PollingGate
{
    private readonly ClockWindow _window;
    private long _contendedWindows;

    public PollingGate(long windowNs = 20_000_000, double contendedFraction = 0.15)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowNs, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(contendedFraction);
        WindowNs = windowNs;
        _window = new ClockWindow(windowNs);
        ContendedFraction = contendedFraction;
    }

    public long WindowNs { get; }
    public double ContendedFraction { get; }

    /// <summary>Whether polling is allowed now (true until a window says otherwise).</summary>
    public bool Open { get; private set; } = true;

    /// <summary>Windows after which polling was held back (read from any thread).</summary>
    public long ContendedWindows => Interlocked.Read(ref _contendedWindows);

    public bool WindowDue(long wallNs) => _window.Due(wallNs);

    /// <summary>The clocks now (wall, and the thread's run-queue wait; ns, any origin; a negative wait: unknown, always open).</summary>
    public void Observe(long wallNs, long waitNs)
    {
        if (waitNs < 0)
        {
            Open = true;
            return;
        }
        if (_window.Close(wallNs, waitNs, ContendedFraction) is not { } contended) return;
        Open = !contended;
        if (contended) Interlocked.Increment(ref _contendedWindows);
    }
}
