using System.Buffers.Binary;

namespace UserLB.Engine.Conntrack;

/// <summary>SCTP conntrack states, in the kernel's order (<c>enum sctp_conntrack</c>, Linux 6.x: no HEARTBEAT_ACKED).</summary>
public enum SctpState : byte
{
    None = 0,
    Closed = 1,
    CookieWait = 2,
    CookieEchoed = 3,
    Established = 4,
    ShutdownSent = 5,
    ShutdownRecd = 6,
    ShutdownAckSent = 7,
    HeartbeatSent = 8,
}

/// <summary>What one SCTP packet did to its connection's state.</summary>
public enum SctpVerdict : byte
{
    /// <summary>Tracked: the state is the new one; refresh the timeout.</summary>
    Ok,
    /// <summary>Tracked, but the timeout is not refreshed (an INIT retransmitted on a CLOSED entry).</summary>
    NoRefresh,
    /// <summary>INVALID: malformed chunks, a chunk the state does not allow, or a new flow that cannot start here.</summary>
    Invalid,
}

/// <summary>
/// nf_conntrack_proto_sctp.c's state machine: a [direction][chunk][state] table walked for every chunk of a packet
/// (<c>sctp_new_state</c>), the chunk checks of <c>do_basic_checks</c> and the rules for a packet that starts a flow
/// (<c>sctp_new</c>: no ABORT, SHUTDOWN_COMPLETE or COOKIE_ACK; every chunk must be able to open one). The kernel also
/// checks verification tags; this table does not (left to the endpoints).
/// </summary>
public static class SctpStateTable
{
    private const byte Iv = 9; // sIV: invalid in this state
    private const int States = 9, Chunks = 11, HeaderLength = 12;

    // Chunk types (RFC 9260 §3.2).
    public const byte Init = 1, InitAck = 2, Heartbeat = 4, HeartbeatAck = 5, Abort = 6, Shutdown = 7, ShutdownAck = 8,
        Error = 9, CookieEcho = 10, CookieAck = 11, ShutdownComplete = 14;

    // Rows: init, init_ack, abort, shutdown, shutdown_ack, error, cookie_echo, cookie_ack, shutdown_comp, heartbeat,
    // heartbeat_ack; columns: NONE, CLOSED, COOKIE_WAIT, COOKIE_ECHOED, ESTABLISHED, SHUTDOWN_SENT, SHUTDOWN_RECD,
    // SHUTDOWN_ACK_SENT, HEARTBEAT_SENT. As sctp_conntracks[2][11][SCTP_CONNTRACK_MAX] in Linux 6.x.
    private static ReadOnlySpan<byte> Table =>
    [
        // original direction
        1, 1, 2, 3, 4, 1, 1, 7, 2,
        1, 1, 2, 3, 4, 5, 6, 7, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 2, 3, 5, 5, 6, 7, 1,
        7, 1, 2, 3, 4, 7, 7, 7, 7,
        1, 1, 2, 3, 4, 5, 6, 7, 1,
        1, 1, 3, 3, 4, 5, 6, 7, 1,
        1, 1, 2, 4, 4, 5, 6, 7, 1,
        1, 1, 2, 3, 4, 5, 6, 1, 1,
        8, 1, 2, 3, 4, 5, 6, 7, 8,
        1, 1, 2, 3, 4, 5, 6, 7, 8,
        // reply direction
        Iv, 1, 2, 3, 4, 5, 6, 7, Iv,
        Iv, 2, 2, 3, 4, 5, 6, 7, Iv,
        Iv, 1, 1, 1, 1, 1, 1, 1, Iv,
        Iv, 1, 2, 3, 6, 5, 6, 7, Iv,
        Iv, 1, 2, 3, 4, 7, 7, 7, Iv,
        Iv, 1, 2, 1, 4, 5, 6, 7, Iv,
        Iv, 1, 3, 3, 4, 5, 6, 7, Iv,
        Iv, 1, 2, 4, 4, 5, 6, 7, Iv,
        Iv, 1, 2, 3, 4, 5, 6, 1, Iv,
        Iv, 1, 2, 3, 4, 5, 6, 7, 8,
        Iv, 1, 2, 3, 4, 5, 6, 7, 4,
    ];

    /// <summary>The kernel's name (<c>sctp_conntrack_names</c>), as <c>conntrack -L</c> prints it; interned, no allocation.</summary>
    public static string ToConntrackName(this SctpState state) => state switch
    {
        SctpState.None => "NONE",
        SctpState.Closed => "CLOSED",
        SctpState.CookieWait => "COOKIE_WAIT",
        SctpState.CookieEchoed => "COOKIE_ECHOED",
        SctpState.Established => "ESTABLISHED",
        SctpState.ShutdownSent => "SHUTDOWN_SENT",
        SctpState.ShutdownRecd => "SHUTDOWN_RECD",
        SctpState.ShutdownAckSent => "SHUTDOWN_ACK_SENT",
        SctpState.HeartbeatSent => "HEARTBEAT_SENT",
        _ => "UNKNOWN",
    };

    /// <summary>The row of a chunk type, or -1 for chunks that do not change the state (DATA, SACK, …).</summary>
    private static int Row(byte chunkType) => chunkType switch
    {
        Init => 0,
        InitAck => 1,
        Abort => 2,
        Shutdown => 3,
        ShutdownAck => 4,
        Error => 5,
        CookieEcho => 6,
        CookieAck => 7,
        ShutdownComplete => 8,
        Heartbeat => 9,
        HeartbeatAck => 10,
        _ => -1,
    };

    /// <summary>The state after one chunk (<c>sctp_new_state</c>); <see cref="SctpVerdict.Invalid"/> when the table says sIV.</summary>
    public static bool TryNext(bool reply, SctpState state, byte chunkType, out SctpState next)
    {
        int row = Row(chunkType);
        if (row < 0 || (uint)state >= States)
        {
            next = state;
            return (uint)state < States;
        }
        byte s = Table[((reply ? 1 : 0) * Chunks + row) * States + (int)state];
        next = (SctpState)s;
        return s != Iv;
    }

    /// <summary>
    /// Tracks one packet (<paramref name="sctp"/>: the SCTP header and its chunks): moves <paramref name="state"/> chunk by
    /// chunk. <paramref name="isNew"/>: the packet would create the entry (then <paramref name="state"/> starts at NONE).
    /// Returns the verdict; <paramref name="established"/> is set when a chunk moved the state to ESTABLISHED (ASSURED).
    /// </summary>
    public static SctpVerdict Track(ReadOnlySpan<byte> sctp, bool reply, bool isNew, ref SctpState state, out bool established)
    {
        established = false;
        if (sctp.Length < HeaderLength) return SctpVerdict.Invalid;
        // do_basic_checks: INIT, INIT_ACK and SHUTDOWN_COMPLETE alone in their packet; COOKIE_ECHO/ACK first; no empty chunk.
        int count = 0;
        bool alone = false, forbiddenNew = false, init = false;
        for (int offset = HeaderLength; offset + 4 <= sctp.Length; count++)
        {
            byte type = sctp[offset];
            int length = BinaryPrimitives.ReadUInt16BigEndian(sctp[(offset + 2)..]);
            if (type is Init or InitAck or ShutdownComplete) alone = true;
            if (((type is CookieAck or CookieEcho || alone) && count != 0) || length == 0) return SctpVerdict.Invalid;
            if (type is Abort or ShutdownComplete or CookieAck) forbiddenNew = true;
            if (type == Init) init = true;
            if (isNew && (!TryNext(false, SctpState.None, type, out var first) || first == SctpState.None)) return SctpVerdict.Invalid;
            offset += (length + 3) & ~3;
        }
        if (count == 0 || (isNew && forbiddenNew)) return SctpVerdict.Invalid;
        if (isNew) state = SctpState.None;
        var old = state;
        var current = state;
        for (int offset = HeaderLength; offset + 4 <= sctp.Length;)
        {
            byte type = sctp[offset];
            int length = BinaryPrimitives.ReadUInt16BigEndian(sctp[(offset + 2)..]);
            old = current;
            if (!TryNext(reply, current, type, out current)) return SctpVerdict.Invalid;
            if (current == SctpState.Established && old != SctpState.Established) established = true;
            offset += (length + 3) & ~3;
        }
        state = current;
        // An INIT retransmitted on a CLOSED entry keeps its timeout, so a reused client port cannot keep it alive forever.
        return init && !isNew && old == SctpState.Closed && current == SctpState.Closed ? SctpVerdict.NoRefresh : SctpVerdict.Ok;
    }
}
