using UserLB.Packets;

namespace UserLB.Engine.Conntrack;

[Flags]
public enum ConnStatus : byte
{
    None = 0,
    InUse = 1,
    SeenReply = 2,
    Assured = 4,
    /// <summary>Source manipulated in the original direction (SNAT / NAT mode).</summary>
    SrcNat = 8,
    /// <summary>Destination manipulated in the original direction (DNAT, both modes).</summary>
    DstNat = 16,
    /// <summary>Counted by the per-client limiter (<c>est-connlimit</c>): released when the entry goes.</summary>
    Limited = 32,
    /// <summary>Opened by the SYN proxy: sequence numbers (and timestamps) are shifted by <see cref="ConnEntry.SeqOffset"/>
    /// (<see cref="ConnEntry.TsOffset"/>) between the client's and the backend's views (nf_conntrack_seqadj).</summary>
    SeqAdjust = 64,
    /// <summary>The SYN proxy sent the backend its SYN and waits for the SYN-ACK (then <see cref="ConnEntry.SeqOffset"/>
    /// holds the cookie, <see cref="ConnEntry.TsOffset"/> the SYN-ACK's timestamp).</summary>
    SynProxyPending = 128,
}

/// <summary>How a tracked flow's packets are forwarded (<see cref="ConnEntry.Forward"/>).</summary>
public enum FlowForward : byte
{
    /// <summary>Rewritten by the entry's NAT (snat, dnat modes) and routed: both directions pass the LB.</summary>
    Nat = 0,

    /// <summary>dsr: the client's packets only, their MACs rewritten to the backend's; IP and L4 untouched.</summary>
    Dsr = 1,

    /// <summary>dsr with <c>"tunnel": "ipip"</c>: the client's packets only, inside an outer IPv4 header to the backend.</summary>
    DsrIpip = 2,
}

/// <summary>
/// One tracked connection (nf_conn): reachable from its original tuple and its reply tuple. With NAT the reply tuple is
/// the inverse of the translated original, so the two tuples alone say how to translate either direction.
/// </summary>
public struct ConnEntry
{
    public FlowTuple Original;
    public FlowTuple Reply;
    public long CreatedNs;
    public long ExpiresNs;
    public ulong OriginalPackets;
    public ulong OriginalBytes;
    public ulong ReplyPackets;
    public ulong ReplyBytes;
    public uint Id;
    public uint Mark;
    public int FarmId;
    public int BackendId;
    public ConnStatus Status;
    public TcpState TcpState;
    /// <summary>How the flow's packets leave (NAT, or direct server return: L2 or IP-in-IP); set when the entry is made.</summary>
    public FlowForward Forward;
    /// <summary>SCTP's conntrack state (nf_conntrack_proto_sctp.c); NONE for other protocols.</summary>
    public SctpState SctpState;
    /// <summary>The established-path rewrite of each direction, prepared when its next hop is cached (PacketEngine.Fast.cs):
    /// bits 0–2 the original direction, 4–6 the reply (valid, the L4 checksum changes, prepared for IPv6).</summary>
    public byte FastFlags;
    /// <summary>Next hop's MAC and port per direction (0 original, 1 reply), valid while the neighbour table's version is <see cref="NeighborVersion"/>.</summary>
    public MacAddress NextHopMacOriginal;
    public MacAddress NextHopMacReply;
    public short NextHopPortOriginal;
    public short NextHopPortReply;
    public int NeighborVersion;
    /// <summary>Per direction (original, reply): the RFC 1624 addend of the L4 checksum update and of the IPv4 header
    /// checksum update (NAT and TTL together), folded to 16 bits; see <see cref="FastFlags"/>.</summary>
    public ushort FastL4Original, FastL4Reply, FastIpOriginal, FastIpReply;
    /// <summary>SYN proxy (<see cref="ConnStatus.SeqAdjust"/>): added to the backend's sequence numbers on their way to the
    /// client, taken from the client's acknowledgments on their way to the backend (the cookie less the backend's ISN).</summary>
    public uint SeqOffset;
    /// <summary>SYN proxy: taken from the backend's timestamps on their way to the client, added to the echoes on their
    /// way to the backend (the backend's first timestamp less the cookie SYN-ACK's).</summary>
    public uint TsOffset;
    /// <summary>SYN proxy, while pending: the window of the client's ACK, for the ACK the proxy sends the backend.</summary>
    public ushort ProxyWindow;
    /// <summary>SYN proxy: the backend's window scale less the one the proxy offered the client; the backend's windows are
    /// shifted by it on their way to the client (the client reads them in the proxy's scale). While pending: the client's.</summary>
    public sbyte WindowShift;
    /// <summary>ICMP: the original direction's type and code (the kernel keeps them in the tuple; the reply's type is
    /// <see cref="IcmpTypes.ReplyType"/> of it), printed by the listings and events.</summary>
    public byte IcmpType, IcmpCode;

    public readonly bool InUse => (Status & ConnStatus.InUse) != 0;
    public readonly bool Assured => (Status & ConnStatus.Assured) != 0;
    public readonly bool SeenReply => (Status & ConnStatus.SeenReply) != 0;
}

/// <summary>What a conntrack event reports (conntrack -E): NEW, UPDATE (state change / assured), DESTROY.</summary>
public enum ConnEventType : byte
{
    New,
    Update,
    Destroy,
}

public interface IConntrackEvents
{
    void OnEvent(ConnEventType type, in ConnEntry entry, long nowNs);
}

/// <summary>Told of every entry the table removes (expiry, early drop, explicit delete) before its slot is freed.</summary>
public interface IEntryLifetime
{
    void OnRemoved(in ConnEntry entry);
}
