namespace UserLB.IO.Live.Receivers;

/// <summary>The polled receiver's settings (<see cref="PolledReceiver"/>); those left unset take <c>userlb run</c>'s defaults.</summary>
public sealed class PollOptions
{
    /// <summary>
    /// The most the first thread keeps checking the rings after the last frame before it sleeps in poll(), ns (0: sleep
    /// at once; the window adapts below it, <see cref="BusyPollWindow"/>). Saves the wake-up per packet at the cost of a
    /// CPU while frames come close together; only while it receives alone and a CPU is spare (<see cref="Gate"/>).
    /// </summary>
    public long BusyPollNs { get; init; }

    /// <summary>When the threads per port join the first (default: <see cref="ReceiveThreadPolicy"/>'s).</summary>
    public ReceiveThreadPolicy? Policy { get; init; }

    /// <summary>With busy polling: when the first thread holds its polling back (default: <see cref="PollingGate"/>'s).</summary>
    public PollingGate? Gate { get; init; }

    /// <summary>The first thread's CPU clock and the kernel's receive stamps' clock (default: the system's).</summary>
    public PollClocks? Clocks { get; init; }
}
