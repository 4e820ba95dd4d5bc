using System.Threading.Channels;

namespace UserLB.Engine.Conntrack;

/// <summary>One conntrack event: what happened and a copy of the entry at that moment.</summary>
public readonly record struct ConnEvent(ConnEventType Type, ConnEntry Entry, long NowNs);

/// <summary>
/// Fans the table's events (<see cref="ConnTable.Events"/>) out to subscribers, each with its own bounded buffer that the
/// worker threads write without blocking: a full buffer drops the event and counts it. One hub may be attached to the
/// tables of several workers' engines, which publish at once. Attach the hub to a table only while
/// <see cref="HasSubscribers"/> (on the engine's thread), so that the data path pays one null check otherwise.
/// </summary>
public sealed class ConntrackEventHub : IConntrackEvents
{
    public const int DefaultCapacity = 4096;
    private readonly object _lock = new();
    private Subscription[] _subscribers = [];
    private long _dropped;
    private long _delivered;

    public bool HasSubscribers => Volatile.Read(ref _subscribers).Length > 0;
    public int Subscribers => Volatile.Read(ref _subscribers).Length;

    /// <summary>Events lost to full buffers, over all subscribers since start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Events handed to subscribers' buffers since start.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Adds a subscriber with a buffer of <paramref name="capacity"/> events. Dispose it to leave.</summary>
    public Subscription Subscribe(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var s = new Subscription(this, capacity);
        lock (_lock) Volatile.Write(ref _subscribers, [.. _subscribers, s]);
        return s;
    }

    private void Remove(Subscription s)
    {
        lock (_lock) Volatile.Write(ref _subscribers, Array.FindAll(_subscribers, x => !ReferenceEquals(x, s)));
    }

    /// <summary>Called by a table on its engine's thread; engines of several workers may call at once.</summary>
    public void OnEvent(ConnEventType type, in ConnEntry entry, long nowNs)
    {
        var subs = Volatile.Read(ref _subscribers);
        for (int i = 0; i < subs.Length; i++) subs[i].Offer(new ConnEvent(type, entry, nowNs));
    }

    public sealed class Subscription : IDisposable
    {
        private readonly ConntrackEventHub _hub;
        private readonly Channel<ConnEvent> _channel;
        private long _dropped;

        internal Subscription(ConntrackEventHub hub, int capacity)
        {
            _hub = hub;
            _channel = Channel.CreateBounded<ConnEvent>(new BoundedChannelOptions(capacity)
            {
                SingleReader = true,
                SingleWriter = false, // the workers' engines publish at once
                FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: counted below
            });
        }

        public ChannelReader<ConnEvent> Reader => _channel.Reader;

        /// <summary>Events this subscriber lost because its buffer was full.</summary>
        public long Dropped => Interlocked.Read(ref _dropped);

        internal void Offer(in ConnEvent e)
        {
            if (_channel.Writer.TryWrite(e))
            {
                Interlocked.Increment(ref _hub._delivered);
                return;
            }
            Interlocked.Increment(ref _dropped);
            Interlocked.Increment(ref _hub._dropped);
        }

        public void Dispose()
        {
            _hub.Remove(this);
            _channel.Writer.TryComplete();
        }
    }
}
