namespace UserLB.IO.Live.Receivers;

/// <summary>
/// One worker over ports that cannot be polled together (pcap, TAP): a thread per port blocks in its port's receive and
/// runs the engine under its lock (the other ports' threads take it for their frames). Batched sends are flushed when
/// the port has nothing more pending, after letting go of the lock.
/// </summary>
public sealed class PerPortReceiver : InlineReceiver
{
    private const int BatchPerPort = 64;

    internal PerPortReceiver(IPortIo[] ports, Worker[] workers, EngineClock clock)
        : base(ports, workers, clock)
    {
    }

    public override string Description => "inline dispatch";

    private protected override void ReceiveLoop(int port)
    {
        var io = Ports[port];
        var w = Worker;
        var ct = Stopping;
        byte[] buffer = new byte[LiveForwarder.BufferSize];
        var polled = io as IPollablePort; // exact Pending: the batch goes on while a frame waits
        int sinceIdle = 0;
        while (!ct.IsCancellationRequested)
        {
            int n = io.Receive(buffer, out var offload);
            if (n < 0) break;
            CountOversize(n);
            bool endOfBatch;
            lock (w.Lock)
            {
                long now = Clock.NowNs();
                if (n > 0) w.Engine.Process(buffer.AsSpan(0, n), port, now, offload);
                endOfBatch = n == 0 || polled is not { Pending: true } || ++sinceIdle >= BatchPerPort;
                if (endOfBatch)
                {
                    sinceIdle = 0;
                    w.Idle(now);
                }
            }
            // Outside the lock: the hand-over runs the receiving side's stack on a veth, while other threads run the engine.
            if (endOfBatch) w.Sink.Flush();
        }
        Leave();
    }
}
