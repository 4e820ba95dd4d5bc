// TCP connection tracking state machine, transcribed from Linux net/netfilter/nf_conntrack_proto_tcp.c
// (tcp_conntracks[2][6][TCP_CONNTRACK_MAX], get_conntrack_index, tcp_valid_flags/tcp_error, tcp_new and the
// state-only parts of nf_conntrack_tcp_packet), as of the current mainline table (the one with
// "REPLY syn: sTW -> sSS, server may have switched role" and "ORIGINAL synack: sSR -> sSR").
//
// Simplifications vs the kernel (we track no sequence numbers, windows or per-direction flags):
//  * No window tracking (tcp_in_window) at all: every packet is treated as in-window, as with
//    nf_conntrack_tcp_be_liberal=1, and additionally RST segments are never rejected as out of window
//    (the kernel still checks a RST's sequence number against td_maxack even when liberal). A RST in any
//    state but NONE therefore moves to CLOSE.
//  * Reopen (SYN that the table maps to SYN_SENT from TIME_WAIT or CLOSE): the kernel only destroys the
//    entry and re-tracks when a FIN was seen earlier (IP_CT_TCP_FLAG_CLOSE_INIT) or the last in-window
//    packet was a RST in the same direction; otherwise it ignores the SYN. TIME_WAIT always implies a FIN was
//    seen, so that case is exact; for CLOSE we always report Reopen.
//  * Ignored packets never re-synchronise: the kernel's "SYN/ACK acknowledging a SYN we ignored" recovery
//    (forcing SYN_SENT -> SYN_RECV) needs the ignored SYN's sequence number, so here the state stays put.
//  * Simultaneous open: the kernel remembers IP_CT_TCP_SIMULTANEOUS_OPEN on entering SYN_SENT2 and then
//    turns a reply-direction ACK in SYN_RECV into ESTABLISHED. We do not keep that bit: such an ACK leaves
//    SYN_RECV (the table value); the first original-direction ACK still establishes the connection.
//  * RFC 5961 challenge-ACK handling (ACK in LAST_ACK that answers an ignored SYN is not taken as the last
//    ACK) is not reproduced: the table's LAST_ACK -> TIME_WAIT applies.
//  * The synproxy keep-alive special case is not reproduced.
//  * Timeout selection details that depend on sequence tracking (retransmission counter, unacknowledged
//    data, zero window) are left to the caller; see ConntrackTimeoutSettings.
namespace UserLB.Engine.Conntrack;

/// <summary>Flag class of a segment: the kernel's <c>enum tcp_bit_set</c>, the middle index of the table.</summary>
public enum TcpFlagClass : byte
{
    Syn = 0,
    SynAck = 1,
    Fin = 2,
    Ack = 3,
    Rst = 4,
    None = 5,
}

/// <summary>What the table says about a segment.</summary>
public enum TcpTransition : byte
{
    /// <summary>Valid: the connection moves to (or stays in) the table's state.</summary>
    Move = 0,

    /// <summary>sIG: may be valid or not; the packet passes but the state is unchanged and the timer is not refreshed.</summary>
    Ignore = 1,

    /// <summary>sIV: invalid packet (conntrack marks it INVALID); state unchanged.</summary>
    Invalid = 2,
}

/// <summary>Result of <see cref="TcpStateTable.Update"/>. Six bytes, no references.</summary>
public readonly struct TcpUpdate
{
    private const byte ReopenBit = 1;
    private const byte SeenReplyEstablishedBit = 2;

    private readonly byte _bits;

    internal TcpUpdate(TcpState oldState, TcpState newState, TcpTransition kind, TcpFlagClass flagClass, byte bits)
    {
        OldState = oldState;
        NewState = newState;
        Kind = kind;
        FlagClass = flagClass;
        _bits = bits;
    }

    /// <summary>State before the packet.</summary>
    public TcpState OldState { get; }

    /// <summary>
    /// State after the packet. Equal to <see cref="OldState"/> unless <see cref="Kind"/> is
    /// <see cref="TcpTransition.Move"/>. When <see cref="Reopen"/> is set it is <see cref="TcpState.SynSent"/>,
    /// the state of the new connection.
    /// </summary>
    public TcpState NewState { get; }

    public TcpTransition Kind { get; }

    public TcpFlagClass FlagClass { get; }

    /// <summary>
    /// A SYN hit TIME_WAIT or CLOSE and the table maps it to SYN_SENT (original direction in TIME_WAIT or
    /// CLOSE, or reply direction in TIME_WAIT: "server may have switched role"). The kernel destroys the old
    /// entry and tracks the packet as a new connection (NF_REPEAT): the caller must drop the old flow and
    /// create a new one whose original direction is this packet's direction, starting in
    /// <see cref="TcpState.SynSent"/>.
    /// </summary>
    public bool Reopen => (_bits & ReopenBit) != 0;

    /// <summary>
    /// The kernel's ASSURED transition: a valid packet moved the connection from SYN_RECV or ESTABLISHED to
    /// ESTABLISHED. The kernel sets ASSURED on it only if the entry had already seen a reply packet before
    /// this one (IPS_SEEN_REPLY, which the core sets after the TCP handler returns); see
    /// <see cref="ShouldSetAssured"/>. For a normal handshake that is the client's ACK of the SYN/ACK; for a
    /// mid-stream pickup it is the first packet after traffic was seen in both directions.
    /// </summary>
    public bool SeenReplyEstablished => (_bits & SeenReplyEstablishedBit) != 0;

    public bool StateChanged => NewState != OldState;

    /// <summary>Kernel rule for setting ASSURED. <paramref name="seenReplyBefore"/>: the flow had seen a reply-direction packet before this one.</summary>
    public bool ShouldSetAssured(bool seenReplyBefore) => seenReplyBefore && SeenReplyEstablished;

    /// <summary>
    /// Kernel rule "if only reply is a RST ... delete the conntrack immediately": a RST was accepted while the
    /// flow had never seen a reply packet (e.g. the server's RST answering the SYN).
    /// </summary>
    public bool ShouldDeleteOnRst(bool seenReplyBefore) =>
        !seenReplyBefore && Kind == TcpTransition.Move && FlagClass == TcpFlagClass.Rst;

    /// <summary>
    /// Whether the kernel refreshes the entry's timer: only for valid (Move) packets, and not for a SYN
    /// retransmitted in SYN_SENT before any reply (so port reuse cannot keep a dead entry alive).
    /// A reopened flow gets a fresh entry and timer instead.
    /// </summary>
    public bool ShouldRefreshTimeout(bool seenReplyBefore) =>
        Kind == TcpTransition.Move
        && !Reopen
        && !(!seenReplyBefore && FlagClass == TcpFlagClass.Syn && OldState == TcpState.SynSent);
}

/// <summary>
/// The kernel's TCP conntrack state machine (<c>tcp_conntracks</c>) as data. All members are allocation- and
/// exception-free and safe to call concurrently.
/// </summary>
public static class TcpStateTable
{
    public const int StateCount = 10;
    public const int ClassCount = 6;

    private const byte FlagFin = 0x01;
    private const byte FlagSyn = 0x02;
    private const byte FlagRst = 0x04;
    private const byte FlagPsh = 0x08;
    private const byte FlagAck = 0x10;
    private const byte FlagUrg = 0x20;
    private const byte FlagEce = 0x40;
    private const byte FlagCwr = 0x80;

    // Cell values: 0..9 are TcpState values; these two are the kernel's sIV (TCP_CONNTRACK_MAX) and sIG.
    private const byte sNO = (byte)TcpState.None;
    private const byte sSS = (byte)TcpState.SynSent;
    private const byte sSR = (byte)TcpState.SynRecv;
    private const byte sES = (byte)TcpState.Established;
    private const byte sFW = (byte)TcpState.FinWait;
    private const byte sCW = (byte)TcpState.CloseWait;
    private const byte sLA = (byte)TcpState.LastAck;
    private const byte sTW = (byte)TcpState.TimeWait;
    private const byte sCL = (byte)TcpState.Close;
    private const byte sS2 = (byte)TcpState.SynSent2;
    private const byte sIV = 10;
    private const byte sIG = 11;

    /// <summary>[dir][class][state], flattened: index = ((dir * 6) + class) * 10 + state. Static PE data, no array.</summary>
    private static ReadOnlySpan<byte> Table =>
    [
        // ORIGINAL
        //        sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2
        /*syn*/   sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2,
        /*synack*/sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR,
        /*fin*/   sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
        /*ack*/   sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV,
        /*rst*/   sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
        /*none*/  sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,

        // REPLY
        //        sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2
        /*syn*/   sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2,
        /*synack*/sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR,
        /*fin*/   sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
        /*ack*/   sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG,
        /*rst*/   sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
        /*none*/  sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
    ];

    /// <summary>
    /// tcp_valid_flags: bit n set when the combination n of FIN|SYN|RST|ACK|URG is acceptable
    /// (PSH, ECE and CWR are always allowed and masked off first).
    /// </summary>
    private const ulong ValidFlagCombinations =
        (1UL << FlagSyn)
        | (1UL << (FlagSyn | FlagUrg))
        | (1UL << (FlagSyn | FlagAck))
        | (1UL << FlagRst)
        | (1UL << (FlagRst | FlagAck))
        | (1UL << (FlagFin | FlagAck))
        | (1UL << (FlagFin | FlagAck | FlagUrg))
        | (1UL << FlagAck)
        | (1UL << (FlagAck | FlagUrg));

    private const byte ValidityMask = unchecked((byte)~(FlagEce | FlagCwr | FlagPsh));

    /// <summary>The kernel's get_conntrack_index: RST first, then SYN (with or without ACK), FIN, ACK, else none.</summary>
    public static TcpFlagClass Classify(byte tcpFlags)
    {
        if ((tcpFlags & FlagRst) != 0)
        {
            return TcpFlagClass.Rst;
        }

        if ((tcpFlags & FlagSyn) != 0)
        {
            return (tcpFlags & FlagAck) != 0 ? TcpFlagClass.SynAck : TcpFlagClass.Syn;
        }

        if ((tcpFlags & FlagFin) != 0)
        {
            return TcpFlagClass.Fin;
        }

        return (tcpFlags & FlagAck) != 0 ? TcpFlagClass.Ack : TcpFlagClass.None;
    }

    /// <summary>
    /// The kernel's tcp_error flag check (tcp_valid_flags): SYN, SYN|URG, SYN|ACK, RST, RST|ACK, FIN|ACK,
    /// FIN|ACK|URG, ACK, ACK|URG, each optionally with PSH/ECE/CWR. Anything else (no flags, FIN alone,
    /// SYN|FIN, SYN|RST, ...) is INVALID before the state table is consulted.
    /// </summary>
    public static bool IsValidFlagCombination(byte tcpFlags) =>
        ((ValidFlagCombinations >> (tcpFlags & ValidityMask)) & 1UL) != 0;

    /// <summary>
    /// One table lookup: <c>tcp_conntracks[reply][cls][current]</c>. sIV gives <see cref="TcpTransition.Invalid"/>
    /// and sIG <see cref="TcpTransition.Ignore"/>, both returning <paramref name="current"/> unchanged.
    /// Out-of-range inputs are Invalid.
    /// </summary>
    public static TcpState Next(TcpState current, bool reply, TcpFlagClass cls, out TcpTransition kind)
    {
        uint state = (uint)current;
        uint flagClass = (uint)cls;
        if (state >= StateCount || flagClass >= ClassCount)
        {
            kind = TcpTransition.Invalid;
            return current;
        }

        uint index = (((reply ? (uint)ClassCount : 0u) + flagClass) * StateCount) + state;
        byte cell = Table[(int)index];
        if (cell < StateCount)
        {
            kind = TcpTransition.Move;
            return (TcpState)cell;
        }

        kind = cell == sIG ? TcpTransition.Ignore : TcpTransition.Invalid;
        return current;
    }

    /// <summary>
    /// Per-packet update of an existing flow (the state part of nf_conntrack_tcp_packet, see the file header
    /// for what is simplified): invalid flag combinations are Invalid, then the table decides; Reopen and the
    /// ASSURED hint are derived as the kernel does. New flows go through <see cref="TryStartNew"/> instead.
    /// </summary>
    public static TcpUpdate Update(TcpState current, bool reply, byte tcpFlags)
    {
        TcpFlagClass cls = Classify(tcpFlags);
        if (!IsValidFlagCombination(tcpFlags))
        {
            return new TcpUpdate(current, current, TcpTransition.Invalid, cls, 0);
        }

        TcpState next = Next(current, reply, cls, out TcpTransition kind);
        byte bits = 0;
        if (kind == TcpTransition.Move)
        {
            // Kernel: new_state == SYN_SENT && old_state >= TIME_WAIT (only TIME_WAIT and CLOSE can map to
            // SYN_SENT there) -> nf_ct_kill + NF_REPEAT.
            if (next == TcpState.SynSent && current is TcpState.TimeWait or TcpState.Close)
            {
                bits |= 1;
            }
            else if (next == TcpState.Established && current is TcpState.SynRecv or TcpState.Established)
            {
                bits |= 2;
            }
        }

        return new TcpUpdate(current, next, kind, cls, bits);
    }

    /// <summary>
    /// The kernel's tcp_new for the first packet of an untracked flow (original direction by definition):
    /// the flags must pass tcp_error, then <c>tcp_conntracks[ORIGINAL][class][NONE]</c> must be valid. That is
    /// SYN (SYN_SENT, always allowed) or ACK without SYN/FIN/RST (ESTABLISHED: mid-stream pickup, only when
    /// <paramref name="loose"/>, nf_conntrack_tcp_loose). SYN/ACK, FIN, RST and anything else cannot start a
    /// flow. <paramref name="initial"/> is the state after this first packet (None when false).
    /// </summary>
    public static bool TryStartNew(byte tcpFlags, bool loose, out TcpState initial)
    {
        initial = TcpState.None;
        if (!IsValidFlagCombination(tcpFlags))
        {
            return false;
        }

        TcpState next = Next(TcpState.None, reply: false, Classify(tcpFlags), out TcpTransition kind);
        if (kind != TcpTransition.Move)
        {
            return false;
        }

        if (next != TcpState.SynSent && !loose)
        {
            return false;
        }

        initial = next;
        return true;
    }
}
