using UserLB.Engine.Conntrack;
using C = UserLB.Engine.Conntrack.TcpFlagClass;
using S = UserLB.Engine.Conntrack.TcpState;
using T = UserLB.Engine.Conntrack.TcpTransition;

namespace UserLB.Engine.Tests.Conntrack;

public partial class TcpStateTableTests
{
    // ---------------------------------------------------------------- scenarios

    private static S Step(S state, bool reply, byte flags, S expected, T expectedKind = T.Move)
    {
        TcpUpdate u = TcpStateTable.Update(state, reply, flags);
        Assert.Equal(state, u.OldState);
        Assert.Equal(expected, u.NewState);
        Assert.Equal(expectedKind, u.Kind);
        return u.NewState;
    }

    [Fact]
    public void Update_ThreeWayHandshake_ReachesEstablishedAndAssures()
    {
        Assert.True(TcpStateTable.TryStartNew(SYN, loose: false, out S s));
        Assert.Equal(S.SynSent, s);

        s = Step(s, Reply, SYN | ACK, S.SynRecv);

        TcpUpdate ack = TcpStateTable.Update(s, Orig, ACK);
        Assert.Equal(S.Established, ack.NewState);
        Assert.Equal(T.Move, ack.Kind);
        Assert.True(ack.SeenReplyEstablished);
        Assert.True(ack.ShouldSetAssured(seenReplyBefore: true));
        Assert.False(ack.Reopen);
    }

    [Fact]
    public void Update_SynAckFromServer_NotAnAssuredTransition()
    {
        TcpUpdate u = TcpStateTable.Update(S.SynSent, Reply, SYN | ACK);

        Assert.False(u.SeenReplyEstablished);
        Assert.False(u.ShouldSetAssured(seenReplyBefore: true));
    }

    [Fact]
    public void Update_ClientActiveClose_EndsInTimeWait()
    {
        S s = S.Established;
        s = Step(s, Orig, FIN | ACK, S.FinWait);
        s = Step(s, Reply, ACK, S.CloseWait);
        s = Step(s, Reply, FIN | ACK, S.LastAck);
        s = Step(s, Orig, ACK, S.TimeWait);
        Step(s, Orig, ACK, S.TimeWait); // retransmitted last ACK
    }

    [Fact]
    public void Update_ServerActiveClose_PassesCloseWaitAndLastAck()
    {
        S s = S.Established;
        s = Step(s, Reply, FIN | ACK, S.FinWait);
        s = Step(s, Orig, ACK, S.CloseWait);
        s = Step(s, Orig, PSH | ACK, S.CloseWait); // half-closed: client still sends data
        s = Step(s, Orig, FIN | ACK, S.LastAck);
        s = Step(s, Orig, FIN | ACK, S.LastAck); // retransmitted FIN
        Step(s, Reply, ACK, S.TimeWait);
    }

    [Fact]
    public void Update_SimultaneousClose_FinFinAckEndsInTimeWait()
    {
        S s = S.Established;
        s = Step(s, Orig, FIN | ACK, S.FinWait);
        s = Step(s, Reply, FIN | ACK, S.LastAck);
        Step(s, Orig, ACK, S.TimeWait);
    }

    [Fact]
    public void Update_SimultaneousOpen_GoesThroughSynSent2()
    {
        Assert.True(TcpStateTable.TryStartNew(SYN, loose: false, out S s));
        s = Step(s, Reply, SYN, S.SynSent2);
        s = Step(s, Reply, SYN, S.SynSent2); // retransmitted simultaneous SYN
        s = Step(s, Orig, SYN, S.SynSent2); // late retransmitted SYN
        s = Step(s, Orig, SYN | ACK, S.SynRecv);
        s = Step(s, Orig, SYN | ACK, S.SynRecv); // late retransmitted SYN/ACK in simultaneous open
        s = Step(s, Reply, SYN | ACK, S.SynRecv, T.Ignore);
        Step(s, Orig, ACK, S.Established);
    }

    [Fact]
    public void Update_SimultaneousOpenReplySynAckFromSynSent2_MovesToSynRecv()
    {
        Step(S.SynSent2, Reply, SYN | ACK, S.SynRecv);
    }

    [Fact]
    public void Update_ReplyAckInSynRecv_StaysSynRecv()
    {
        // Kernel turns this into ESTABLISHED only after a simultaneous open (flag not tracked here).
        TcpUpdate u = TcpStateTable.Update(S.SynRecv, Reply, ACK);

        Assert.Equal(S.SynRecv, u.NewState);
        Assert.Equal(T.Move, u.Kind);
        Assert.False(u.SeenReplyEstablished);
    }

    [Theory]
    [InlineData(S.SynSent, Orig)]
    [InlineData(S.SynSent, Reply)]
    [InlineData(S.SynRecv, Orig)]
    [InlineData(S.SynRecv, Reply)]
    [InlineData(S.Established, Orig)]
    [InlineData(S.Established, Reply)]
    [InlineData(S.FinWait, Orig)]
    [InlineData(S.FinWait, Reply)]
    [InlineData(S.CloseWait, Orig)]
    [InlineData(S.CloseWait, Reply)]
    [InlineData(S.LastAck, Orig)]
    [InlineData(S.LastAck, Reply)]
    [InlineData(S.TimeWait, Orig)]
    [InlineData(S.TimeWait, Reply)]
    [InlineData(S.Close, Orig)]
    [InlineData(S.Close, Reply)]
    [InlineData(S.SynSent2, Orig)]
    [InlineData(S.SynSent2, Reply)]
    public void Update_RstFromEitherSide_MovesToClose(S state, bool reply)
    {
        TcpUpdate rst = TcpStateTable.Update(state, reply, RST);
        TcpUpdate rstAck = TcpStateTable.Update(state, reply, RST | ACK);

        Assert.Equal(S.Close, rst.NewState);
        Assert.Equal(T.Move, rst.Kind);
        Assert.Equal(C.Rst, rst.FlagClass);
        Assert.Equal(S.Close, rstAck.NewState);
        Assert.Equal(T.Move, rstAck.Kind);
        Assert.False(rst.Reopen);
    }

    [Fact]
    public void Update_RstAnsweringSyn_DeletedWhenNoReplySeen()
    {
        TcpUpdate u = TcpStateTable.Update(S.SynSent, Reply, RST | ACK);

        Assert.Equal(S.Close, u.NewState);
        Assert.True(u.ShouldDeleteOnRst(seenReplyBefore: false));
        Assert.False(u.ShouldDeleteOnRst(seenReplyBefore: true));
    }

    [Theory]
    [InlineData(S.TimeWait, Orig)]
    [InlineData(S.Close, Orig)]
    [InlineData(S.TimeWait, Reply)] // "server may have switched role"
    public void Update_SynInTimeWaitOrClose_Reopens(S state, bool reply)
    {
        TcpUpdate u = TcpStateTable.Update(state, reply, SYN);

        Assert.True(u.Reopen);
        Assert.Equal(T.Move, u.Kind);
        Assert.Equal(S.SynSent, u.NewState);
        Assert.Equal(state, u.OldState);
        Assert.False(u.ShouldRefreshTimeout(seenReplyBefore: true));
    }

    [Theory]
    [InlineData(S.Close, Reply, SYN, T.Invalid)]
    [InlineData(S.TimeWait, Orig, SYN | ACK, T.Invalid)]
    [InlineData(S.TimeWait, Reply, SYN | ACK, T.Ignore)]
    [InlineData(S.Established, Orig, SYN, T.Ignore)]
    [InlineData(S.SynSent, Orig, SYN, T.Move)]
    [InlineData(S.None, Orig, SYN, T.Move)]
    public void Update_SynOutsideTimeWaitOrClose_NoReopen(S state, bool reply, byte flags, T expectedKind)
    {
        TcpUpdate u = TcpStateTable.Update(state, reply, flags);

        Assert.False(u.Reopen);
        Assert.Equal(expectedKind, u.Kind);
    }

    [Fact]
    public void Update_RetransmittedSynInSynSent_StaysWithoutRefreshingTimer()
    {
        TcpUpdate u = TcpStateTable.Update(S.SynSent, Orig, SYN);

        Assert.Equal(S.SynSent, u.NewState);
        Assert.Equal(T.Move, u.Kind);
        Assert.False(u.Reopen);
        Assert.False(u.StateChanged);
        Assert.False(u.ShouldRefreshTimeout(seenReplyBefore: false));
        Assert.True(u.ShouldRefreshTimeout(seenReplyBefore: true));
    }

    [Fact]
    public void Update_SynInEstablished_IgnoredStateKept()
    {
        TcpUpdate u = TcpStateTable.Update(S.Established, Orig, SYN);

        Assert.Equal(T.Ignore, u.Kind);
        Assert.Equal(S.Established, u.NewState);
        Assert.False(u.ShouldRefreshTimeout(seenReplyBefore: true));
    }

    [Fact]
    public void Update_StrayAckMidStream_PickedUpThenAssuredAfterBothDirections()
    {
        Assert.True(TcpStateTable.TryStartNew(PSH | ACK, loose: true, out S s));
        Assert.Equal(S.Established, s);

        // First reply packet: SEEN_REPLY is only set after it is processed, so no ASSURED yet.
        TcpUpdate reply = TcpStateTable.Update(s, Reply, ACK);
        Assert.Equal(S.Established, reply.NewState);
        Assert.True(reply.SeenReplyEstablished);
        Assert.False(reply.ShouldSetAssured(seenReplyBefore: false));

        TcpUpdate next = TcpStateTable.Update(s, Orig, PSH | ACK);
        Assert.True(next.ShouldSetAssured(seenReplyBefore: true));
    }

    [Fact]
    public void Update_AckInNoneOriginal_EstablishedButNotAssuredTransition()
    {
        TcpUpdate u = TcpStateTable.Update(S.None, Orig, ACK);

        Assert.Equal(S.Established, u.NewState);
        Assert.False(u.SeenReplyEstablished);
    }

    [Theory]
    [InlineData(S.SynRecv, Orig, FIN | ACK)]
    [InlineData(S.Established, Orig, FIN | ACK)]
    [InlineData(S.Established, Orig, RST)]
    [InlineData(S.SynRecv, Reply, ACK)]
    [InlineData(S.Established, Reply, SYN | ACK)]
    public void Update_NotSynRecvOrEstablishedToEstablished_NoAssuredHint(S state, bool reply, byte flags)
    {
        Assert.False(TcpStateTable.Update(state, reply, flags).SeenReplyEstablished);
    }

    [Theory]
    [InlineData(S.Established, Orig, SYN | FIN)]
    [InlineData(S.Established, Reply, 0)]
    [InlineData(S.Established, Orig, FIN)]
    [InlineData(S.SynSent, Reply, SYN | RST)]
    [InlineData(S.TimeWait, Orig, SYN | FIN)]
    public void Update_InvalidFlagCombination_InvalidAndUnchanged(S state, bool reply, byte flags)
    {
        TcpUpdate u = TcpStateTable.Update(state, reply, flags);

        Assert.Equal(T.Invalid, u.Kind);
        Assert.Equal(state, u.NewState);
        Assert.False(u.Reopen);
        Assert.False(u.ShouldDeleteOnRst(seenReplyBefore: false));
    }

    [Fact]
    public void Update_AckInSynSentFromClient_Invalid()
    {
        Step(S.SynSent, Orig, ACK, S.SynSent, T.Invalid);
    }

    [Fact]
    public void Update_HotPath_DoesNotAllocate()
    {
        // Warm up the very same body until tiering (and on-stack replacement) is done: JIT work on this thread
        // could otherwise show up as allocation on a busy machine.
        long sink = 0;
        for (int round = 0; round < 4; round++) sink += HotPathBody(100_000);

        // The least of three runs: an allocation in the body shows in every run, a one-off JIT allocation in one.
        long allocated = long.MaxValue;
        for (int run = 0; run < 3; run++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            sink += HotPathBody(100_000);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, allocated);
        Assert.NotEqual(0, sink);
    }

    private static long HotPathBody(int n)
    {
        ReadOnlySpan<byte> flags = [SYN, SYN | ACK, ACK, PSH | ACK, FIN | ACK, RST, 0, SYN | FIN];
        long sink = 0;
        for (int i = 0; i < n; i++)
        {
            TcpUpdate u = TcpStateTable.Update((S)(i % 10), (i & 1) != 0, flags[i % flags.Length]);
            sink += (long)u.NewState + u.NewState.ToConntrackName().Length;
            sink += TcpStateTable.TryStartNew(flags[i % flags.Length], true, out S s) ? (long)s : 0;
        }
        return sink;
    }
}
