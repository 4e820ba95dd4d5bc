using System.Globalization;

namespace UserLB.IO.Live.Receivers;

/// <summary>
/// One worker over ports that can be polled together (afpacket with rings, <see cref="IPollablePort"/>). Port 0's
/// thread receives alone while it keeps up, sleeping in one poll() on every port, optionally busy polling the rings
/// first; when its CPU time shows it saturated (<see cref="ReceiveThreadPolicy"/>) the other ports' threads join, each
/// sleeping on its own port, until the policy tries the one thread again. Every thread takes the frames waiting at
/// every port, its own first, so a reply its own send produced at another port is forwarded without a wake-up.
/// </summary>
public sealed class PolledReceiver : InlineReceiver
{
    private const int BatchPerPort = 64;
    private const int SleepMs = 5; // poll()'s timeout: an idle thread still runs housekeeping and control actions
    private readonly IPollablePort[] _polled;
    private readonly BusyPollWindow? _window;
    private readonly PollingGate? _gate;
    private readonly PollClocks _clocks;
    private readonly ManualResetEventSlim _join = new(false); // set while the threads per port are engaged
    private long _sleeps, _polledNs, _spells;
    private int _joined;

    internal PolledReceiver(IPortIo[] ports, Worker[] workers, EngineClock clock, PollOptions options)
        : base(ports, workers, clock)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!PortPoll.All(ports))
            throw new ArgumentException("the polled receiver needs ports that can be polled together (afpacket with rings)", nameof(ports));
        ArgumentOutOfRangeException.ThrowIfNegative(options.BusyPollNs);
        _polled = Array.ConvertAll(ports, p => (IPollablePort)p);
        BusyPollNs = options.BusyPollNs;
        _window = BusyPollNs > 0 ? new BusyPollWindow(BusyPollNs) : null;
        _gate = _window is not null ? options.Gate ?? new PollingGate() : null;
        Policy = options.Policy ?? new ReceiveThreadPolicy();
        _clocks = options.Clocks ?? PollClocks.Default;
    }

    /// <summary>"inline dispatch, one receive thread, a thread per interface while it is saturated[, busy-poll 50 us]".</summary>
    public override string Description => "inline dispatch, one receive thread, a thread per interface while it is saturated"
        + (BusyPollNs > 0 ? string.Create(CultureInfo.InvariantCulture, $", busy-poll {BusyPollNs / 1000} us") : "");

    /// <summary>The ceiling of the first thread's adaptive busy-poll window (<c>--busy-poll</c>; 0: never polls).</summary>
    public long BusyPollNs { get; }

    /// <summary>The busy-poll window now (<see cref="BusyPollWindow"/>: grows to cover short gaps between frames, shrinks on long ones).</summary>
    public long WindowNs => _window?.WindowNs ?? 0;

    /// <summary>When the threads per port join the first, and whether they have.</summary>
    public ReceiveThreadPolicy Policy { get; }

    /// <summary>Threads per port receiving beside the first now (0 while it receives alone).</summary>
    public int JoinedThreads => Volatile.Read(ref _joined);

    /// <summary>
    /// How often a receive thread went to sleep in poll() (each idle timeout counts once too): with busy polling, a
    /// figure that stays flat while traffic flows means no frame waited for a thread to wake up.
    /// </summary>
    public long Sleeps => Interlocked.Read(ref _sleeps);

    /// <summary>Time the first thread spent polling empty rings, ns on the engines' clock: the CPU busy polling costs.</summary>
    public long PolledNs => Interlocked.Read(ref _polledNs);

    /// <summary>How many times the first thread began polling the rings instead of sleeping (each spell ends at a frame or with the window).</summary>
    public long PollingSpells => Volatile.Read(ref _spells);

    /// <summary>Windows after which the first thread held its polling back because it had waited for a CPU itself (<see cref="PollingGate"/>).</summary>
    public long HeldBackWindows => _gate?.ContendedWindows ?? 0;

    private protected override void ReceiveLoop(int port)
    {
        if (port == 0) LeadLoop();
        else JoinLoop(port);
    }

    private protected override void Wake() => _join.Set();

    /// <summary>
    /// Port 0's thread. Alone, it sleeps on every port and, with busy polling, keeps checking the rings while the
    /// adaptive window since the last frame lasts and the gate allows; engaged, it sleeps on its own port as the others
    /// do. It feeds the policy (its CPU time less its polling) and the gate, once per window each.
    /// </summary>
    private void LeadLoop()
    {
        var ct = Stopping;
        var window = _window;
        var gate = _gate;
        var policy = Policy;
        byte[] buffer = new byte[LiveForwarder.BufferSize];
        Span<int> fds = stackalloc int[_polled.Length];
        long lastFrame = Clock.NowNs(), lastStamp = _clocks.StampNs();
        long spinFrom = -1; // polling since (that time is not work for the policy)
        using var runQueue = gate is not null ? RunQueueWait.ForCurrentThread() : null;
        bool closed = false;
        while (!ct.IsCancellationRequested && !closed)
        {
            var round = TakeFrames(0, buffer, stamp: window is not null);
            closed = round.Closed;
            if (round.Frames > 0) (lastFrame, lastStamp) = (round.Now, round.Stamp);
            bool spin = round.Frames == 0 && !closed && window is not null && round.Now - lastFrame < window.WindowNs
                && !policy.Engaged && gate!.Open;
            if (spin)
            {
                if (spinFrom < 0)
                {
                    spinFrom = Clock.NowNs();
                    Volatile.Write(ref _spells, _spells + 1); // (one writer: this thread)
                }
            }
            else if (spinFrom >= 0)
            {
                Interlocked.Add(ref _polledNs, Clock.NowNs() - spinFrom);
                spinFrom = -1;
            }
            // Outside the lock: the send runs the receiving side's stack; engaged, another thread runs the engine meanwhile.
            Worker.Sink.Flush();
            long wall = Clock.NowNs(); // the CPU clock and schedstat are system calls: read once per window
            if (policy.WindowDue(wall) && policy.Observe(wall, _clocks.ThreadCpuNs() - PolledNs))
            {
                if (policy.Engaged) _join.Set();
                else _join.Reset();
            }
            if (gate is not null && gate.WindowDue(wall)) gate.Observe(wall, runQueue!.WaitNs());
            // A frame this flush produced (a reply sent inside it, on a veth) or another thread's flush left is taken now.
            if (round.Frames > 0 || closed || AnyPending()) continue;
            if (spin)
            {
                Thread.SpinWait(20);
                continue;
            }
            if (!TrySleep(fds[..(policy.Engaged ? 1 : fds.Length)], 0, out int ready)) break;
            if (window is null) continue;
            if (ready > 0)
            {
                // The gap polling would have had to cover: from the last frame to the kernel's stamp of this one (not the wake-up).
                long arrival = EarliestPendingStamp();
                window.OnWake(arrival > 0 ? arrival - lastStamp : Clock.NowNs() - lastFrame);
            }
            else if (ready == 0)
            {
                window.OnTimeout();
            }
        }
        Leave();
    }

    /// <summary>
    /// Another port's thread: parked while the first thread receives alone; engaged, it takes every port's frames (its
    /// own first) and sleeps on its own port.
    /// </summary>
    private void JoinLoop(int home)
    {
        var ct = Stopping;
        var policy = Policy;
        byte[] buffer = new byte[LiveForwarder.BufferSize];
        Span<int> fd = stackalloc int[1];
        bool closed = false, joined = false;
        while (!ct.IsCancellationRequested && !closed)
        {
            if (!policy.Engaged)
            {
                if (joined) { joined = false; Interlocked.Decrement(ref _joined); }
                _join.Wait(50); // (no token: a cancelled wait would throw; Stop sets the event)
                continue;
            }
            if (!joined) { joined = true; Interlocked.Increment(ref _joined); }
            var round = TakeFrames(home, buffer, stamp: false);
            closed = round.Closed;
            Worker.Sink.Flush();
            if (round.Frames > 0 || closed || AnyPending()) continue;
            if (!TrySleep(fd, home, out _)) break;
        }
        if (joined) Interlocked.Decrement(ref _joined);
        Leave();
    }

    /// <summary>
    /// Under the engine's lock: up to a batch from each port, <paramref name="home"/> first (one busy port does not
    /// starve the others), then the work between batches. The caller flushes after letting go of the lock.
    /// </summary>
    private Round TakeFrames(int home, byte[] buffer, bool stamp)
    {
        var w = Worker;
        int frames = 0;
        bool closed = false;
        lock (w.Lock)
        {
            for (int j = 0; j < _polled.Length && !closed; j++)
            {
                int port = home + j < _polled.Length ? home + j : home + j - _polled.Length;
                var io = _polled[port];
                for (int k = 0; k < BatchPerPort && io.Pending; k++)
                {
                    int n = io.Receive(buffer, out var offload);
                    if (n < 0) { closed = true; break; }
                    if (n == 0) break;
                    CountOversize(n);
                    w.Engine.Process(buffer.AsSpan(0, n), port, Clock.NowNs(), offload);
                    frames++;
                }
            }
            long now = Clock.NowNs();
            long stampNs = frames > 0 && stamp ? _clocks.StampNs() : 0;
            w.Idle(now);
            return new Round(frames, closed, now, stampNs);
        }
    }

    /// <summary>Sleeps in poll() on the ports from <paramref name="first"/>, one per descriptor slot; false when one is closed.</summary>
    private bool TrySleep(Span<int> fds, int first, out int ready)
    {
        ready = 0;
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = _polled[first + i].PollFd;
            if (fds[i] < 0) return false; // disposed
        }
        Interlocked.Increment(ref _sleeps);
        ready = PortPoll.Wait(fds, SleepMs);
        return true;
    }

    /// <summary>Whether a frame waits at any port (exact for pollable ports: one ring slot's status each).</summary>
    private bool AnyPending()
    {
        foreach (var p in _polled)
            if (p.Pending) return true;
        return false;
    }

    /// <summary>The earliest kernel receive stamp of the frames waiting at the ports; 0 when none tells.</summary>
    private long EarliestPendingStamp()
    {
        long earliest = 0;
        foreach (var p in _polled)
        {
            long t = p.PendingTimestampNs;
            if (t > 0 && (earliest == 0 || t < earliest)) earliest = t;
        }
        return earliest;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _join.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>One round: frames taken, whether a port closed, the engines' time after it, the stamp clock then (0 unless asked).</summary>
    private readonly record struct Round(int Frames, bool Closed, long Now, long Stamp);
}
