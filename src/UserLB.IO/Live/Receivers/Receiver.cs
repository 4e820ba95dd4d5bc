namespace UserLB.IO.Live.Receivers;

/// <summary>
/// How received frames reach the engines: a receiver owns the receive threads (a thread per port, named rx-PORT) and any
/// threads they hand frames to, and what they run. <see cref="LiveForwarder"/> picks one from its workers and ports;
/// each checks in its constructor that it fits them.
/// </summary>
public abstract class Receiver : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Thread> _threads = [];
    private long _oversize;

    private protected Receiver(IPortIo[] ports, Worker[] workers, EngineClock clock)
    {
        Ports = ports;
        Workers = workers;
        Clock = clock;
    }

    /// <summary>"inline" (the receive threads run the engine) or "queue" (they hand frames to worker threads): the views' name.</summary>
    public abstract string Dispatch { get; }

    /// <summary>How frames reach the engine, for the start log (e.g. "queue dispatch").</summary>
    public abstract string Description { get; }

    /// <summary>Frames that filled a receive buffer (<see cref="LiveForwarder.BufferSize"/> bytes or more: possibly truncated).</summary>
    public long OversizeFrames => Interlocked.Read(ref _oversize);

    private protected IPortIo[] Ports { get; }
    private protected Worker[] Workers { get; }
    private protected EngineClock Clock { get; }

    /// <summary>Cancelled by <see cref="Stop"/>: every loop checks it between rounds.</summary>
    private protected CancellationToken Stopping => _stop.Token;

    /// <summary>Creates the threads (port i's receive thread runs <see cref="ReceiveLoop"/>, plus <see cref="MoreThreads"/>) and starts them.</summary>
    internal void Start()
    {
        for (int i = 0; i < Ports.Length; i++)
        {
            int port = i;
            _threads.Add(new Thread(() => ReceiveLoop(port)) { IsBackground = true, Name = "rx-" + Ports[i].Name });
        }
        foreach (var (loop, name) in MoreThreads()) _threads.Add(new Thread(loop) { IsBackground = true, Name = name });
        foreach (var t in _threads) t.Start();
    }

    /// <summary>Asks every loop to end, wakes the threads that wait for something else than a port, and waits for them.</summary>
    internal void Stop()
    {
        _stop.Cancel();
        Wake();
        foreach (var t in _threads) t.Join(2000);
    }

    /// <summary>Port <paramref name="port"/>'s receive thread.</summary>
    private protected abstract void ReceiveLoop(int port);

    /// <summary>Threads besides the receive threads (a queue's workers).</summary>
    private protected virtual IEnumerable<(ThreadStart Loop, string Name)> MoreThreads() => [];

    /// <summary>Wakes threads parked on something <see cref="Stopping"/> does not reach.</summary>
    private protected virtual void Wake()
    {
    }

    /// <summary>Counts a frame of <paramref name="length"/> bytes that filled the buffer.</summary>
    private protected void CountOversize(int length)
    {
        if (length >= LiveForwarder.BufferSize) Interlocked.Increment(ref _oversize);
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing) _stop.Dispose();
    }
}
