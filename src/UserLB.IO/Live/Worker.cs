using System.Collections.Concurrent;
using UserLB.Engine;

namespace UserLB.IO.Live;

/// <summary>
/// One engine and the work its thread does between batches: housekeeping, the expiry sweep, the periodic callback and
/// the control plane's actions (<see cref="LiveForwarder.InvokeAsync"/>). Receivers run the engine under
/// <see cref="Lock"/> (inline) or on a worker thread of their own (queue).
/// </summary>
internal sealed class Worker(int index, PacketEngine engine, PortSink sink)
{
    private const long PeriodicIntervalNs = 1_000_000_000;

    /// <summary>
    /// The expiry sweep between batches: <see cref="SweepChunk"/> entries every <see cref="SweepIntervalNs"/>. Small
    /// chunks: the sweep holds the engine, so one big chunk is a pause every packet arriving meanwhile waits out.
    /// </summary>
    private const long SweepIntervalNs = 10_000_000;
    private const int SweepChunk = 512;
    private long _lastSweep, _lastPeriodic;

    public int Index { get; } = index;
    public PacketEngine Engine { get; } = engine;
    public PortSink Sink { get; } = sink;
    public ConcurrentQueue<Action<PacketEngine, long>> Control { get; } = new();

    /// <summary>Held while the engine runs (inline receivers, and control actions run while the worker is stopped).</summary>
    public object Lock { get; } = new();

    /// <summary>Whether a receiver's thread runs this engine (else control actions run on the caller's thread).</summary>
    public volatile bool Running;

    /// <summary>Called about once a second with the engine (<see cref="LiveForwarder.Periodic"/>).</summary>
    public Action<PacketEngine, long>? Periodic;

    /// <summary>
    /// Between batches, on the engine's thread: the engine's timer work (<see cref="PacketEngine.Tick"/>), the periodic
    /// callback, control actions. The caller flushes the ports afterwards (inline receivers after they let go of the
    /// engine's lock).
    /// </summary>
    public void Idle(long now)
    {
        if (now - _lastSweep > SweepIntervalNs)
        {
            Engine.Tick(now, SweepChunk);
            _lastSweep = now;
        }
        if (Periodic is { } periodic && now - _lastPeriodic >= PeriodicIntervalNs)
        {
            _lastPeriodic = now;
            periodic(Engine, now);
        }
        if (!Control.IsEmpty)
            while (Control.TryDequeue(out var a)) a(Engine, now);
    }

    /// <summary>Runs the control actions waiting, under the lock, and hands their frames to the ports.</summary>
    public void DrainControl(long now)
    {
        lock (Lock)
        {
            while (Control.TryDequeue(out var a)) a(Engine, now);
            Sink.Flush();
        }
    }

    /// <summary>The last thread running the engine leaves: later control actions run on their caller's thread.</summary>
    public void Retire(long now)
    {
        Running = false;
        DrainControl(now);
    }
}
