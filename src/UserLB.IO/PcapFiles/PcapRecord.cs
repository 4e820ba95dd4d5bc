namespace UserLB.IO.PcapFiles;

/// <summary>
/// One packet record read by <see cref="PcapReader"/>. The packet bytes live in the reader's
/// reusable buffer and are only valid until the next call to <see cref="PcapReader.TryReadNext"/>
/// (or until the reader is disposed).
/// </summary>
public readonly ref struct PcapRecord
{
    internal PcapRecord(long timestampNanos, Span<byte> data, int originalLength, int linkType, int interfaceId,
        ReadOnlySpan<byte> comments = default, uint flags = 0)
    {
        Comments = comments;
        Flags = flags;
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

    /// <summary>
    /// The pcapng packet block's opt_comment options, UTF-8 (checked when read), several comments joined by '\n';
    /// empty when there are none and for classic pcap. Valid as long as <see cref="Data"/>.
    /// </summary>
    public ReadOnlySpan<byte> Comments { get; }

    /// <summary>The pcapng epb_flags option (direction in bits 0–1, see <see cref="PacketFlags"/>); 0 when absent.</summary>
    public uint Flags { get; }

    /// <summary>The direction bits of <see cref="Flags"/>.</summary>
    public PacketDirection Direction => (PacketDirection)(Flags & PacketFlags.DirectionMask);

    /// <summary>True when fewer bytes were captured than were on the wire.</summary>
    public bool IsTruncated => MutableData.Length < OriginalLength;
}

/// <summary>pcapng epb_flags bits (draft-ietf-opsawg-pcapng §4.3.1).</summary>
public static class PacketFlags
{
    public const uint DirectionMask = 0b11;
    public const uint Inbound = 0b01;
    public const uint Outbound = 0b10;
}

/// <summary>The direction bits of a pcapng packet block's epb_flags.</summary>
public enum PacketDirection
{
    Unknown = 0,
    Inbound = 1,
    Outbound = 2,
}
