using UserLB.Engine.Conntrack;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

public class TcpFlowTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr"STRICT,
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private const long T0 = 10 * S;

    private static string Config(bool strict = false) => Farm.Replace("STRICT", strict ? ",\"tcp-strict\":\"on\"" : "");

    private static byte[] FromClient(byte flags, ushort sport = 40000) =>
        Tcp(ClientMac, "192.168.101.1", "192.168.101.250", sport, 443, flags);

    private static byte[] FromBackend(byte flags, string backend = "192.168.1.10", ushort dport = 40000) =>
        Tcp(backend == "192.168.1.10" ? Bck0Mac : Bck1Mac, backend, "192.168.101.250", 443, dport, flags);

    private static byte Flags(string f) => f switch
    {
        "S" => Syn,
        "SA" => Syn | Ack,
        "A" => Ack,
        "PA" => Psh | Ack,
        "FA" => Fin | Ack,
        "R" => Rst,
        "RA" => Rst | Ack,
        _ => throw new ArgumentException(f),
    };

    /// <summary>Plays "c:S,b:SA,c:A" (c = client, b = backend bck0), 1 ms apart from T0; returns the time of the last step.</summary>
    private static long Play(EngineHarness h, string steps)
    {
        long t = T0;
        foreach (var step in steps.Split(','))
        {
            var parts = step.Split(':');
            byte flags = Flags(parts[1]);
            h.Forward(parts[0] == "c" ? FromClient(flags) : FromBackend(flags), t);
            t += Ms;
        }
        return t - Ms;
    }

    [Theory]
    [InlineData("c:S", TcpState.SynSent, 120, false)]
    [InlineData("c:S,b:SA", TcpState.SynRecv, 60, false)]
    [InlineData("c:S,b:SA,c:A", TcpState.Established, 432_000, true)]
    [InlineData("c:S,b:SA,c:A,c:PA,b:PA", TcpState.Established, 432_000, true)]
    [InlineData("c:S,b:SA,c:A,c:R", TcpState.Close, 10, true)]
    [InlineData("c:S,b:SA,c:A,b:RA", TcpState.Close, 10, true)]
    [InlineData("c:S,b:SA,c:A,c:FA", TcpState.FinWait, 120, true)]
    [InlineData("c:S,b:SA,c:A,c:FA,b:A", TcpState.CloseWait, 60, true)]
    [InlineData("c:S,b:SA,c:A,c:FA,b:A,b:FA", TcpState.LastAck, 30, true)]
    [InlineData("c:S,b:SA,c:A,c:FA,b:A,b:FA,c:A", TcpState.TimeWait, 120, true)]
    [InlineData("c:A", TcpState.Established, 300, false)] // loose pickup: capped at the unacknowledged timeout until a reply
    public void Process_TcpSteps_StateAndTimeoutAsKernel(string steps, TcpState state, long timeoutSeconds, bool assured)
    {
        var h = new EngineHarness(Config());
        h.LearnBackends();
        long last = Play(h, steps);
        var e = h.SingleEntry();
        Assert.Equal(state, e.TcpState);
        Assert.Equal(last + timeoutSeconds * S, e.ExpiresNs);
        Assert.Equal(assured, e.Assured);
        Assert.Equal(1, h.Counters.NewFlows);
    }

    [Fact]
    public void Process_SynRetransmittedInSynSent_TimerNotRefreshed()
    {
        var h = new EngineHarness(Config());
        h.LearnBackends();
        h.Forward(FromClient(Syn), T0);
        var again = h.Forward(FromClient(Syn), T0 + 3 * S);
        Assert.Equal("192.168.1.10", Dst(again));
        var e = h.SingleEntry();
        Assert.Equal(TcpState.SynSent, e.TcpState);
        Assert.Equal(T0 + 120 * S, e.ExpiresNs);
        Assert.Equal(2UL, e.OriginalPackets);
    }

    [Fact]
    public void Process_SynOnTimeWaitEntry_ReopensAsNewConnection()
    {
        var h = new EngineHarness(Config());
        h.LearnBackends();
        long t = Play(h, "c:S,b:SA,c:A,c:FA,b:A,b:FA,c:A");
        var old = h.SingleEntry();
        Assert.Equal(TcpState.TimeWait, old.TcpState);

        var syn = h.Forward(FromClient(Syn), t + S);
        Assert.Equal("192.168.1.11", Dst(syn)); // rr's next backend: a new connection was scheduled
        var e = h.SingleEntry();
        Assert.NotEqual(old.Id, e.Id);
        Assert.Equal(TcpState.SynSent, e.TcpState);
        Assert.Equal(h.BackendId("app", "bck1"), e.BackendId);
        Assert.Equal(t + S + 120 * S, e.ExpiresNs);
        Assert.False(e.Assured);
        Assert.Equal(2, h.Counters.NewFlows);
    }

    [Fact]
    public void Process_ReplySynOnTimeWaitEntry_OldEntryDestroyedNotForwarded()
    {
        // Kernel (nf_conntrack_tcp_packet): SYN mapping TIME_WAIT to SYN_SENT in either direction kills the entry and
        // re-tracks the packet as a new connection in its own direction; from the backend to VIP:40000 no farm takes it.
        var h = new EngineHarness(Config());
        h.LearnBackends();
        long t = Play(h, "c:S,b:SA,c:A,c:FA,b:A,b:FA,c:A");
        Assert.Equal(TcpState.TimeWait, h.SingleEntry().TcpState);
        var sent = h.Process(FromBackend(Syn), t + S);
        Assert.Empty(sent);
        Assert.Empty(h.LiveEntries());
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.NoFarm]);
    }

    [Fact]
    public void Process_RstFromBackendBeforeAnyReply_EntryDestroyedAndRstRelayed()
    {
        var h = new EngineHarness(Config());
        h.LearnBackends();
        h.Forward(FromClient(Syn), T0);
        var rst = h.Forward(FromBackend(Rst | Ack), T0 + Ms);
        Assert.Equal("192.168.101.1", Dst(rst));
        Assert.Equal("192.168.101.250", Src(rst));
        Assert.Equal(443, Tcp(rst).SourcePort);
        Assert.True(Tcp(rst).Reset);
        Assert.Empty(h.LiveEntries());
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void Process_AckWithoutSynForNewFlow_StrictDropsLoosePicksUp(bool strict, bool dropped)
    {
        var h = new EngineHarness(Config(strict));
        h.LearnBackends();
        var sent = h.Process(FromClient(Ack), T0);
        if (dropped)
        {
            Assert.Empty(sent);
            Assert.Equal(1, h.Counters.Drops[(int)DropReason.TcpNoSynForNewFlow]);
            Assert.Empty(h.LiveEntries());
            Assert.Equal(0, h.Counters.NewFlows);
        }
        else
        {
            var f = Assert.Single(sent);
            TestFrames.AssertChecksumsValid(f);
            Assert.Equal("192.168.1.10", Dst(f));
            Assert.Equal(TcpState.Established, h.SingleEntry().TcpState);
            Assert.Equal(0, h.Counters.Drops[(int)DropReason.TcpNoSynForNewFlow]);
        }
    }

    [Fact]
    public void Process_AckWithoutSynEngineNotLoose_Dropped()
    {
        var h = new EngineHarness(Config(), new EngineOptions { Seed = 1, TcpLoose = false });
        h.LearnBackends();
        Assert.Empty(h.Process(FromClient(Ack), T0));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.TcpNoSynForNewFlow]);
        // A SYN still starts a connection.
        Assert.Equal("192.168.1.10", Dst(h.Forward(FromClient(Syn), T0 + Ms)));
    }

    [Theory]
    [InlineData(Syn | Ack)]
    [InlineData(Fin | Ack)]
    [InlineData(Rst)]
    [InlineData(Syn | Fin)]
    [InlineData(0)]
    public void Process_NewFlowWithFlagsThatCannotStartIt_Dropped(byte flags)
    {
        var h = new EngineHarness(Config());
        h.LearnBackends();
        Assert.Empty(h.Process(FromClient(flags), T0));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.TcpNoSynForNewFlow]);
        Assert.Empty(h.LiveEntries());
    }

    [Fact]
    public void Process_InvalidFlagsOnExistingFlow_DroppedAndStateKept()
    {
        var h = new EngineHarness(Config());
        h.LearnBackends();
        long t = Play(h, "c:S,b:SA,c:A");
        Assert.Empty(h.Process(FromClient(Syn | Fin), t + Ms));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.TcpInvalid]);
        Assert.Equal(TcpState.Established, h.SingleEntry().TcpState);
    }

    [Fact]
    public void Process_Handshake_CountersPerBackendAndFarm()
    {
        var h = new EngineHarness(Config());
        h.LearnBackends();
        Play(h, "c:S,b:SA,c:A");
        int b0 = h.BackendId("app", "bck0");
        Assert.Equal(1, h.Counters.Backends[b0].Connections);
        Assert.Equal(3, h.Counters.Backends[b0].Packets);
        Assert.Equal(3 * 40, h.Counters.Backends[b0].Bytes);
        Assert.Equal(3, h.Counters.Forwarded);
        var e = h.SingleEntry();
        Assert.Equal(2UL, e.OriginalPackets);
        Assert.Equal(1UL, e.ReplyPackets);
    }
}
