using System.Threading.Channels;
using Microsoft.Extensions.ObjectPool;
using UserLB.Engine;
using UserLB.Packets;

namespace UserLB.IO.Live.Receivers;

/// <summary>
/// Several workers: a receive thread per port copies each frame into a pooled buffer and hands it, by
/// <see cref="FlowShard"/> (both directions of a flow to one worker; ARP/NDP to every worker), to the bounded channel
/// of its worker (full: a counted drop); each worker thread runs its own engine to completion with no lock per frame.
/// </summary>
public sealed class QueueReceiver : Receiver
{
    /// <summary>The pooled buffers frames wait in; larger frames (super-frames) take one of <see cref="_largePool"/>.</summary>
    private const int SmallBufferSize = 2048;
    private readonly Channel<RxItem>[] _queues;
    private readonly ObjectPool<byte[]> _pool, _largePool;
    private readonly int _capacity; // per worker
    private long _drops;

    internal QueueReceiver(IPortIo[] ports, Worker[] workers, EngineClock clock, int queueCapacity)
        : base(ports, workers, clock)
    {
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentNullException.ThrowIfNull(workers);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        _capacity = queueCapacity;
        _pool = new DefaultObjectPool<byte[]>(new BufferPolicy(SmallBufferSize), queueCapacity * workers.Length + 64 * (ports.Length + workers.Length));
        _largePool = new DefaultObjectPool<byte[]>(new BufferPolicy(LiveForwarder.BufferSize), 64 * (ports.Length + workers.Length));
        _queues = new Channel<RxItem>[workers.Length];
        for (int i = 0; i < workers.Length; i++)
        {
            _queues[i] = Channel.CreateBounded<RxItem>(new BoundedChannelOptions(queueCapacity)
            {
                SingleReader = true,
                SingleWriter = ports.Length == 1,
                FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full; the receive thread counts the drop
            });
        }
    }

    public override string Dispatch => "queue";

    public override string Description => "queue dispatch";

    /// <summary>Frames dropped because their worker's channel was full.</summary>
    public long Drops => Interlocked.Read(ref _drops);

    /// <summary>Frames waiting in the workers' channels (-1 when a channel cannot count).</summary>
    public int Depth
    {
        get
        {
            int n = 0;
            foreach (var q in _queues)
            {
                if (!q.Reader.CanCount) return -1;
                n += q.Reader.Count;
            }
            return n;
        }
    }

    /// <summary>The channels' total capacity (per worker × workers).</summary>
    public int Capacity => _capacity * _queues.Length;

    /// <summary>Receive, pick the worker, hand a copy over.</summary>
    private protected override void ReceiveLoop(int port)
    {
        var io = Ports[port];
        var ct = Stopping;
        byte[] receive = new byte[LiveForwarder.BufferSize];
        int workers = Workers.Length;
        while (!ct.IsCancellationRequested)
        {
            int n = io.Receive(receive, out var offload);
            if (n < 0) break;
            if (n == 0) continue;
            CountOversize(n);
            long now = Clock.NowNs();
            var frame = receive.AsSpan(0, n);
            int shard = workers == 1 ? 0 : FlowShard.Of(frame, Workers[0].Engine.Snapshot, workers);
            // ARP/NDP: every worker keeps its own neighbour state and gets a copy.
            int first = shard == FlowShard.All ? 0 : shard, last = shard == FlowShard.All ? workers - 1 : shard;
            for (int i = first; i <= last; i++)
            {
                var pool = n <= SmallBufferSize ? _pool : _largePool;
                var buffer = pool.Get();
                FrameCopy.Copy(frame, buffer);
                if (!_queues[i].Writer.TryWrite(new RxItem(buffer, n, port, now, offload)))
                {
                    pool.Return(buffer);
                    Interlocked.Increment(ref _drops);
                }
            }
        }
    }

    private protected override IEnumerable<(ThreadStart Loop, string Name)> MoreThreads()
    {
        foreach (var w in Workers)
        {
            var queue = _queues[w.Index];
            yield return (() => WorkerLoop(w, queue), "worker-" + w.Index);
        }
    }

    /// <summary>Worker <paramref name="w"/>'s thread: runs its engine on the frames of its channel, housekeeping between batches.</summary>
    private void WorkerLoop(Worker w, Channel<RxItem> queue)
    {
        var reader = queue.Reader;
        var ct = Stopping;
        while (!ct.IsCancellationRequested)
        {
            while (reader.TryRead(out var item))
            {
                w.Engine.Process(item.Buffer.AsSpan(0, item.Length), item.Port, item.TimestampNs, item.Offload);
                (item.Buffer.Length > SmallBufferSize ? _largePool : _pool).Return(item.Buffer);
            }
            w.Idle(Clock.NowNs());
            w.Sink.Flush();
            var wait = reader.WaitToReadAsync(ct);
            if (!wait.IsCompleted)
            {
                try { wait.AsTask().Wait(20, ct); }
                catch (OperationCanceledException) { break; }
            }
        }
        w.Retire(Clock.NowNs());
    }

    private readonly record struct RxItem(byte[] Buffer, int Length, int Port, long TimestampNs, VnetHeader Offload);

    private sealed class BufferPolicy(int size) : PooledObjectPolicy<byte[]>
    {
        public override byte[] Create() => new byte[size];
        public override bool Return(byte[] obj) => true;
    }
}
