namespace UserLB.IO.PcapFiles;

/// <summary>
/// One packet record read by <see cref="PcapReader"/>. The packet bytes live in the reader's
/// reusable buffer and are only valid until the next call to <see cref="PcapReader.TryReadNext"/>
/// (or until the reader is disposed).
/// </summary>
public readonly ref struct PcapRecord
{
    internal PcapRecord(long timestampNanos, Span<byte> data, int originalLength, int linkType, int interfaceId)
    {
        TimestampNanos = timestampNanos;
        MutableData = data;
        OriginalLength = originalLength;
        LinkType = linkType;
        InterfaceId = interfaceId;
    }

    /// <summary>
    /// Capture time in nanoseconds since the Unix epoch (UTC). Zero for pcapng Simple Packet
    /// Blocks, which carry no timestamp.
    /// </summary>
    public long TimestampNanos { get; }

    /// <summary>Captured bytes (possibly shorter than <see cref="OriginalLength"/>).</summary>
    public ReadOnlySpan<byte> Data => MutableData;

    /// <summary>
    /// Writable view of the same bytes as <see cref="Data"/>, for rewriting frames in place.
    /// </summary>
    public Span<byte> MutableData { get; }

    /// <summary>Number of captured bytes (<c>Data.Length</c>).</summary>
    public int CapturedLength => MutableData.Length;

    /// <summary>Length of the packet on the wire, as recorded in the file.</summary>
    public int OriginalLength { get; }

    /// <summary>Link-layer type of this record (see <see cref="LinkTypes"/>).</summary>
    public int LinkType { get; }

    /// <summary>
    /// pcapng interface index within the current section; always 0 for classic pcap files.
    /// </summary>
    public int InterfaceId { get; }

    /// <summary>True when fewer bytes were captured than were on the wire.</summary>
    public bool IsTruncated => MutableData.Length < OriginalLength;
}
