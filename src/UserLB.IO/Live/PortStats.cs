namespace UserLB.IO.Live;

/// <summary>
/// What a port lost outside the engine: frames the kernel dropped before userlb read them (a full receive ring or
/// buffer: AF_PACKET's <c>tp_drops</c>, libpcap's <c>ps_drop</c>), frames it could not send (the transmit ring stayed
/// full), super-frames received cut short, and frames the kernel dropped because the handshake ring was full (TCP SYNs:
/// a SYN flood overflows that ring, not the main one; <see cref="HandshakeRing"/>).
/// </summary>
public readonly record struct PortStats(long KernelDrops, long TxDrops, long RxTruncated, long HandshakeDrops = 0);

/// <summary>A port that can tell its <see cref="PortStats"/>; safe to read from any thread.</summary>
public interface IPortStats
{
    PortStats Stats { get; }
}
