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

    /// <summary>The TCP timeout of each state, indexed by <see cref="TcpState"/> (tcp_timeouts[] in
    /// nf_conntrack_proto_tcp.c): NONE 0, SYN_SENT 120, SYN_RECV 60, ESTABLISHED 5 days, FIN_WAIT 120, CLOSE_WAIT 60,
    /// LAST_ACK 30, TIME_WAIT 120, CLOSE 10, SYN_SENT2 120.</summary>
    public static ReadOnlySpan<long> TcpSeconds => [0, 120, 60, 432_000, 120, 60, 30, 120, 10, 120];

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
    public static long TcpTimeoutSeconds(TcpState s) => (uint)s < (uint)TcpSeconds.Length ? TcpSeconds[(int)s] : 0;
}

/// <summary>
/// Conntrack timeouts in seconds, defaulting to the kernel's values; configurations override them with
/// <see cref="WithTcp"/> per TCP state and <c>with</c> expressions for the others.
/// Immutable, so one instance can be shared by all workers.
/// </summary>
public sealed record ConntrackTimeoutSettings
{
    /// <summary>The kernel defaults.</summary>
    public static ConntrackTimeoutSettings Default { get; } = new();

    private readonly long[] _tcp = ConntrackTimeouts.TcpSeconds.ToArray();

    /// <summary>The kernel defaults.</summary>
    public ConntrackTimeoutSettings()
    {
    }

    public long TcpRetransSeconds { get; init; } = ConntrackTimeouts.TcpRetransSeconds;
    public long TcpUnacknowledgedSeconds { get; init; } = ConntrackTimeouts.TcpUnacknowledgedSeconds;
    public long UdpSeconds { get; init; } = ConntrackTimeouts.UdpSeconds;
    public long UdpStreamSeconds { get; init; } = ConntrackTimeouts.UdpStreamSeconds;
    public long IcmpSeconds { get; init; } = ConntrackTimeouts.IcmpSeconds;
    public long GenericSeconds { get; init; } = ConntrackTimeouts.GenericSeconds;

    /// <summary>Timeout of a TCP state in seconds; 0 for NONE and undefined values.</summary>
    public long TcpTimeout(TcpState state) => (uint)state < (uint)_tcp.Length ? _tcp[(int)state] : 0;

    /// <summary>A copy with <paramref name="state"/>'s TCP timeout set to <paramref name="seconds"/>
    /// (the nf_conntrack_tcp_timeout_* sysctl of that state).</summary>
    public ConntrackTimeoutSettings WithTcp(TcpState state, long seconds)
    {
        if ((uint)state >= (uint)_tcp.Length || state == TcpState.None) throw new ArgumentOutOfRangeException(nameof(state));
        ArgumentOutOfRangeException.ThrowIfNegative(seconds);
        var copy = this with { };
        copy._tcp[(int)state] = seconds;
        return copy;
    }

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

    /// <summary>Equal when every timeout is (the per-state array compared by value).</summary>
    public bool Equals(ConntrackTimeoutSettings? other) =>
        other is not null && _tcp.AsSpan().SequenceEqual(other._tcp) && TcpRetransSeconds == other.TcpRetransSeconds
        && TcpUnacknowledgedSeconds == other.TcpUnacknowledgedSeconds && UdpSeconds == other.UdpSeconds
        && UdpStreamSeconds == other.UdpStreamSeconds && IcmpSeconds == other.IcmpSeconds && GenericSeconds == other.GenericSeconds;

    public override int GetHashCode() =>
        HashCode.Combine(_tcp[(int)TcpState.Established], TcpRetransSeconds, TcpUnacknowledgedSeconds, UdpSeconds, UdpStreamSeconds, IcmpSeconds, GenericSeconds);

    /// <summary>Copy constructor for <c>with</c>: the per-state array is copied, not shared.</summary>
    private ConntrackTimeoutSettings(ConntrackTimeoutSettings original)
    {
        _tcp = (long[])original._tcp.Clone();
        TcpRetransSeconds = original.TcpRetransSeconds;
        TcpUnacknowledgedSeconds = original.TcpUnacknowledgedSeconds;
        UdpSeconds = original.UdpSeconds;
        UdpStreamSeconds = original.UdpStreamSeconds;
        IcmpSeconds = original.IcmpSeconds;
        GenericSeconds = original.GenericSeconds;
    }
}
