namespace UserLB.Packets;

/// <summary>Why a frame was not forwarded. Every received frame ends either forwarded, consumed (ARP/NDP) or dropped with one of these.</summary>
public enum DropReason : byte
{
    None = 0,
    // Layer 2
    FrameTruncated,
    VlanTruncated,
    UnsupportedEtherType,
    NotForUs,
    ArpMalformed,
    ArpNotForUs,
    // IPv4
    Ipv4Truncated,
    Ipv4BadVersion,
    Ipv4BadHeaderLength,
    Ipv4BadTotalLength,
    Ipv4BadChecksum,
    Ipv4Fragment,
    // IPv6
    Ipv6Truncated,
    Ipv6BadVersion,
    Ipv6BadPayloadLength,
    Ipv6ExtensionTruncated,
    Ipv6ExtensionChainTooLong,
    Ipv6Fragment,
    // Layer 4
    L4Truncated,
    TcpBadHeaderLength,
    UdpBadLength,
    L4BadChecksum,
    PartialChecksumOffload,
    GsoSuperFrame,
    UnsupportedProtocol,
    IcmpMalformed,
    NdpMalformed,
    // Decisions
    NoFarm,
    FarmDown,
    NoBackend,
    TcpInvalid,
    TcpNoSynForNewFlow,
    TableFull,
    NatPortsExhausted,
    IcmpErrorUntracked,
    TtlExceeded,
    NeighborUnresolved,
    FlowBackendRemoved,
    RateLimited,
    ConnLimit,
    QueueFull,
    /// <summary>A packet that would start a flow while the global new-flow budget was spent (PacketEngine: NewFlowBudget).</summary>
    NewFlowBudget,
    /// <summary>An ACK to a SYN-proxied farm with no connection and no valid cookie (PacketEngine.SynProxy.cs).</summary>
    SynProxyBadCookie,
    /// <summary>A TCP segment without SYN that would start a flow mid-stream (loose pickup) while the table is under pressure.</summary>
    TcpLooseUnderPressure,
    /// <summary>An echo request to a VIP over the engine's echo reply budget (EngineOptions.EchoRepliesPerSecond).</summary>
    IcmpRateLimited,
    /// <summary>An SCTP packet conntrack finds INVALID: malformed chunks, a chunk its state does not allow, or chunks that cannot start a connection.</summary>
    SctpInvalid,
    // Offloads (virtio-net header)
    VnetBadChecksumStart,
    VnetGsoSizeZero,
    VnetBadHdrLen,
    VnetGsoMismatch,
    VnetEcnUnsupported,
    VnetGsoWithoutChecksum,
    /// <summary>A packet of the backend's direction of a dsr flow: the backends answer the client directly.</summary>
    DsrReplyDirection,
    /// <summary>A packet with DF set too large for the egress MTU once encapsulated (IP-in-IP): answered with ICMP
    /// fragmentation needed / packet too big.</summary>
    FragmentationNeeded,
    /// <summary>A client packet from a source a farm's blacklist policy holds (nftlb's policies).</summary>
    PolicyBlacklist,
    Count,
}

public static class DropReasons
{
    private static readonly string[] Names = BuildNames();

    private static string[] BuildNames()
    {
        var names = new string[(int)DropReason.Count];
        for (var i = 0; i < names.Length; i++)
        {
            var s = ((DropReason)i).ToString();
            var sb = new System.Text.StringBuilder(s.Length + 4);
            for (var j = 0; j < s.Length; j++)
            {
                var c = s[j];
                if (char.IsUpper(c) && j > 0) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            names[i] = sb.ToString();
        }
        return names;
    }

    /// <summary>snake_case name used in traces, stats and metrics (e.g. "ipv4_bad_checksum").</summary>
    public static string Name(this DropReason reason) => (uint)reason < (uint)Names.Length ? Names[(int)reason] : "unknown";
}
