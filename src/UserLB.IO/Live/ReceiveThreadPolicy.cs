namespace UserLB.IO.Live;

/// <summary>
/// When <see cref="Receivers.PolledReceiver"/> adds a thread per port beside the one receive thread. The one thread has no
/// other thread to wake and so forwards more new connections per second on a machine whose CPUs it shares with the
/// traffic's ends, but it carries both directions and the receiving stacks' work (inside each send() on a veth) on one
/// CPU, which caps a bulk transfer. So: one thread while it keeps up; when its own CPU time fills
/// <see cref="SaturatedFraction"/> of <see cref="WindowsToEngage"/> windows in a row, a thread per port (engaged) for
/// <see cref="EngagedNs"/>; then one thread again, to see whether it still is saturated (it is engaged again after
/// <see cref="WindowsToEngage"/> windows if so). Fed by the one thread with its wall clock and CPU clock; not thread-safe,
/// <see cref="Engaged"/> and <see cref="Engagements"/> may be read from any thread.
/// </summary>
public sealed class ReceiveThreadPolicy
{
    private readonly ClockWindow _window;
    private long _engagedAt, _engagements;
    private int _hot;
    private volatile bool _engaged;

    /// <param name="windowNs">The wall-clock window the thread's CPU time is measured over.</param>
    /// <param name="saturatedFraction">CPU time / wall time at or above which a window counts as saturated.</param>
    /// <param name="windowsToEngage">Saturated windows in a row that engage a thread per port.</param>
    /// <param name="engagedNs">How long a thread per port stays engaged before the one thread is tried again.</param>
    public ReceiveThreadPolicy(long windowNs = 20_000_000, double saturatedFraction = 0.85, int windowsToEngage = 2, long engagedNs = 1_000_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowNs, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(saturatedFraction);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowsToEngage, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(engagedNs);
        WindowNs = windowNs;
        _window = new ClockWindow(windowNs);
        SaturatedFraction = saturatedFraction;
        WindowsToEngage = windowsToEngage;
        EngagedNs = engagedNs;
    }

    public long WindowNs { get; }
    public double SaturatedFraction { get; }
    public int WindowsToEngage { get; }
    public long EngagedNs { get; }

    /// <summary>Whether a thread per port is engaged now.</summary>
    public bool Engaged => _engaged;

    /// <summary>How many times a thread per port was engaged.</summary>
    public long Engagements => Interlocked.Read(ref _engagements);

    /// <summary>
    /// Whether a window has ended at <paramref name="wallNs"/> (or none has started), so that <see cref="Observe"/> has
    /// something to do: the caller reads its CPU clock (a system call) only then.
    /// </summary>
    public bool WindowDue(long wallNs) => _window.Due(wallNs);

    /// <summary>
    /// The one thread's clocks now (wall and its own CPU time, ns, any origin); true when <see cref="Engaged"/> changed.
    /// Nothing happens before the window ends (<see cref="WindowDue"/>).
    /// </summary>
    public bool Observe(long wallNs, long threadCpuNs)
    {
        if (_window.Close(wallNs, threadCpuNs, SaturatedFraction) is not { } saturated) return false;
        if (_engaged)
        {
            if (wallNs - _engagedAt < EngagedNs) return false;
            _engaged = false; // try the one thread again
            _hot = 0;
            return true;
        }
        _hot = saturated ? _hot + 1 : 0;
        if (_hot < WindowsToEngage) return false;
        _hot = 0;
        _engaged = true;
        _engagedAt = wallNs;
        Interlocked.Increment(ref _engagements);
        return true;
    }
}
