namespace UserLB.Engine.Conntrack;

/// <summary>
/// A connection table entry as it survives a restart (<c>userlb run --state-file</c>): the farm and backend by name
/// (numeric ids are per process), both tuples (the reply tuple holds the NAT'd source port), state, status flags, mark,
/// counters, and times relative to the moment of export: <see cref="AgeNs"/> since creation and
/// <see cref="RemainingNs"/> until expiry.
/// </summary>
public sealed record SavedConnection
{
    public required string Farm { get; init; }
    public required string Backend { get; init; }
    public required FlowTuple Original { get; init; }
    public required FlowTuple Reply { get; init; }
    public TcpState TcpState { get; init; }
    public SctpState SctpState { get; init; }
    /// <summary>SeenReply, Assured, SrcNat, DstNat, Limited, SeqAdjust (InUse is implied).</summary>
    public ConnStatus Status { get; init; }
    /// <summary>A SYN-proxied connection's sequence and timestamp shifts (<see cref="ConnStatus.SeqAdjust"/>).</summary>
    public uint SeqOffset { get; init; }
    public uint TsOffset { get; init; }
    public sbyte WindowShift { get; init; }
    public uint Mark { get; init; }
    /// <summary>ICMP: the original direction's type and code.</summary>
    public byte IcmpType { get; init; }
    public byte IcmpCode { get; init; }
    public uint Id { get; init; }
    public long AgeNs { get; init; }
    public long RemainingNs { get; init; }
    public ulong OriginalPackets { get; init; }
    public ulong OriginalBytes { get; init; }
    public ulong ReplyPackets { get; init; }
    public ulong ReplyBytes { get; init; }
}

/// <summary>What <see cref="PacketEngine.ImportConnections"/> did with a saved table.</summary>
public readonly record struct ImportResult(int Imported, int UnknownFarmOrBackend, int Changed, int Clashing, int TableFull)
{
    public int Skipped => UnknownFarmOrBackend + Changed + Clashing + TableFull;
}
