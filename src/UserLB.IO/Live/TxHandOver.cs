namespace UserLB.IO.Live;

/// <summary>
/// Hands a TX ring's frames to the kernel one thread at a time. The hand-over (<c>send()</c> on an AF_PACKET TX ring)
/// also runs the receiving side's stack on a veth and holds the socket's ring mutex meanwhile, so a second thread
/// flushing the same port would only spin on that mutex: instead it leaves its frames to the thread already flushing,
/// which hands over again until nothing is pending (combining). Frames are marked with <see cref="Add"/> after they are
/// written into the ring; <see cref="Flush"/> returns at once when another thread is flushing and is sure to pass the
/// frames marked before it on (that thread re-checks after it lets go). Allocation-free; thread-safe.
/// </summary>
public sealed class TxHandOver(Action kick)
{
    private readonly Action _kick = kick ?? throw new ArgumentNullException(nameof(kick));
    private int _pending, _flushing;

    /// <summary>Marks one more frame written into the ring; returns how many are pending.</summary>
    public int Add() => Interlocked.Increment(ref _pending);

    /// <summary>Whether frames wait for a hand-over.</summary>
    public bool Pending => Volatile.Read(ref _pending) != 0;

    /// <summary>Forgets the pending frames (the caller hands them over itself, e.g. with a blocking send).</summary>
    public void Clear() => Volatile.Write(ref _pending, 0);

    /// <summary>Hands the pending frames over, unless another thread is doing so (it then takes these too).</summary>
    public void Flush()
    {
        while (Volatile.Read(ref _pending) != 0)
        {
            if (Interlocked.CompareExchange(ref _flushing, 1, 0) != 0) return; // the flusher re-checks before it leaves
            try
            {
                while (Interlocked.Exchange(ref _pending, 0) != 0) _kick();
            }
            finally
            {
                Volatile.Write(ref _flushing, 0);
            }
            // Frames marked after the last exchange, by a thread that found the flag still set, are ours: loop.
        }
    }
}
