using UserLB.Engine.Conntrack;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

public class UdpFlowTests
{
    private const string Farm = """
        {"farms":[{"name":"dns","virtual-addr":"192.168.101.250","virtual-ports":"53","protocol":"udp","mode":"snat","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private const long T0 = 10 * S;

    private static byte[] Query() => Udp(ClientMac, "192.168.101.1", "192.168.101.250", 5000, 53);

    private static byte[] Answer(string backend = "192.168.1.10") => Udp(Bck0Mac, backend, "192.168.101.250", 53, 5000);

    private static EngineHarness Start()
    {
        var h = new EngineHarness(Farm);
        h.LearnBackends();
        var first = h.Forward(Query(), T0);
        Assert.Equal("192.168.1.10", Dst(first));
        Assert.Equal("192.168.101.250", Src(first));
        return h;
    }

    [Theory]
    [InlineData(29, "192.168.1.10", 1)] // still tracked: same backend
    [InlineData(30, "192.168.1.11", 2)] // ExpiresNs <= now: a new connection, rr moves on
    [InlineData(31, "192.168.1.11", 2)]
    public void Process_UnrepliedFlowAfterSeconds_NewConnectionOnlyOnceExpired(int seconds, string backend, int newFlows)
    {
        var h = Start();
        var e = h.SingleEntry();
        Assert.Equal(T0 + 30 * S, e.ExpiresNs);
        Assert.False(e.SeenReply);
        Assert.False(e.Assured);

        var again = h.Forward(Query(), T0 + seconds * S);
        Assert.Equal(backend, Dst(again));
        Assert.Equal(newFlows, h.Counters.NewFlows);
        Assert.Equal(T0 + seconds * S + 30 * S, h.SingleEntry().ExpiresNs);
    }

    [Fact]
    public void Process_RepliedFlowOlderThanTwoSeconds_AssuredAndLives120Seconds()
    {
        var h = Start();
        var back = h.Forward(Answer(), T0 + 500 * Ms);
        Assert.Equal("192.168.101.1", Dst(back));
        Assert.Equal("192.168.101.250", Src(back));
        Assert.Equal(53, Udp(back).SourcePort);
        var e = h.SingleEntry();
        Assert.True(e.SeenReply);
        Assert.False(e.Assured); // reply within 2 s: not a stream yet
        Assert.Equal(T0 + 500 * Ms + 30 * S, e.ExpiresNs);

        h.Forward(Query(), T0 + 3 * S);
        e = h.SingleEntry();
        Assert.True(e.Assured);
        Assert.Equal(T0 + 3 * S + 120 * S, e.ExpiresNs);

        // 119 s later (well past the 30 s unreplied timeout) it is the same connection on the same backend.
        var later = h.Forward(Query(), T0 + 122 * S);
        Assert.Equal("192.168.1.10", Dst(later));
        Assert.Equal(1, h.Counters.NewFlows);
        Assert.Equal(T0 + 122 * S + 120 * S, h.SingleEntry().ExpiresNs);

        // Silent for 120 s: gone; the next query is a new connection (rr: the other backend).
        var fresh = h.Forward(Query(), T0 + 242 * S);
        Assert.Equal("192.168.1.11", Dst(fresh));
        Assert.Equal(2, h.Counters.NewFlows);
        Assert.False(h.SingleEntry().Assured);
    }

    [Fact]
    public void Process_RepliedWithinTwoSeconds_NotAssuredAndUnrepliedTimeout()
    {
        var h = Start();
        h.Forward(Answer(), T0 + 100 * Ms);
        h.Forward(Query(), T0 + 1500 * Ms);
        var e = h.SingleEntry();
        Assert.True(e.SeenReply);
        Assert.False(e.Assured);
        Assert.Equal(T0 + 1500 * Ms + 30 * S, e.ExpiresNs);
    }

    [Fact]
    public void Process_ReplyDirectionAfterTwoSeconds_AlsoAssures()
    {
        var h = Start();
        h.Forward(Answer(), T0 + 100 * Ms);
        h.Forward(Answer(), T0 + 5 * S);
        var e = h.SingleEntry();
        Assert.True(e.Assured);
        Assert.Equal(T0 + 5 * S + 120 * S, e.ExpiresNs);
        Assert.Equal(1UL, e.OriginalPackets);
        Assert.Equal(2UL, e.ReplyPackets);
    }

    [Fact]
    public void Process_FirstReplyAfterTwoSeconds_UnrepliedTimeoutUntilNextPacket()
    {
        // nf_conntrack_udp_packet runs before nf_conntrack_in sets IPS_SEEN_REPLY, so the first reply still gets
        // the unreplied timeout; the next packet (either way) makes the flow a stream: 120 s and ASSURED.
        var h = Start();
        h.Forward(Answer(), T0 + 3 * S);
        var e = h.SingleEntry();
        Assert.True(e.SeenReply);
        Assert.False(e.Assured);
        Assert.Equal(T0 + 3 * S + 30 * S, e.ExpiresNs);
        h.Forward(Query(), T0 + 4 * S);
        e = h.SingleEntry();
        Assert.True(e.Assured);
        Assert.Equal(T0 + 4 * S + 120 * S, e.ExpiresNs);
    }

    [Fact]
    public void Process_ExpiredAssuredFlow_SweptByLaterTraffic()
    {
        var h = Start();
        h.Forward(Answer(), T0 + 100 * Ms);
        h.Forward(Query(), T0 + 3 * S);
        Assert.True(h.SingleEntry().Assured);
        // Traffic of other clients long after: the per-frame sweep frees the dead entry.
        for (int i = 0; i < 8; i++)
            h.Forward(Udp("02:00:00:00:01:0" + i, "192.168.101." + (20 + i), "192.168.101.250", 6000, 53), T0 + 200 * S);
        Assert.Equal(8, h.Engine.Table.Count);
        Assert.DoesNotContain(h.LiveEntries(), i => h.Engine.Table[i].Original.SrcPort == 5000);
    }

    [Fact]
    public void Process_UdpChecksumZero_AcceptedAndLeftZero()
    {
        var h = new EngineHarness(Farm);
        h.LearnBackends();
        var q = Query();
        // IPv4 UDP without a checksum (field 0) is legal and must stay 0 after NAT.
        q[14 + 20 + 6] = 0;
        q[14 + 20 + 7] = 0;
        var sent = h.Forward(q, T0);
        Assert.Equal(0, Udp(sent).Checksum);
        Assert.Equal(ConnStatus.InUse | ConnStatus.SrcNat | ConnStatus.DstNat, h.SingleEntry().Status);
    }
}
