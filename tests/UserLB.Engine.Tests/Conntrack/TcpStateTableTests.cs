using UserLB.Engine.Conntrack;
using C = UserLB.Engine.Conntrack.TcpFlagClass;
using S = UserLB.Engine.Conntrack.TcpState;
using T = UserLB.Engine.Conntrack.TcpTransition;

namespace UserLB.Engine.Tests.Conntrack;

public partial class TcpStateTableTests
{
    private const byte FIN = 0x01;
    private const byte SYN = 0x02;
    private const byte RST = 0x04;
    private const byte PSH = 0x08;
    private const byte ACK = 0x10;
    private const byte URG = 0x20;
    private const byte ECE = 0x40;
    private const byte CWR = 0x80;

    private const bool Orig = false;
    private const bool Reply = true;

    // ---------------------------------------------------------------- Classify (get_conntrack_index)

    [Theory]
    [InlineData(SYN, C.Syn)]
    [InlineData(SYN | ECE | CWR, C.Syn)]
    [InlineData(SYN | ACK, C.SynAck)]
    [InlineData(SYN | ACK | ECE, C.SynAck)]
    [InlineData(FIN | ACK, C.Fin)]
    [InlineData(FIN | PSH | ACK, C.Fin)]
    [InlineData(FIN, C.Fin)]
    [InlineData(RST, C.Rst)]
    [InlineData(RST | ACK, C.Rst)]
    [InlineData(ACK, C.Ack)]
    [InlineData(PSH | ACK, C.Ack)]
    [InlineData(ACK | URG, C.Ack)]
    [InlineData(0, C.None)]
    [InlineData(PSH, C.None)]
    [InlineData(URG, C.None)]
    [InlineData(ECE | CWR, C.None)]
    [InlineData(SYN | FIN, C.Syn)]
    [InlineData(SYN | FIN | ACK, C.SynAck)]
    [InlineData(SYN | RST, C.Rst)]
    [InlineData(FIN | RST | ACK, C.Rst)]
    [InlineData(0xFF, C.Rst)]
    public void Classify_FlagCombination_MatchesKernelIndex(byte flags, C expected)
    {
        Assert.Equal(expected, TcpStateTable.Classify(flags));
    }

    // ---------------------------------------------------------------- tcp_valid_flags

    [Theory]
    [InlineData(SYN, true)]
    [InlineData(SYN | URG, true)]
    [InlineData(SYN | ACK, true)]
    [InlineData(SYN | ACK | ECE | CWR, true)]
    [InlineData(RST, true)]
    [InlineData(RST | ACK, true)]
    [InlineData(FIN | ACK, true)]
    [InlineData(FIN | PSH | ACK, true)]
    [InlineData(FIN | ACK | URG, true)]
    [InlineData(ACK, true)]
    [InlineData(PSH | ACK, true)]
    [InlineData(ACK | URG, true)]
    [InlineData(0, false)]
    [InlineData(PSH, false)]
    [InlineData(FIN, false)]
    [InlineData(SYN | FIN, false)]
    [InlineData(SYN | RST, false)]
    [InlineData(SYN | ACK | URG, false)]
    [InlineData(FIN | RST | ACK, false)]
    [InlineData(FIN | SYN | RST | PSH | ACK | URG, false)]
    [InlineData(0xFF, false)]
    public void IsValidFlagCombination_FlagCombination_MatchesTcpValidFlags(byte flags, bool expected)
    {
        Assert.Equal(expected, TcpStateTable.IsValidFlagCombination(flags));
    }

    // ---------------------------------------------------------------- tcp_conntracks, every cell

    // Transcribed from the comment-annotated table in net/netfilter/nf_conntrack_proto_tcp.c.
    // Columns: current state, direction, flag class, expected next state, kind (sIV/sIG keep the state).
    [Theory]
    // ORIGINAL syn:    sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2
    [InlineData(S.None, Orig, C.Syn, S.SynSent, T.Move)] // Initialize a new connection
    [InlineData(S.SynSent, Orig, C.Syn, S.SynSent, T.Move)] // Retransmitted SYN
    [InlineData(S.SynRecv, Orig, C.Syn, S.SynRecv, T.Ignore)]
    [InlineData(S.Established, Orig, C.Syn, S.Established, T.Ignore)] // SYNs in window outside SYN_SENT
    [InlineData(S.FinWait, Orig, C.Syn, S.FinWait, T.Ignore)]
    [InlineData(S.CloseWait, Orig, C.Syn, S.CloseWait, T.Ignore)]
    [InlineData(S.LastAck, Orig, C.Syn, S.LastAck, T.Ignore)]
    [InlineData(S.TimeWait, Orig, C.Syn, S.SynSent, T.Move)] // Reopened connection (RFC 1122)
    [InlineData(S.Close, Orig, C.Syn, S.SynSent, T.Move)]
    [InlineData(S.SynSent2, Orig, C.Syn, S.SynSent2, T.Move)] // Late retransmitted SYN
    // ORIGINAL synack: sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR
    [InlineData(S.None, Orig, C.SynAck, S.None, T.Invalid)] // Too late
    [InlineData(S.SynSent, Orig, C.SynAck, S.SynSent, T.Invalid)] // Client can't send SYN and then SYN/ACK
    [InlineData(S.SynRecv, Orig, C.SynAck, S.SynRecv, T.Move)] // Late retransmitted SYN/ACK in simultaneous open
    [InlineData(S.Established, Orig, C.SynAck, S.Established, T.Invalid)] // Invalid SYN/ACK sent by the client
    [InlineData(S.FinWait, Orig, C.SynAck, S.FinWait, T.Invalid)]
    [InlineData(S.CloseWait, Orig, C.SynAck, S.CloseWait, T.Invalid)]
    [InlineData(S.LastAck, Orig, C.SynAck, S.LastAck, T.Invalid)]
    [InlineData(S.TimeWait, Orig, C.SynAck, S.TimeWait, T.Invalid)]
    [InlineData(S.Close, Orig, C.SynAck, S.Close, T.Invalid)]
    [InlineData(S.SynSent2, Orig, C.SynAck, S.SynRecv, T.Move)] // SYN/ACK sent to SYN2 in simultaneous open
    // ORIGINAL fin:    sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV
    [InlineData(S.None, Orig, C.Fin, S.None, T.Invalid)]
    [InlineData(S.SynSent, Orig, C.Fin, S.SynSent, T.Invalid)] // must wait for a SYN/ACK reply first
    [InlineData(S.SynRecv, Orig, C.Fin, S.FinWait, T.Move)] // Close started
    [InlineData(S.Established, Orig, C.Fin, S.FinWait, T.Move)]
    [InlineData(S.FinWait, Orig, C.Fin, S.LastAck, T.Move)] // FIN seen in both directions
    [InlineData(S.CloseWait, Orig, C.Fin, S.LastAck, T.Move)]
    [InlineData(S.LastAck, Orig, C.Fin, S.LastAck, T.Move)] // Retransmitted FIN
    [InlineData(S.TimeWait, Orig, C.Fin, S.TimeWait, T.Move)]
    [InlineData(S.Close, Orig, C.Fin, S.Close, T.Move)]
    [InlineData(S.SynSent2, Orig, C.Fin, S.SynSent2, T.Invalid)]
    // ORIGINAL ack:    sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV
    [InlineData(S.None, Orig, C.Ack, S.Established, T.Move)] // Assumed
    [InlineData(S.SynSent, Orig, C.Ack, S.SynSent, T.Invalid)] // haven't seen a SYN/ACK yet
    [InlineData(S.SynRecv, Orig, C.Ack, S.Established, T.Move)] // Established state is reached
    [InlineData(S.Established, Orig, C.Ack, S.Established, T.Move)]
    [InlineData(S.FinWait, Orig, C.Ack, S.CloseWait, T.Move)] // Normal close request answered by ACK
    [InlineData(S.CloseWait, Orig, C.Ack, S.CloseWait, T.Move)]
    [InlineData(S.LastAck, Orig, C.Ack, S.TimeWait, T.Move)] // Last ACK detected
    [InlineData(S.TimeWait, Orig, C.Ack, S.TimeWait, T.Move)] // Retransmitted last ACK
    [InlineData(S.Close, Orig, C.Ack, S.Close, T.Move)]
    [InlineData(S.SynSent2, Orig, C.Ack, S.SynSent2, T.Invalid)]
    // ORIGINAL rst:    sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL
    [InlineData(S.None, Orig, C.Rst, S.None, T.Invalid)]
    [InlineData(S.SynSent, Orig, C.Rst, S.Close, T.Move)]
    [InlineData(S.SynRecv, Orig, C.Rst, S.Close, T.Move)]
    [InlineData(S.Established, Orig, C.Rst, S.Close, T.Move)]
    [InlineData(S.FinWait, Orig, C.Rst, S.Close, T.Move)]
    [InlineData(S.CloseWait, Orig, C.Rst, S.Close, T.Move)]
    [InlineData(S.LastAck, Orig, C.Rst, S.Close, T.Move)]
    [InlineData(S.TimeWait, Orig, C.Rst, S.Close, T.Move)]
    [InlineData(S.Close, Orig, C.Rst, S.Close, T.Move)]
    [InlineData(S.SynSent2, Orig, C.Rst, S.Close, T.Move)]
    // ORIGINAL none:   sIV x 10
    [InlineData(S.None, Orig, C.None, S.None, T.Invalid)]
    [InlineData(S.SynSent, Orig, C.None, S.SynSent, T.Invalid)]
    [InlineData(S.SynRecv, Orig, C.None, S.SynRecv, T.Invalid)]
    [InlineData(S.Established, Orig, C.None, S.Established, T.Invalid)]
    [InlineData(S.FinWait, Orig, C.None, S.FinWait, T.Invalid)]
    [InlineData(S.CloseWait, Orig, C.None, S.CloseWait, T.Invalid)]
    [InlineData(S.LastAck, Orig, C.None, S.LastAck, T.Invalid)]
    [InlineData(S.TimeWait, Orig, C.None, S.TimeWait, T.Invalid)]
    [InlineData(S.Close, Orig, C.None, S.Close, T.Invalid)]
    [InlineData(S.SynSent2, Orig, C.None, S.SynSent2, T.Invalid)]
    // REPLY syn:       sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2
    [InlineData(S.None, Reply, C.Syn, S.None, T.Invalid)] // Never reached
    [InlineData(S.SynSent, Reply, C.Syn, S.SynSent2, T.Move)] // Simultaneous open
    [InlineData(S.SynRecv, Reply, C.Syn, S.SynRecv, T.Invalid)] // Invalid SYN packets sent by the server
    [InlineData(S.Established, Reply, C.Syn, S.Established, T.Invalid)]
    [InlineData(S.FinWait, Reply, C.Syn, S.FinWait, T.Invalid)]
    [InlineData(S.CloseWait, Reply, C.Syn, S.CloseWait, T.Invalid)]
    [InlineData(S.LastAck, Reply, C.Syn, S.LastAck, T.Invalid)]
    [InlineData(S.TimeWait, Reply, C.Syn, S.SynSent, T.Move)] // Reopened, server may have switched role
    [InlineData(S.Close, Reply, C.Syn, S.Close, T.Invalid)]
    [InlineData(S.SynSent2, Reply, C.Syn, S.SynSent2, T.Move)] // Retransmitted simultaneous SYN
    // REPLY synack:    sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR
    [InlineData(S.None, Reply, C.SynAck, S.None, T.Invalid)]
    [InlineData(S.SynSent, Reply, C.SynAck, S.SynRecv, T.Move)] // Standard open
    [InlineData(S.SynRecv, Reply, C.SynAck, S.SynRecv, T.Ignore)] // Retransmitted SYN/ACK
    [InlineData(S.Established, Reply, C.SynAck, S.Established, T.Ignore)] // Late retransmitted SYN/ACK?
    [InlineData(S.FinWait, Reply, C.SynAck, S.FinWait, T.Ignore)] // Might answer an ignored SYN
    [InlineData(S.CloseWait, Reply, C.SynAck, S.CloseWait, T.Ignore)]
    [InlineData(S.LastAck, Reply, C.SynAck, S.LastAck, T.Ignore)]
    [InlineData(S.TimeWait, Reply, C.SynAck, S.TimeWait, T.Ignore)]
    [InlineData(S.Close, Reply, C.SynAck, S.Close, T.Ignore)]
    [InlineData(S.SynSent2, Reply, C.SynAck, S.SynRecv, T.Move)] // Simultaneous open
    // REPLY fin:       sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV
    [InlineData(S.None, Reply, C.Fin, S.None, T.Invalid)]
    [InlineData(S.SynSent, Reply, C.Fin, S.SynSent, T.Invalid)] // Server might not send FIN in this state
    [InlineData(S.SynRecv, Reply, C.Fin, S.FinWait, T.Move)] // Close started
    [InlineData(S.Established, Reply, C.Fin, S.FinWait, T.Move)]
    [InlineData(S.FinWait, Reply, C.Fin, S.LastAck, T.Move)] // FIN seen in both directions
    [InlineData(S.CloseWait, Reply, C.Fin, S.LastAck, T.Move)]
    [InlineData(S.LastAck, Reply, C.Fin, S.LastAck, T.Move)] // Retransmitted FIN
    [InlineData(S.TimeWait, Reply, C.Fin, S.TimeWait, T.Move)]
    [InlineData(S.Close, Reply, C.Fin, S.Close, T.Move)]
    [InlineData(S.SynSent2, Reply, C.Fin, S.SynSent2, T.Invalid)]
    // REPLY ack:       sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG
    [InlineData(S.None, Reply, C.Ack, S.None, T.Invalid)]
    [InlineData(S.SynSent, Reply, C.Ack, S.SynSent, T.Ignore)] // Might be a half-open connection
    [InlineData(S.SynRecv, Reply, C.Ack, S.SynRecv, T.Move)] // Might answer late resent SYN
    [InlineData(S.Established, Reply, C.Ack, S.Established, T.Move)]
    [InlineData(S.FinWait, Reply, C.Ack, S.CloseWait, T.Move)] // Normal close request answered by ACK
    [InlineData(S.CloseWait, Reply, C.Ack, S.CloseWait, T.Move)]
    [InlineData(S.LastAck, Reply, C.Ack, S.TimeWait, T.Move)] // Last ACK detected
    [InlineData(S.TimeWait, Reply, C.Ack, S.TimeWait, T.Move)] // Retransmitted last ACK
    [InlineData(S.Close, Reply, C.Ack, S.Close, T.Move)]
    [InlineData(S.SynSent2, Reply, C.Ack, S.SynSent2, T.Ignore)]
    // REPLY rst:       sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL
    [InlineData(S.None, Reply, C.Rst, S.None, T.Invalid)]
    [InlineData(S.SynSent, Reply, C.Rst, S.Close, T.Move)]
    [InlineData(S.SynRecv, Reply, C.Rst, S.Close, T.Move)]
    [InlineData(S.Established, Reply, C.Rst, S.Close, T.Move)]
    [InlineData(S.FinWait, Reply, C.Rst, S.Close, T.Move)]
    [InlineData(S.CloseWait, Reply, C.Rst, S.Close, T.Move)]
    [InlineData(S.LastAck, Reply, C.Rst, S.Close, T.Move)]
    [InlineData(S.TimeWait, Reply, C.Rst, S.Close, T.Move)]
    [InlineData(S.Close, Reply, C.Rst, S.Close, T.Move)]
    [InlineData(S.SynSent2, Reply, C.Rst, S.Close, T.Move)]
    // REPLY none:      sIV x 10
    [InlineData(S.None, Reply, C.None, S.None, T.Invalid)]
    [InlineData(S.SynSent, Reply, C.None, S.SynSent, T.Invalid)]
    [InlineData(S.SynRecv, Reply, C.None, S.SynRecv, T.Invalid)]
    [InlineData(S.Established, Reply, C.None, S.Established, T.Invalid)]
    [InlineData(S.FinWait, Reply, C.None, S.FinWait, T.Invalid)]
    [InlineData(S.CloseWait, Reply, C.None, S.CloseWait, T.Invalid)]
    [InlineData(S.LastAck, Reply, C.None, S.LastAck, T.Invalid)]
    [InlineData(S.TimeWait, Reply, C.None, S.TimeWait, T.Invalid)]
    [InlineData(S.Close, Reply, C.None, S.Close, T.Invalid)]
    [InlineData(S.SynSent2, Reply, C.None, S.SynSent2, T.Invalid)]
    public void Next_KernelTableCell_MatchesTranscription(S current, bool reply, C cls, S expected, T expectedKind)
    {
        S next = TcpStateTable.Next(current, reply, cls, out T kind);

        Assert.Equal(expected, next);
        Assert.Equal(expectedKind, kind);
    }

    [Theory]
    [InlineData((byte)10, C.Ack)]
    [InlineData((byte)255, C.Syn)]
    public void Next_UndefinedState_InvalidAndUnchanged(byte state, C cls)
    {
        S next = TcpStateTable.Next((S)state, Orig, cls, out T kind);

        Assert.Equal((S)state, next);
        Assert.Equal(T.Invalid, kind);
    }

    [Fact]
    public void Next_UndefinedClass_InvalidAndUnchanged()
    {
        S next = TcpStateTable.Next(S.Established, Reply, (C)6, out T kind);

        Assert.Equal(S.Established, next);
        Assert.Equal(T.Invalid, kind);
    }

    // ---------------------------------------------------------------- tcp_new

    [Theory]
    [InlineData(SYN, true, true, S.SynSent)]
    [InlineData(SYN, false, true, S.SynSent)]
    [InlineData(SYN | ECE | CWR, false, true, S.SynSent)]
    [InlineData(ACK, true, true, S.Established)] // mid-stream pickup
    [InlineData(PSH | ACK, true, true, S.Established)]
    [InlineData(ACK, false, false, S.None)] // tcp_loose = 0: don't pick up connections
    [InlineData(PSH | ACK, false, false, S.None)]
    [InlineData(FIN | ACK, true, false, S.None)] // ORIGINAL fin from sNO is sIV
    [InlineData(RST, true, false, S.None)] // ORIGINAL rst from sNO is sIV
    [InlineData(RST | ACK, true, false, S.None)]
    [InlineData(SYN | ACK, true, false, S.None)] // ORIGINAL synack from sNO is sIV
    [InlineData(0, true, false, S.None)] // fails tcp_error
    [InlineData(FIN, true, false, S.None)] // fails tcp_error
    [InlineData(SYN | FIN, true, false, S.None)] // fails tcp_error
    public void TryStartNew_FirstPacket_MatchesTcpNew(byte flags, bool loose, bool expectedOk, S expectedInitial)
    {
        bool ok = TcpStateTable.TryStartNew(flags, loose, out S initial);

        Assert.Equal(expectedOk, ok);
        Assert.Equal(expectedInitial, initial);
    }
}
