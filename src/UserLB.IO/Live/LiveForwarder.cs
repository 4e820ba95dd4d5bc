using UserLB.Engine;
using UserLB.IO.Live.Receivers;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>
/// Live pipeline: the engines (one per worker, each owning a shard of the flows, <see cref="FlowShard"/>) and the
/// receiver that brings them frames, picked from the workers and the ports: several workers, <see cref="QueueReceiver"/>;
/// one over ports that can be polled together (afpacket), <see cref="PolledReceiver"/>; one over others (pcap, TAP),
/// <see cref="PerPortReceiver"/>. Nothing is allocated per packet in steady state. The control plane reaches the
/// engines only through <see cref="InvokeAsync"/>/<see cref="InvokeAllAsync"/>, which run code on the thread that owns
/// each engine.
/// </summary>
public sealed class LiveForwarder : IDisposable
{
    /// <summary>A receive buffer: room for a GSO/GRO super-frame (64 KB of IP packet).</summary>
    public const int BufferSize = PacketParser.MaxGsoFrameLength;
    public const int MaxWorkers = 64;
    private readonly IPortIo[] _ports;
    private readonly Worker[] _workers;
    private readonly EngineClock _clock;

    /// <summary>One worker.</summary>
    public LiveForwarder(IPortIo[] ports, Func<IFrameSink, PacketEngine> createEngine, TimeProvider? time = null)
        : this(ports, WithoutShard(createEngine), 1, time)
    {
    }

    /// <summary>
    /// <paramref name="workers"/> engines; <paramref name="createEngine"/> gets each worker's sink and its shard index
    /// (0 … workers − 1) and must create the engine with <c>ShardCount = workers, ShardIndex = shard</c>.
    /// </summary>
    /// <param name="ports">The interfaces, in port order.</param>
    /// <param name="createEngine">Creates worker i's engine around its sink.</param>
    /// <param name="workers">How many engines (1 … <see cref="MaxWorkers"/>).</param>
    /// <param name="time">The engines' clock, which also times the polled receiver's windows (tests inject one).</param>
    /// <param name="queueCapacity">Several workers: the frames each worker's channel holds.</param>
    /// <param name="polling">The polled receiver's settings (one worker over pollable ports only; null: the defaults).</param>
    public LiveForwarder(IPortIo[] ports, Func<IFrameSink, int, PacketEngine> createEngine, int workers, TimeProvider? time = null,
        int queueCapacity = 8192, PollOptions? polling = null)
    {
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentNullException.ThrowIfNull(createEngine);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(workers, MaxWorkers);
        _ports = ports;
        _clock = new EngineClock(time ?? TimeProvider.System);
        // Several workers may send out of one port at once and a port's send is not thread-safe (one TX ring cursor).
        var portLocks = new object[ports.Length];
        for (int i = 0; i < portLocks.Length; i++) portLocks[i] = new object();
        _workers = new Worker[workers];
        for (int i = 0; i < workers; i++)
        {
            var sink = new PortSink(ports, workers > 1 ? portLocks : null);
            var engine = createEngine(sink, i);
            if (engine.ShardCount != workers || engine.ShardIndex != i)
                throw new ArgumentException($"worker {i}'s engine is shard {engine.ShardIndex} of {engine.ShardCount}; expected {i} of {workers}", nameof(createEngine));
            _workers[i] = new Worker(i, engine, sink);
        }
        Receiver = Pick(ports, _workers, _clock, queueCapacity, polling);
    }

    /// <summary>Several workers: queues; one over ports polled together: the polled receiver; one over others: a thread per port.</summary>
    private static Receiver Pick(IPortIo[] ports, Worker[] workers, EngineClock clock, int queueCapacity, PollOptions? polling)
    {
        bool polled = workers.Length == 1 && PortPoll.All(ports);
        if (polling is not null && !polled)
            throw new ArgumentException("polling needs one worker and ports that can be polled together (afpacket with rings)", nameof(polling));
        if (workers.Length > 1) return new QueueReceiver(ports, workers, clock, queueCapacity);
        return polled ? new PolledReceiver(ports, workers, clock, polling ?? new PollOptions()) : new PerPortReceiver(ports, workers, clock);
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

    /// <summary>How frames reach the engines, with the figures of that way (e.g. <see cref="PolledReceiver.Sleeps"/>).</summary>
    public Receiver Receiver { get; }

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

    /// <summary>Frames dropped because a worker's channel was full (0 with one worker).</summary>
    public long QueueDrops => (Receiver as QueueReceiver)?.Drops ?? 0;

    /// <summary>Frames waiting in the workers' channels (0 with one worker; -1 when a channel cannot count).</summary>
    public int QueueDepth => (Receiver as QueueReceiver)?.Depth ?? 0;

    /// <summary>The channels' total capacity (per worker × workers; 0 with one worker).</summary>
    public int QueueCapacity => (Receiver as QueueReceiver)?.Capacity ?? 0;

    /// <summary>Frames that filled a receive buffer (<see cref="BufferSize"/> bytes or more: possibly truncated).</summary>
    public long OversizeFrames => Receiver.OversizeFrames;

    /// <summary>Engine time in nanoseconds from the injected clock.</summary>
    public long NowNs() => _clock.NowNs();

    /// <summary>The time the engines' clock reads (<see cref="NowNs"/>), for the wall-clock time of their events.</summary>
    public TimeProvider Time => _clock.Time;

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
        if (_ports.Length == 0) return; // no receive thread would run the workers' control actions: they stay inline
        foreach (var w in _workers) w.Running = true;
        Receiver.Start();
    }

    public void Stop() => Receiver.Stop();

    public void Dispose()
    {
        Stop();
        foreach (var p in _ports) p.Dispose();
        Receiver.Dispose();
    }
}
