using System.Threading.Channels;
using Microsoft.Extensions.ObjectPool;
using UserLB.Engine;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>How received frames reach the engine.</summary>
public enum LiveDispatch
{
    /// <summary>
    /// Receive thread per port → bounded channel per worker (full = counted drop) → worker threads, each owning one
    /// engine (a shard of the flows, <see cref="FlowShard"/>). The only choice with more than one worker.
    /// </summary>
    Queue,

    /// <summary>
    /// Run to completion on the receive threads: one engine, taken under a lock by whichever port's thread has a frame;
    /// no thread hand-off, so no wake-up latency per packet. One worker only.
    /// </summary>
    Inline,
}

/// <summary>Which threads receive with inline dispatch.</summary>
public enum LiveReceive
{
    /// <summary>
    /// A thread per port, each sleeping on its own port; the engine is taken under a lock, and the send that hands a
    /// batch to the kernel runs after it is let go (on a veth that send runs the receiving side's stack, the bulk of the
    /// per-frame cost), so the threads' sends run in parallel. With ports that can be polled (afpacket with rings) a
    /// thread that holds the engine takes the frames waiting at every port, its own first: a reply its own send
    /// produced at another port is forwarded at once, without waking that port's thread.
    /// </summary>
    PerPort,

    /// <summary>
    /// One thread for every port (ports that can be polled together: afpacket with rings), sleeping in one poll() on
    /// all of them: no lock hand-over between ports, and it can busy-poll every ring before sleeping.
    /// </summary>
    OneThread,

    /// <summary>
    /// A thread per port of which only the first receives while it keeps up, sleeping in one poll() on every port as
    /// <see cref="OneThread"/> does; when its CPU time shows it saturated the others join in, each sleeping on its own
    /// port as with <see cref="PerPort"/>, and leave again when the one thread keeps up (<see cref="ReceiveThreadPolicy"/>).
    /// Ports that can be polled together only (afpacket with rings).
    /// </summary>
    Auto,
}

public static class LiveDispatchNames
{
    /// <summary>The name <c>userlb run --dispatch</c> takes and the views show: "inline" or "queue".</summary>
    public static string Name(this LiveDispatch dispatch) => dispatch == LiveDispatch.Inline ? "inline" : "queue";

    /// <summary>The name <c>userlb run --rx-threads</c> takes: "one", "per-port" or "auto".</summary>
    public static string Name(this LiveReceive receive) => receive switch
    {
        LiveReceive.OneThread => "one",
        LiveReceive.Auto => "auto",
        _ => "per-port",
    };

    /// <summary>
    /// How frames reach the engine, for the start log: "queue dispatch", "inline dispatch", "inline dispatch, one
    /// receive thread", "inline dispatch, one receive thread, busy-poll 50 us", "inline dispatch, one receive thread, a
    /// thread per interface while it is saturated[, busy-poll 50 us]".
    /// </summary>
    public static string DispatchDescription(this LiveForwarder forwarder)
    {
        ArgumentNullException.ThrowIfNull(forwarder);
        string dispatch = forwarder.Dispatch.Name() + " dispatch";
        string busyPoll = forwarder.BusyPollNs > 0
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $", busy-poll {forwarder.BusyPollNs / 1000} us")
            : "";
        return forwarder.Receive switch
        {
            LiveReceive.Auto => dispatch + ", one receive thread, a thread per interface while it is saturated" + busyPoll,
            LiveReceive.OneThread => dispatch + ", one receive thread" + busyPoll,
            _ => dispatch,
        };
    }
}

/// <summary>
/// Live pipeline. <see cref="LiveDispatch.Queue"/>: one receive thread per port dispatches each frame by
/// <see cref="FlowShard"/> (both directions of a flow on one worker; ARP/NDP to every worker) into the bounded channel of
/// its worker; each worker runs its own engine to completion (parse, conntrack, NAT, send) with no lock per packet.
/// <see cref="LiveDispatch.Inline"/>: one engine run on the receive threads. Frame buffers come from an object pool;
/// nothing is allocated per packet in steady state. The control plane reaches the engines only through
/// <see cref="InvokeAsync"/>/<see cref="InvokeAllAsync"/>, which run code on the thread that owns each engine.
/// </summary>
public sealed class LiveForwarder : IDisposable
{
    /// <summary>A receive buffer: room for a GSO/GRO super-frame (64 KB of IP packet).</summary>
    public const int BufferSize = PacketParser.MaxGsoFrameLength;

    /// <summary>Queue dispatch: the pooled buffers frames wait in; larger frames (super-frames) take one of <see cref="_largePool"/>.</summary>
    private const int SmallBufferSize = 2048;
    public const int MaxWorkers = 64;
    private readonly IPortIo[] _ports;
    private readonly IPollablePort[]? _pollable; // the same ports when every one can be polled
    private readonly Worker[] _workers;
    private readonly Channel<RxItem>[]? _queues; // queue dispatch: worker i's channel
    private readonly ObjectPool<byte[]> _pool, _largePool;
    private readonly EngineClock _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly ManualResetEventSlim _autoJoin = new(false); // set while Auto's threads per port are engaged
    private readonly List<Thread> _threads = [];
    private readonly int _queueCapacity; // per worker
    private int _receiversRunning;
    private long _queueDrops;
    private long _receiveSleeps, _polledNs;
    private readonly BusyPollWindow? _busyPoll;
    private readonly PollingGate? _pollingGate; // with busy polling: the polling thread's
    private long _oversize;

    /// <summary>One worker, <see cref="LiveDispatch.Queue"/> (receive threads → channel → worker).</summary>
    public LiveForwarder(IPortIo[] ports, Func<IFrameSink, PacketEngine> createEngine, TimeProvider? time = null, int queueCapacity = 8192)
        : this(ports, WithoutShard(createEngine), 1, time, queueCapacity)
    {
    }

    /// <summary>
    /// <paramref name="workers"/> engines; <paramref name="createEngine"/> gets each worker's sink and its shard index
    /// (0 … workers − 1) and must create the engine with <c>ShardCount = workers, ShardIndex = shard</c>.
    /// </summary>
    /// <param name="ports">The interfaces, in port order.</param>
    /// <param name="createEngine">Creates worker i's engine around its sink.</param>
    /// <param name="workers">How many engines (1 … <see cref="MaxWorkers"/>).</param>
    /// <param name="time">The clock (tests inject one).</param>
    /// <param name="queueCapacity">Frames each worker's channel holds (queue dispatch).</param>
    /// <param name="dispatch">How frames reach the engine.</param>
    /// <param name="receive">Inline dispatch: one thread polling every port, or one thread per port.</param>
    /// <param name="busyPollNs">One receive thread: the most it keeps checking the ports after the last frame before it
    /// sleeps in poll() (0: sleep at once; the window adapts below it, <see cref="BusyPollWindow"/>). Saves the wake-up
    /// per packet at the cost of a CPU while frames come close together. With <see cref="LiveReceive.Auto"/> the one
    /// thread polls while it receives alone (the time it spends polling is not work for the policy); the threads per
    /// port sleep.</param>
    /// <param name="autoPolicy"><see cref="LiveReceive.Auto"/>: when the threads per port join the first (default
    /// <see cref="ReceiveThreadPolicy"/>'s).</param>
    /// <param name="pollingGate">Busy polling: when the polling thread holds it back (default <see cref="PollingGate"/>'s).</param>
    public LiveForwarder(IPortIo[] ports, Func<IFrameSink, int, PacketEngine> createEngine, int workers, TimeProvider? time = null,
        int queueCapacity = 8192, LiveDispatch dispatch = LiveDispatch.Queue, LiveReceive receive = LiveReceive.PerPort, long busyPollNs = 0,
        ReceiveThreadPolicy? autoPolicy = null, PollingGate? pollingGate = null)
    {
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentNullException.ThrowIfNull(createEngine);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(workers, MaxWorkers);
        if (dispatch == LiveDispatch.Inline && workers != 1)
            throw new ArgumentException($"inline dispatch runs one engine; {workers} workers need queue dispatch", nameof(dispatch));
        if (receive is LiveReceive.OneThread or LiveReceive.Auto && dispatch != LiveDispatch.Inline)
            throw new ArgumentException("one receive thread for every port runs the engine inline; queue dispatch has a thread per port", nameof(receive));
        if (receive is LiveReceive.OneThread or LiveReceive.Auto && !PortPoll.All(ports))
            throw new ArgumentException("one receive thread needs ports that can be polled together (afpacket with rings)", nameof(receive));
        ArgumentOutOfRangeException.ThrowIfNegative(busyPollNs);
        if (busyPollNs > 0 && receive != LiveReceive.OneThread && receive != LiveReceive.Auto)
            throw new ArgumentException("busy polling needs one receive thread for every port (one or auto)", nameof(busyPollNs));
        _ports = ports;
        _pollable = PortPoll.All(ports) ? Array.ConvertAll(ports, p => (IPollablePort)p) : null;
        Receive = receive;
        BusyPollNs = busyPollNs;
        _busyPoll = busyPollNs > 0 ? new BusyPollWindow(busyPollNs) : null;
        if (receive == LiveReceive.Auto) AutoPolicy = autoPolicy ?? new ReceiveThreadPolicy();
        _pollingGate = _busyPoll is not null ? pollingGate ?? new PollingGate() : null;
        _clock = new EngineClock(time ?? TimeProvider.System);
        _queueCapacity = queueCapacity;
        Dispatch = dispatch;
        _pool = new DefaultObjectPool<byte[]>(new BufferPolicy(SmallBufferSize), queueCapacity * workers + 64 * (ports.Length + workers));
        _largePool = new DefaultObjectPool<byte[]>(new BufferPolicy(BufferSize), 64 * (ports.Length + workers));
        // With several workers two of them may send out of one port at once: the ports' send paths are not
        // thread-safe (the AF_PACKET TX ring has one cursor), so each send takes the port's lock.
        var portLocks = new object[ports.Length];
        for (int i = 0; i < portLocks.Length; i++) portLocks[i] = new object();
        _workers = new Worker[workers];
        _queues = dispatch == LiveDispatch.Inline ? null : new Channel<RxItem>[workers];
        for (int i = 0; i < workers; i++)
        {
            var sink = new PortSink(ports, workers > 1 ? portLocks : null);
            var engine = createEngine(sink, i);
            if (engine.ShardCount != workers || engine.ShardIndex != i)
                throw new ArgumentException($"worker {i}'s engine is shard {engine.ShardIndex} of {engine.ShardCount}; expected {i} of {workers}", nameof(createEngine));
            if (_queues is not null)
                _queues[i] = Channel.CreateBounded<RxItem>(new BoundedChannelOptions(queueCapacity)
                {
                    SingleReader = true,
                    SingleWriter = ports.Length == 1,
                    FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full; the receiver counts the drop
                });
            _workers[i] = new Worker(i, engine, sink);
        }
    }

    private static Func<IFrameSink, int, PacketEngine> WithoutShard(Func<IFrameSink, PacketEngine> createEngine)
    {
        ArgumentNullException.ThrowIfNull(createEngine);
        return (sink, _) => createEngine(sink);
    }

    /// <summary>Worker 0's engine: the configuration snapshot (the same in every worker) is read from it.</summary>
    public PacketEngine Engine => _workers[0].Engine;

    /// <summary>How many workers (engines, each owning the flows of its shard, <see cref="FlowShard"/>) forward.</summary>
    public int WorkerCount => _workers.Length;

    public LiveDispatch Dispatch { get; }

    /// <summary>Inline dispatch: one receive thread for every port, or one per port.</summary>
    public LiveReceive Receive { get; }

    /// <summary>
    /// How often the receive threads of pollable ports (afpacket with rings: the one thread, or each port's) went to
    /// sleep in poll() (each idle 5 ms counts once too): with busy polling, a figure that stays flat while traffic flows
    /// means no frame waited for the thread to wake up. 0 with other ports and with queue dispatch.
    /// </summary>
    public long ReceiveSleeps => Interlocked.Read(ref _receiveSleeps);

    /// <summary>
    /// Wall time the one receive thread spent polling empty rings (<c>--busy-poll</c>) since the start, ns: the CPU busy
    /// polling costs. With <see cref="LiveReceive.Auto"/> it polls only while it receives alone.
    /// </summary>
    public long BusyPolledNs => Interlocked.Read(ref _polledNs);

    /// <summary>
    /// Windows (20 ms) after which the polling thread held its polling back because it had waited for a CPU itself
    /// for 15 % of the window or more (<see cref="PollingGate"/>): the CPUs were all taken, and polling would take one from
    /// the traffic's own ends.
    /// </summary>
    public long BusyPollHeldBackWindows => _pollingGate?.ContendedWindows ?? 0;

    /// <summary>The ceiling of the one receive thread's adaptive busy-poll window (<c>--busy-poll</c>; 0: never spins).</summary>
    public long BusyPollNs { get; }

    /// <summary><see cref="LiveReceive.Auto"/>: when a thread per port joins the one receive thread, and whether it has; null otherwise.</summary>
    public ReceiveThreadPolicy? AutoPolicy { get; }

    /// <summary>The busy-poll window now (<see cref="BusyPollWindow"/>: grows to cover short gaps between frames, shrinks on long ones).</summary>
    public long BusyPollWindowNs => _busyPoll?.WindowNs ?? 0;

    /// <summary>The interfaces the forwarder owns, in port order.</summary>
    public IReadOnlyList<IPortIo> Ports => _ports;

    /// <summary>Called about once a second on each worker's thread with its engine, e.g. to collect a status file's figures.</summary>
    public Action<PacketEngine, long>? Periodic
    {
        get => _workers[0].Periodic;
        set
        {
            foreach (var w in _workers) w.Periodic = value;
        }
    }
    public long QueueDrops => Interlocked.Read(ref _queueDrops);

    /// <summary>Frames waiting in the workers' channels (0 with inline dispatch; -1 when a channel cannot count).</summary>
    public int QueueDepth
    {
        get
        {
            int n = 0;
            foreach (var q in _queues ?? [])
            {
                if (!q.Reader.CanCount) return -1;
                n += q.Reader.Count;
            }
            return n;
        }
    }

    /// <summary>The channels' total capacity (per worker × workers; 0 with inline dispatch).</summary>
    public int QueueCapacity => Dispatch == LiveDispatch.Inline ? 0 : _queueCapacity * _workers.Length;

    /// <summary>Frames that filled a receive buffer (<see cref="BufferSize"/> bytes or more: possibly truncated).</summary>
    public long OversizeFrames => Interlocked.Read(ref _oversize);

    /// <summary>Engine time in nanoseconds from the injected clock.</summary>
    public long NowNs() => _clock.NowNs();

    /// <summary>
    /// Runs <paramref name="action"/> on the thread that owns worker 0's engine, between two frames, and returns its
    /// result. Latency ≤ ~50 ms. When the worker is not running (before Start or after Stop) the action runs on the
    /// caller's thread. With several workers use <see cref="InvokeAllAsync"/> for anything that concerns flows.
    /// </summary>
    public Task<T> InvokeAsync<T>(Func<PacketEngine, long, T> action) => Invoke(_workers[0], action);

    /// <summary>
    /// Runs <paramref name="action"/> on every worker's thread with that worker's engine (as <see cref="InvokeAsync"/>
    /// does for one) and returns the results in worker order: the control plane changes every engine, and views sum
    /// or merge what each worker holds (its connections, its counters).
    /// </summary>
    public async Task<T[]> InvokeAllAsync<T>(Func<PacketEngine, long, T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        var tasks = new Task<T>[_workers.Length];
        for (int i = 0; i < tasks.Length; i++) tasks[i] = Invoke(_workers[i], action);
        return await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private Task<T> Invoke<T>(Worker w, Func<PacketEngine, long, T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Run(PacketEngine e, long now)
        {
            try { tcs.TrySetResult(action(e, now)); }
            catch (Exception ex) { tcs.TrySetException(ex); }
        }
        if (!w.Running)
        {
            lock (w.Lock)
            {
                Run(w.Engine, NowNs());
                w.Sink.Flush();
            }
            return tcs.Task;
        }
        w.Control.Enqueue(Run);
        if (!w.Running) w.DrainControl(NowNs()); // the worker stopped in between
        return tcs.Task;
    }

    public void Start()
    {
        foreach (var w in _workers) w.Running = true;
        if (Receive == LiveReceive.OneThread)
        {
            _receiversRunning = 1;
            _threads.Add(new Thread(() => PollLoop(-1)) { IsBackground = true, Name = "rx-all" });
            foreach (var t in _threads) t.Start();
            return;
        }
        _receiversRunning = _ports.Length;
        for (int i = 0; i < _ports.Length; i++)
        {
            int port = i;
            ThreadStart loop = Dispatch == LiveDispatch.Queue ? () => ReceiveLoop(port)
                : Receive == LiveReceive.Auto ? () => PollLoop(port, auto: true)
                : PortPoll.All(_ports) ? () => PollLoop(port) : () => InlineLoop(port);
            _threads.Add(new Thread(loop) { IsBackground = true, Name = "rx-" + _ports[i].Name });
        }
        if (Dispatch == LiveDispatch.Queue)
            foreach (var w in _workers)
                _threads.Add(new Thread(() => WorkerLoop(w, _queues![w.Index])) { IsBackground = true, Name = "worker-" + w.Index });
        foreach (var t in _threads) t.Start();
    }

    /// <summary>Queue dispatch: receive, pick the worker, hand the buffer over.</summary>
    private void ReceiveLoop(int port)
    {
        var io = _ports[port];
        var ct = _stop.Token;
        byte[] receive = new byte[BufferSize];
        int workers = _workers.Length;
        while (!ct.IsCancellationRequested)
        {
            int n = io.Receive(receive, out var offload);
            if (n < 0) break;
            if (n == 0) continue;
            if (n >= BufferSize) Interlocked.Increment(ref _oversize);
            long now = NowNs();
            var frame = receive.AsSpan(0, n);
            int shard = workers == 1 ? 0 : FlowShard.Of(frame, _workers[0].Engine.Snapshot, workers);
            // ARP/NDP: every worker keeps its own neighbour state and gets a copy.
            int first = shard == FlowShard.All ? 0 : shard, last = shard == FlowShard.All ? workers - 1 : shard;
            for (int i = first; i <= last; i++)
            {
                var pool = n <= SmallBufferSize ? _pool : _largePool;
                var buffer = pool.Get();
                frame.CopyTo(buffer);
                if (!_queues![i].Writer.TryWrite(new RxItem(buffer, n, port, now, offload)))
                {
                    pool.Return(buffer);
                    Interlocked.Increment(ref _queueDrops);
                }
            }
        }
        Interlocked.Decrement(ref _receiversRunning);
    }

    private void WorkerLoop(Worker w, Channel<RxItem> queue)
    {
        var reader = queue.Reader;
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            while (reader.TryRead(out var item))
            {
                w.Engine.Process(item.Buffer.AsSpan(0, item.Length), item.Port, item.TimestampNs, item.Offload);
                (item.Buffer.Length > SmallBufferSize ? _largePool : _pool).Return(item.Buffer);
            }
            w.Idle(NowNs());
            w.Sink.Flush();
            var wait = reader.WaitToReadAsync(ct);
            if (!wait.IsCompleted)
            {
                try { wait.AsTask().Wait(20, ct); }
                catch (OperationCanceledException) { break; }
            }
        }
        w.Retire(NowNs());
    }

    /// <summary>
    /// Inline dispatch over ports that cannot be polled together (pcap, TAP; <see cref="PollLoop"/> for the others):
    /// this port's thread receives and runs the engine itself, under the engine's lock (the other
    /// ports' threads take it for their frames). Batched sends are flushed when the port has nothing more pending.
    /// </summary>
    private void InlineLoop(int port)
    {
        var io = _ports[port];
        var w = _workers[0];
        var ct = _stop.Token;
        byte[] buffer = new byte[BufferSize];
        var polled = io as IPollablePort;
        int sinceIdle = 0;
        while (!ct.IsCancellationRequested)
        {
            int n = io.Receive(buffer, out var offload);
            if (n < 0) break;
            if (n >= BufferSize) Interlocked.Increment(ref _oversize);
            bool endOfBatch;
            lock (w.Lock)
            {
                long now = NowNs();
                if (n > 0) w.Engine.Process(buffer.AsSpan(0, n), port, now, offload);
                endOfBatch = n == 0 || polled is not { Pending: true } || ++sinceIdle >= 64;
                if (endOfBatch)
                {
                    sinceIdle = 0;
                    w.Idle(now);
                }
            }
            // Outside the lock: the send that hands the batch over runs the receiving side's stack (the bulk of the
            // per-frame cost on a veth), so the other ports' threads run the engine meanwhile.
            if (endOfBatch) w.Sink.Flush();
        }
        if (Interlocked.Decrement(ref _receiversRunning) == 0) w.Retire(NowNs());
    }

    /// <summary>
    /// Inline dispatch over ports that can be polled: take the frames waiting in each port's ring (up to a batch per
    /// port per round, so one busy port does not starve the others; <paramref name="home"/> first), run the engine on
    /// them, let go of it, flush; when a round finds none, keep checking while the adaptive busy-poll window
    /// (<see cref="BusyPollWindow"/>, at most <see cref="BusyPollNs"/>) since the last frame lasts, then sleep in
    /// poll(). <paramref name="home"/> −1: the one thread for every port, sleeping on all of them; a port: that port's
    /// thread (<see cref="LiveReceive.PerPort"/>), sleeping on its own port only but taking every port's frames.
    /// <paramref name="auto"/> (<see cref="LiveReceive.Auto"/>): port 0's thread sleeps on every port and feeds the
    /// policy while the others are not engaged; the others wait for the policy to engage them.
    /// </summary>
    private void PollLoop(int home, bool auto = false)
    {
        var policy = auto ? AutoPolicy! : null;
        bool leader = auto && home == 0, helper = auto && home > 0;
        const int BatchPerPort = 64;
        var w = _workers[0];
        var ct = _stop.Token;
        var window = _busyPoll;
        byte[] buffer = new byte[BufferSize];
        var ports = _pollable!;
        int first = Math.Max(home, 0);
        Span<int> fds = stackalloc int[home < 0 || leader ? _ports.Length : 1];
        long lastFrame = NowNs(), lastFrameWallNs = AfPacketPort.WallClockNs();
        long spinFromNs = -1; // polling since (its time, _polledNs, is not work for Auto's policy)
        // The polling thread (the one thread, Auto's first) polls only while a CPU is spare: not after a window in which
        // it waited for one itself.
        var gate = home < 0 || leader ? _pollingGate : null;
        using var runQueue = gate is not null ? RunQueueWait.ForCurrentThread() : null;
        bool closed = false;
        while (!ct.IsCancellationRequested && !closed)
        {
            if (helper && !policy!.Engaged)
            {
                _autoJoin.Wait(50); // (no token: a cancelled wait would throw; Stop sets the event)
                continue;
            }
            int frames = 0;
            bool spin;
            lock (w.Lock)
            {
                for (int j = 0; j < _ports.Length && !closed; j++)
                {
                    int port = first + j < _ports.Length ? first + j : first + j - _ports.Length;
                    var io = ports[port];
                    for (int k = 0; k < BatchPerPort && io.Pending; k++)
                    {
                        int n = io.Receive(buffer, out var offload);
                        if (n < 0) { closed = true; break; }
                        if (n == 0) break;
                        if (n >= BufferSize) Interlocked.Increment(ref _oversize);
                        w.Engine.Process(buffer.AsSpan(0, n), port, NowNs(), offload);
                        frames++;
                    }
                }
                long now = NowNs();
                if (frames > 0)
                {
                    lastFrame = now;
                    if (window is not null) lastFrameWallNs = AfPacketPort.WallClockNs();
                }
                w.Idle(now);
                // Auto: only the one thread alone polls; the threads per port sleep as per-port's do.
                spin = frames == 0 && !closed && window is not null && now - lastFrame < window.WindowNs
                    && (!auto || (leader && !policy!.Engaged)) && gate is { Open: true };
            }
            if (spin) { if (spinFromNs < 0) spinFromNs = ThreadClock.WallNs(); }
            else if (spinFromNs >= 0)
            {
                Interlocked.Add(ref _polledNs, ThreadClock.WallNs() - spinFromNs);
                spinFromNs = -1;
            }
            // Outside the lock, as in InlineLoop: the send runs the receiving side's stack; with a thread per port the
            // other thread runs the engine meanwhile (and a reply this send produces is taken in the next round).
            w.Sink.Flush();
            if (leader || gate is not null)
            {
                long wall = ThreadClock.WallNs(); // (the CPU clock and schedstat are system calls: read once per window)
                if (leader && policy!.WindowDue(wall) && policy.Observe(wall, ThreadClock.CpuNs() - BusyPolledNs))
                {
                    if (policy.Engaged) _autoJoin.Set();
                    else _autoJoin.Reset();
                }
                if (gate is not null && gate.WindowDue(wall)) gate.Observe(wall, runQueue!.WaitNs());
            }
            // A frame this flush produced (a reply sent inside it, on a veth) or another thread's flush left at a ring
            // this thread does not sleep on is taken now, not at the owner's wake-up or a poll timeout.
            if (frames > 0 || closed || AnyPending()) continue;
            if (spin)
            {
                Thread.SpinWait(20);
                continue;
            }
            // The leader of Auto sleeps on every port while it receives alone (first is 0), on its own when engaged.
            int nfds = leader && policy!.Engaged ? 1 : fds.Length;
            for (int i = 0; i < nfds && !closed; i++)
            {
                fds[i] = ports[first + i].PollFd;
                closed = fds[i] < 0; // disposed
            }
            if (closed) break;
            Interlocked.Increment(ref _receiveSleeps);
            int ready = PortPoll.Wait(fds[..nfds], 5);
            if (window is null || helper) continue; // (Auto's threads per port never poll: the window is the one thread's)
            if (ready > 0)
            {
                // The gap polling would have had to cover: from the last work to the frame's arrival (the kernel's
                // receive timestamp, so the wake-up itself does not count); the wake time when the port cannot tell.
                long arrival = EarliestPendingWallNs();
                window.OnWake(arrival > 0 ? arrival - lastFrameWallNs : NowNs() - lastFrame);
            }
            else if (ready == 0) window.OnTimeout();
        }
        if (Interlocked.Decrement(ref _receiversRunning) == 0) w.Retire(NowNs());
    }

    /// <summary>Whether a frame waits at any port (exact for pollable ports: one ring slot's status each).</summary>
    private bool AnyPending()
    {
        foreach (var p in _pollable!)
            if (p.Pending) return true;
        return false;
    }

    /// <summary>The earliest kernel receive timestamp (wall clock, ns) of the frames waiting at the ports; 0 when none tells.</summary>
    private long EarliestPendingWallNs()
    {
        long earliest = 0;
        foreach (var p in _pollable!)
        {
            long t = p.PendingTimestampNs;
            if (t > 0 && (earliest == 0 || t < earliest)) earliest = t;
        }
        return earliest;
    }

    public void Stop()
    {
        _stop.Cancel();
        _autoJoin.Set();
        foreach (var t in _threads) t.Join(2000);
    }

    public void Dispose()
    {
        Stop();
        foreach (var p in _ports) p.Dispose();
        _stop.Dispose();
        _autoJoin.Dispose();
    }

    private readonly record struct RxItem(byte[] Buffer, int Length, int Port, long TimestampNs, VnetHeader Offload);

    private sealed class BufferPolicy(int size) : PooledObjectPolicy<byte[]>
    {
        public override byte[] Create() => new byte[size];
        public override bool Return(byte[] obj) => true;
    }
}
