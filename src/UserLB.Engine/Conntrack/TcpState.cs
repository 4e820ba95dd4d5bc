namespace UserLB.Engine.Conntrack;

/// <summary>
/// TCP conntrack states, in the kernel's order (<c>enum tcp_conntrack</c>): the numeric values index
/// <see cref="TcpStateTable"/> and match <c>CTA_PROTOINFO_TCP_STATE</c>.
/// </summary>
public enum TcpState : byte
{
    /// <summary>NONE: initial state, never stored for a tracked flow.</summary>
    None = 0,

    /// <summary>SYN_SENT: SYN-only packet seen.</summary>
    SynSent = 1,

    /// <summary>SYN_RECV: SYN-ACK packet seen.</summary>
    SynRecv = 2,

    /// <summary>ESTABLISHED: ACK packet seen.</summary>
    Established = 3,

    /// <summary>FIN_WAIT: FIN packet seen.</summary>
    FinWait = 4,

    /// <summary>CLOSE_WAIT: ACK seen (after FIN).</summary>
    CloseWait = 5,

    /// <summary>LAST_ACK: FIN seen (after FIN).</summary>
    LastAck = 6,

    /// <summary>TIME_WAIT: last ACK seen.</summary>
    TimeWait = 7,

    /// <summary>CLOSE: closed connection (RST).</summary>
    Close = 8,

    /// <summary>SYN_SENT2: SYN-only packet seen from the reply direction (simultaneous open).</summary>
    SynSent2 = 9,
}

public static class TcpStateExtensions
{
    /// <summary>
    /// The kernel's name for the state (<c>tcp_conntrack_names</c>), as printed by <c>conntrack -L</c>.
    /// Returns interned literals: no allocation. Undefined values give "UNKNOWN".
    /// </summary>
    public static string ToConntrackName(this TcpState state) => state switch
    {
        TcpState.None => "NONE",
        TcpState.SynSent => "SYN_SENT",
        TcpState.SynRecv => "SYN_RECV",
        TcpState.Established => "ESTABLISHED",
        TcpState.FinWait => "FIN_WAIT",
        TcpState.CloseWait => "CLOSE_WAIT",
        TcpState.LastAck => "LAST_ACK",
        TcpState.TimeWait => "TIME_WAIT",
        TcpState.Close => "CLOSE",
        TcpState.SynSent2 => "SYN_SENT2",
        _ => "UNKNOWN",
    };
}
