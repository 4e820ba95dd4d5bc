namespace UserLB.IO.Live.Receivers;

/// <summary>
/// Receivers whose receive threads run the one engine themselves, under its lock: no hand-off (and no wake-up) per
/// frame. The last thread out retires the worker, so later control actions run on their caller's thread.
/// </summary>
public abstract class InlineReceiver : Receiver
{
    private int _running;

    private protected InlineReceiver(IPortIo[] ports, Worker[] workers, EngineClock clock)
        : base(ports, workers, clock)
    {
        ArgumentNullException.ThrowIfNull(workers);
        if (workers.Length != 1)
            throw new ArgumentException($"the receive threads run one engine inline; {workers.Length} workers need the queue receiver", nameof(workers));
        Worker = workers[0];
        _running = ports.Length;
    }

    public override string Dispatch => "inline";

    private protected Worker Worker { get; }

    /// <summary>A receive thread ends; the last one retires the worker.</summary>
    private protected void Leave()
    {
        if (Interlocked.Decrement(ref _running) == 0) Worker.Retire(Clock.NowNs());
    }
}
