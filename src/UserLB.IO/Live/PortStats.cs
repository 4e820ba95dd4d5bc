namespace UserLB.IO.Live;

/// <summary>
/// What a port lost outside the engine: frames the kernel dropped before userlb read them (a full receive ring or
/// buffer: AF_PACKET's <c>tp_drops</c>, libpcap's <c>ps_drop</c>), frames it could not send (the transmit ring stayed
/// full), and super-frames received cut short.
/// </summary>
public readonly record struct PortStats(long KernelDrops, long TxDrops, long RxTruncated);

/// <summary>A port that can tell its <see cref="PortStats"/>; safe to read from any thread.</summary>
public interface IPortStats
{
    PortStats Stats { get; }
}
