// One-directional TCP tracking for direct server return, transcribed from Linux net/netfilter/ipvs/ip_vs_proto_tcp.c:
// the INPUT-ONLY rows of tcp_states (the table IPVS uses for DR and tunnel connections, which see only the client's
// packets), tcp_state_idx (which flag decides) and the default tcp_timeouts. Mainline's row for an ACK in NONE
// (sES: a connection picked up mid-stream, as with sloppy_tcp) is the one used here.
// IPVS's LISTEN and SYNACK states are left out: no INPUT-ONLY transition reaches them from NONE.
namespace UserLB.Engine.Conntrack;

/// <summary>
/// IPVS's input-only TCP state table as data, over <see cref="TcpState"/> values (IPVS's NONE, ESTABLISHED, SYN_SENT,
/// SYN_RECV, FIN_WAIT, TIME_WAIT, CLOSE, CLOSE_WAIT and LAST_ACK have conntrack namesakes), with IPVS's timeouts.
/// Allocation- and exception-free.
/// </summary>
public static class DsrTcpStates
{
    private const byte NO = (byte)TcpState.None;
    private const byte ES = (byte)TcpState.Established;
    private const byte SS = (byte)TcpState.SynSent;
    private const byte SR = (byte)TcpState.SynRecv;
    private const byte FW = (byte)TcpState.FinWait;
    private const byte TW = (byte)TcpState.TimeWait;
    private const byte CL = (byte)TcpState.Close;
    private const byte CW = (byte)TcpState.CloseWait;
    private const byte LA = (byte)TcpState.LastAck;

    /// <summary>Rows: syn, fin, ack, rst (tcp_state_idx); columns: the current state by <see cref="TcpState"/> value
    /// (None, SynSent, SynRecv, Established, FinWait, CloseWait, LastAck, TimeWait, Close, SynSent2 — the last unused).</summary>
    private static ReadOnlySpan<byte> Table =>
    [
        // NO  SS  SR  ES  FW  CW  LA  TW  CL  S2
        SR, ES, SR, ES, SR, SR, SR, SR, SR, SR, // syn
        CL, SS, TW, FW, FW, CW, LA, TW, CL, CL, // fin
        ES, SS, ES, ES, FW, CW, CL, TW, CL, CL, // ack
        CL, CL, SR, CL, CL, CL, LA, CL, CL, CL, // rst
    ];

    /// <summary>IPVS's default timeouts in seconds (tcp_timeouts), by <see cref="TcpState"/> value.</summary>
    private static ReadOnlySpan<int> TimeoutSeconds =>
    [
        2,       // NONE
        2 * 60,  // SYN_SENT
        60,      // SYN_RECV
        15 * 60, // ESTABLISHED
        2 * 60,  // FIN_WAIT
        60,      // CLOSE_WAIT
        30,      // LAST_ACK
        2 * 60,  // TIME_WAIT
        10,      // CLOSE
        2,       // (SYN_SENT2: not an IPVS state)
    ];

    /// <summary>IPVS's UDP timeout (udp_timeouts[IP_VS_UDP_S_NORMAL]), also used for other protocols here.</summary>
    public const int UdpTimeoutSeconds = 5 * 60;

    /// <summary>tcp_state_idx: RST, then SYN, FIN, ACK decide; -1 when none is set (the state stays).</summary>
    public static int FlagIndex(byte tcpFlags)
    {
        if ((tcpFlags & 0x04) != 0) return 3;
        if ((tcpFlags & 0x02) != 0) return 0;
        if ((tcpFlags & 0x01) != 0) return 1;
        if ((tcpFlags & 0x10) != 0) return 2;
        return -1;
    }

    /// <summary>The state after a client packet with <paramref name="tcpFlags"/> in <paramref name="state"/>.</summary>
    public static TcpState Next(TcpState state, byte tcpFlags)
    {
        int row = FlagIndex(tcpFlags);
        if (row < 0 || (uint)state >= TcpStateTable.StateCount) return state;
        return (TcpState)Table[row * TcpStateTable.StateCount + (int)state];
    }

    /// <summary>IPVS's timeout of <paramref name="state"/>, in seconds.</summary>
    public static int Timeout(TcpState state) => (uint)state < (uint)TimeoutSeconds.Length ? TimeoutSeconds[(int)state] : 2;
}
