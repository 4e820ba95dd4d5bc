namespace UserLB.IO.Live.Receivers;

/// <summary>
/// The clocks the polled receiver reads besides the engines' (the forwarder's <see cref="TimeProvider"/>, which also
/// times its windows): the first thread's CPU time, for <see cref="ReceiveThreadPolicy"/>, and the clock the kernel
/// stamps received frames with (<see cref="IPollablePort.PendingTimestampNs"/>), for the gap busy polling would have
/// had to cover. Tests give their own to drive both.
/// </summary>
public sealed class PollClocks
{
    private readonly Func<long> _threadCpuNs, _stampNs;

    /// <param name="threadCpuNs">The calling thread's CPU time, ns (any origin).</param>
    /// <param name="stampNs">Now on the clock of the ports' receive timestamps, ns.</param>
    public PollClocks(Func<long> threadCpuNs, Func<long> stampNs)
    {
        _threadCpuNs = threadCpuNs ?? throw new ArgumentNullException(nameof(threadCpuNs));
        _stampNs = stampNs ?? throw new ArgumentNullException(nameof(stampNs));
    }

    /// <summary>The calling thread's CPU time (<see cref="ThreadClock"/>) and the realtime clock AF_PACKET stamps ring slots with.</summary>
    public static PollClocks Default { get; } = new(ThreadClock.CpuNs, AfPacketPort.WallClockNs);

    public long ThreadCpuNs() => _threadCpuNs();

    public long StampNs() => _stampNs();
}
