namespace UserLB.Engine.Conntrack;

/// <summary>
/// The kernel's default conntrack timeouts, in seconds (tcp_timeouts in nf_conntrack_proto_tcp.c and the
/// nf_conntrack_*_timeout sysctls).
/// </summary>
public static class ConntrackTimeouts
{
    /// <summary>nf_conntrack_proto_udp's stream rule: a flow that has seen its reply and lives longer than this is a
    /// stream (the stream timeout, and ASSURED).</summary>
    public const long UdpStreamAfterNs = 2_000_000_000L;

    public const long TcpSynSentSeconds = 120;
    public const long TcpSynRecvSeconds = 60;
    public const long TcpEstablishedSeconds = 432_000;
    public const long TcpFinWaitSeconds = 120;
    public const long TcpCloseWaitSeconds = 60;
    public const long TcpLastAckSeconds = 30;
    public const long TcpTimeWaitSeconds = 120;
    public const long TcpCloseSeconds = 10;
    public const long TcpSynSent2Seconds = 120;

    /// <summary>nf_conntrack_tcp_timeout_max_retrans: after tcp_max_retrans (3) retransmissions.</summary>
    public const long TcpRetransSeconds = 300;

    /// <summary>nf_conntrack_tcp_timeout_unacknowledged: while data is unacknowledged (and mid-stream pickups without a reply).</summary>
    public const long TcpUnacknowledgedSeconds = 300;

    /// <summary>nf_conntrack_udp_timeout: UDP flow that has not seen a reply.</summary>
    public const long UdpSeconds = 30;

    /// <summary>nf_conntrack_udp_timeout_stream: UDP flow that has seen a reply (and is ASSURED).</summary>
    public const long UdpStreamSeconds = 120;

    public const long IcmpSeconds = 30;

    public const long GenericSeconds = 600;

    /// <summary>SCTP's timeout per state, as Linux 6.x (<c>sctp_timeouts</c>): CLOSED 10 s, the handshake's and the
    /// shutdown's states 3 s, ESTABLISHED 210 s, HEARTBEAT_SENT 30 s.</summary>
    public static long SctpTimeoutSeconds(SctpState s) => s switch
    {
        SctpState.Established => 210,
        SctpState.HeartbeatSent => 30,
        SctpState.CookieWait or SctpState.CookieEchoed or SctpState.ShutdownSent or SctpState.ShutdownRecd or SctpState.ShutdownAckSent => 3,
        _ => 10,
    };

    /// <summary>Default timeout of a TCP state in seconds; 0 for NONE (the kernel has no entry for it) and undefined values.</summary>
    public static long TcpTimeoutSeconds(TcpState s) => ConntrackTimeoutSettings.Default.TcpTimeout(s);
}

/// <summary>
/// Conntrack timeouts in seconds, defaulting to the kernel's values; configurations override them with
/// object initializers or <c>with</c> expressions (<c>ConntrackTimeoutSettings.Default with { TcpEstablishedSeconds = 3600 }</c>).
/// Immutable, so one instance can be shared by all workers.
/// </summary>
public sealed record ConntrackTimeoutSettings
{
    /// <summary>The kernel defaults.</summary>
    public static ConntrackTimeoutSettings Default { get; } = new();

    public long TcpSynSentSeconds { get; init; } = ConntrackTimeouts.TcpSynSentSeconds;
    public long TcpSynRecvSeconds { get; init; } = ConntrackTimeouts.TcpSynRecvSeconds;
    public long TcpEstablishedSeconds { get; init; } = ConntrackTimeouts.TcpEstablishedSeconds;
    public long TcpFinWaitSeconds { get; init; } = ConntrackTimeouts.TcpFinWaitSeconds;
    public long TcpCloseWaitSeconds { get; init; } = ConntrackTimeouts.TcpCloseWaitSeconds;
    public long TcpLastAckSeconds { get; init; } = ConntrackTimeouts.TcpLastAckSeconds;
    public long TcpTimeWaitSeconds { get; init; } = ConntrackTimeouts.TcpTimeWaitSeconds;
    public long TcpCloseSeconds { get; init; } = ConntrackTimeouts.TcpCloseSeconds;
    public long TcpSynSent2Seconds { get; init; } = ConntrackTimeouts.TcpSynSent2Seconds;
    public long TcpRetransSeconds { get; init; } = ConntrackTimeouts.TcpRetransSeconds;
    public long TcpUnacknowledgedSeconds { get; init; } = ConntrackTimeouts.TcpUnacknowledgedSeconds;
    public long UdpSeconds { get; init; } = ConntrackTimeouts.UdpSeconds;
    public long UdpStreamSeconds { get; init; } = ConntrackTimeouts.UdpStreamSeconds;
    public long IcmpSeconds { get; init; } = ConntrackTimeouts.IcmpSeconds;
    public long GenericSeconds { get; init; } = ConntrackTimeouts.GenericSeconds;

    /// <summary>Timeout of a TCP state in seconds; 0 for NONE and undefined values.</summary>
    public long TcpTimeout(TcpState state) => state switch
    {
        TcpState.SynSent => TcpSynSentSeconds,
        TcpState.SynRecv => TcpSynRecvSeconds,
        TcpState.Established => TcpEstablishedSeconds,
        TcpState.FinWait => TcpFinWaitSeconds,
        TcpState.CloseWait => TcpCloseWaitSeconds,
        TcpState.LastAck => TcpLastAckSeconds,
        TcpState.TimeWait => TcpTimeWaitSeconds,
        TcpState.Close => TcpCloseSeconds,
        TcpState.SynSent2 => TcpSynSent2Seconds,
        _ => 0,
    };

    /// <summary>
    /// Timeout after a packet moved the flow to <paramref name="state"/>, with the kernel's rule for flows that
    /// have not seen a reply (mid-stream pickup with loose=1): ESTABLISHED is capped at the unacknowledged
    /// timeout until a reply is seen. (The retransmission, unacknowledged-data and zero-window caps need
    /// sequence tracking and are not applied.)
    /// </summary>
    public long TcpTimeout(TcpState state, bool seenReply)
    {
        long timeout = TcpTimeout(state);
        return !seenReply && state == TcpState.Established && timeout > TcpUnacknowledgedSeconds
            ? TcpUnacknowledgedSeconds
            : timeout;
    }

    /// <summary>UDP timeout: <see cref="UdpStreamSeconds"/> once the flow is a stream (reply seen, ASSURED), else <see cref="UdpSeconds"/>.</summary>
    public long UdpTimeout(bool stream) => stream ? UdpStreamSeconds : UdpSeconds;
}
