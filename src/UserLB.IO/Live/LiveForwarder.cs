using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.ObjectPool;
using UserLB.Engine;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>
/// Live pipeline: one receive thread per port → a bounded channel (full = counted drop) → the worker that owns the
/// engine (run to completion: parse, conntrack, NAT, send). Frame buffers come from an object pool; nothing is
/// allocated per packet in steady state.
/// </summary>
public sealed class LiveForwarder : IDisposable
{
    public const int BufferSize = 2048;
    private readonly IPortIo[] _ports;
    private readonly PacketEngine _engine;
    private readonly Channel<RxItem> _queue;
    private readonly ObjectPool<byte[]> _pool;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Thread> _threads = [];
    private readonly ConcurrentQueue<Action<PacketEngine, long>> _control = new();
    private readonly object _inlineLock = new();
    private volatile bool _workerRunning;
    private long _queueDrops;
    private long _oversize;

    public LiveForwarder(IPortIo[] ports, Func<IFrameSink, PacketEngine> createEngine, TimeProvider? time = null, int queueCapacity = 8192)
    {
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentNullException.ThrowIfNull(createEngine);
        _ports = ports;
        _time = time ?? TimeProvider.System;
        QueueCapacity = queueCapacity;
        _queue = Channel.CreateBounded<RxItem>(new BoundedChannelOptions(queueCapacity)
        {
            SingleReader = true,
            SingleWriter = ports.Length == 1,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full; the receiver counts the drop
        });
        _pool = new DefaultObjectPool<byte[]>(new BufferPolicy(), queueCapacity + 64);
        _engine = createEngine(new PortSink(ports));
    }

    /// <summary>Worker 0's engine: the configuration snapshot (the same in every worker) is read from it.</summary>
    public PacketEngine Engine => _engine;

    /// <summary>How many workers (engines, each owning the flows of its shard, <see cref="FlowShard"/>) forward.</summary>
    public int WorkerCount => 1;

    /// <summary>
    /// Runs <paramref name="action"/> on every worker's thread with that worker's engine (as <see cref="InvokeAsync"/>
    /// does for one) and returns the results in worker order: the control plane changes every engine, and views sum
    /// or merge what each worker holds (its connections, its counters).
    /// </summary>
    public async Task<T[]> InvokeAllAsync<T>(Func<PacketEngine, long, T> action) => [await InvokeAsync(action).ConfigureAwait(false)];

    /// <summary>Called about once a second on the worker thread (which owns the engine), e.g. to write a status file.</summary>
    public Action<PacketEngine, long>? Periodic { get; set; }
    public long QueueDrops => Interlocked.Read(ref _queueDrops);
    public int QueueDepth => _queue.Reader.CanCount ? _queue.Reader.Count : -1;
    public int QueueCapacity { get; }
    /// <summary>Frames that filled a receive buffer (<see cref="BufferSize"/> bytes or more: possibly truncated).</summary>
    public long OversizeFrames => Interlocked.Read(ref _oversize);

    /// <summary>Engine time in nanoseconds from the injected clock.</summary>
    public long NowNs() => (long)(_time.GetTimestamp() * (1_000_000_000.0 / _time.TimestampFrequency));

    /// <summary>
    /// Runs <paramref name="action"/> on the thread that owns the engine, between two frames, and returns its result:
    /// the control plane (API, status views) reads and changes the engine only through this. Latency ≤ ~50 ms.
    /// When the worker is not running (before Start or after Stop) the action runs on the caller's thread.
    /// </summary>
    public Task<T> InvokeAsync<T>(Func<PacketEngine, long, T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Run(PacketEngine e, long now)
        {
            try { tcs.TrySetResult(action(e, now)); }
            catch (Exception ex) { tcs.TrySetException(ex); }
        }
        if (!_workerRunning)
        {
            lock (_inlineLock)
            {
                Run(_engine, NowNs());
                FlushPorts();
            }
            return tcs.Task;
        }
        _control.Enqueue(Run);
        if (!_workerRunning) DrainControl(NowNs()); // the worker stopped in between
        return tcs.Task;
    }

    private void DrainControl(long now)
    {
        lock (_inlineLock)
        {
            while (_control.TryDequeue(out var a)) a(_engine, now);
            FlushPorts();
        }
    }

    /// <summary>Sends what the ports batched (AF_PACKET TX ring); on the engine's thread.</summary>
    private void FlushPorts()
    {
        foreach (var p in _ports) p.Flush();
    }

    public void Start()
    {
        _workerRunning = true;
        for (int i = 0; i < _ports.Length; i++)
        {
            int port = i;
            var t = new Thread(() => ReceiveLoop(port)) { IsBackground = true, Name = "rx-" + _ports[i].Name };
            _threads.Add(t);
        }
        var w = new Thread(WorkerLoop) { IsBackground = true, Name = "worker-0" };
        _threads.Add(w);
        foreach (var t in _threads) t.Start();
    }

    private void ReceiveLoop(int port)
    {
        var io = _ports[port];
        var ct = _stop.Token;
        byte[] buffer = _pool.Get();
        while (!ct.IsCancellationRequested)
        {
            int n = io.Receive(buffer);
            if (n < 0) break;
            if (n == 0) continue;
            if (n >= BufferSize) Interlocked.Increment(ref _oversize);
            if (_queue.Writer.TryWrite(new RxItem(buffer, n, port, NowNs())))
                buffer = _pool.Get();
            else
                Interlocked.Increment(ref _queueDrops);
        }
        _pool.Return(buffer);
    }

    private void WorkerLoop()
    {
        var reader = _queue.Reader;
        var ct = _stop.Token;
        long lastHousekeeping = 0, lastPeriodic = 0;
        while (!ct.IsCancellationRequested)
        {
            while (reader.TryRead(out var item))
            {
                _engine.Process(item.Buffer.AsSpan(0, item.Length), item.Port, item.TimestampNs);
                _pool.Return(item.Buffer);
            }
            long now = NowNs();
            if (now - lastHousekeeping > 100_000_000)
            {
                _engine.Housekeeping(now);
                _engine.Table.Sweep(now, 4096);
                lastHousekeeping = now;
            }
            if (Periodic is { } periodic && now - lastPeriodic >= 1_000_000_000)
            {
                lastPeriodic = now;
                periodic(_engine, now);
            }
            if (!_control.IsEmpty) DrainControl(now);
            FlushPorts();
            var wait = reader.WaitToReadAsync(ct);
            if (!wait.IsCompleted)
            {
                try { wait.AsTask().Wait(20, ct); }
                catch (OperationCanceledException) { break; }
            }
        }
        _workerRunning = false;
        DrainControl(NowNs());
    }

    public void Stop()
    {
        _stop.Cancel();
        foreach (var t in _threads) t.Join(2000);
    }

    public void Dispose()
    {
        Stop();
        foreach (var p in _ports) p.Dispose();
        _stop.Dispose();
    }

    private readonly record struct RxItem(byte[] Buffer, int Length, int Port, long TimestampNs);

    private sealed class BufferPolicy : PooledObjectPolicy<byte[]>
    {
        public override byte[] Create() => new byte[BufferSize];
        public override bool Return(byte[] obj) => true;
    }

    private sealed class PortSink(IPortIo[] ports) : IFrameSink
    {
        public void Send(ReadOnlySpan<byte> frame, int port)
        {
            if ((uint)port < (uint)ports.Length) ports[port].Send(frame);
        }
    }
}
