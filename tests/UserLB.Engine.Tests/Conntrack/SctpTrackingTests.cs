using System.Buffers.Binary;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Tests.Engine;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Conntrack;

/// <summary>
/// SCTP tracked as nf_conntrack_proto_sctp.c (Linux 6.x) does: the state after each chunk, the per-state timeouts,
/// ASSURED at ESTABLISHED, INVALID packets dropped, and the state in the listings and events.
/// </summary>
public class SctpTrackingTests
{
    private const string Farm = """
        {"farms":[{"name":"ngap","virtual-addr":"192.168.101.250","virtual-ports":"38412","protocol":"sctp","mode":"snat","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
        """;

    private const byte Data = 0;
    private const string Client = "192.168.101.1", Vip = "192.168.101.250", Bck0 = "192.168.1.10";

    /// <summary>An SCTP packet with these chunks (type, payload length; -1: a chunk header whose length says 0), CRC-32C computed here bit by bit.</summary>
    private static byte[] Sctp(string srcMac, string src, string dst, ushort sport, ushort dport, uint vtag, params (byte Type, int Body)[] chunks)
    {
        int length = 12;
        foreach (var c in chunks) length += (4 + Math.Max(0, c.Body) + 3) & ~3;
        var l4 = new byte[length];
        BinaryPrimitives.WriteUInt16BigEndian(l4, sport);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(4), vtag);
        int at = 12;
        foreach (var (type, body) in chunks)
        {
            l4[at] = type;
            BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(at + 2), (ushort)(body < 0 ? 0 : 4 + body));
            for (int i = 0; i < body; i++) l4[at + 4 + i] = (byte)(i + 1);
            at += (4 + Math.Max(0, body) + 3) & ~3;
        }
        uint crc = 0xFFFFFFFF;
        foreach (byte b in l4)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(l4.AsSpan(8), ~crc);
        return Ip(srcMac, src, dst, IpProtocols.Sctp, l4);
    }

    private static byte[] FromClient(uint vtag, params (byte, int)[] chunks) => Sctp(ClientMac, Client, Vip, 40000, 38412, vtag, chunks);

    private static byte[] FromBackend(uint vtag, params (byte, int)[] chunks) => Sctp(Bck0Mac, Bck0, Vip, 38412, 40000, vtag, chunks);

    [Fact]
    public void Engine_AssociationLifecycle_StatesTimeoutsAndEventsAsTheKernel()
    {
        var h = new EngineHarness(Farm);
        h.LearnBackends();
        h.Learn(ClientMac, Client);
        var hub = new ConntrackEventHub();
        using var sub = hub.Subscribe();
        h.Engine.Table.Events = hub;
        // (frame, state after it, timeout in seconds)
        var steps = new (byte[] Frame, string State, long Timeout)[]
        {
            (FromClient(0, (SctpStateTable.Init, 16)), "CLOSED", 10),
            (FromBackend(1, (SctpStateTable.InitAck, 16)), "COOKIE_WAIT", 3),
            (FromClient(2, (SctpStateTable.CookieEcho, 8)), "COOKIE_ECHOED", 3),
            (FromBackend(1, (SctpStateTable.CookieAck, 0)), "ESTABLISHED", 210),
            (FromClient(2, (Data, 20)), "ESTABLISHED", 210),
            (FromClient(2, (SctpStateTable.Heartbeat, 8)), "ESTABLISHED", 210),
            (FromClient(2, (SctpStateTable.Shutdown, 4)), "SHUTDOWN_SENT", 3),
            (FromBackend(1, (SctpStateTable.ShutdownAck, 0)), "SHUTDOWN_ACK_SENT", 3),
            (FromClient(2, (SctpStateTable.ShutdownComplete, 0)), "CLOSED", 10),
        };
        long now = 10 * S;
        foreach (var (frame, state, timeout) in steps)
        {
            now += Ms;
            h.Forward(frame, now);
            var e = h.Engine.Table[Assert.Single(h.LiveEntries())];
            Assert.Equal((state, timeout), (e.SctpState.ToConntrackName(), ConntrackFormatter.SecondsLeft(e, now)));
        }
        var entry = h.Engine.Table[Assert.Single(h.LiveEntries())];
        Assert.True(entry.Assured);
        Assert.Equal(
            "sctp     132 10 CLOSED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=38412 packets=6 bytes=272 src=192.168.1.10 dst=192.168.101.250 sport=38412 dport=40000 packets=3 bytes=124 [ASSURED] mark=512 use=1",
            ConntrackFormatter.Line(entry, now));
        var lines = new List<string>();
        while (sub.Reader.TryRead(out var ev)) lines.Add(ConntrackFormatter.EventLine(ev.Type, ev.Entry, ev.NowNs));
        Assert.Equal(
        [
            "    [NEW] sctp     132 10 CLOSED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=38412 [UNREPLIED] src=192.168.1.10 dst=192.168.101.250 sport=38412 dport=40000 mark=512",
            " [UPDATE] sctp     132 3 COOKIE_WAIT src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=38412 src=192.168.1.10 dst=192.168.101.250 sport=38412 dport=40000 mark=512",
            " [UPDATE] sctp     132 3 COOKIE_ECHOED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=38412 src=192.168.1.10 dst=192.168.101.250 sport=38412 dport=40000 mark=512",
            " [UPDATE] sctp     132 210 ESTABLISHED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=38412 src=192.168.1.10 dst=192.168.101.250 sport=38412 dport=40000 [ASSURED] mark=512",
            " [UPDATE] sctp     132 3 SHUTDOWN_SENT src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=38412 src=192.168.1.10 dst=192.168.101.250 sport=38412 dport=40000 [ASSURED] mark=512",
            " [UPDATE] sctp     132 3 SHUTDOWN_ACK_SENT src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=38412 src=192.168.1.10 dst=192.168.101.250 sport=38412 dport=40000 [ASSURED] mark=512",
            " [UPDATE] sctp     132 10 CLOSED src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=38412 src=192.168.1.10 dst=192.168.101.250 sport=38412 dport=40000 [ASSURED] mark=512",
        ], lines);
    }

    [Fact]
    public void Filter_SctpStates_MatchTheirEntriesAndEstablishedBothProtocols()
    {
        var h = new EngineHarness(Farm);
        h.LearnBackends();
        h.Learn(ClientMac, Client);
        h.Forward(FromClient(0, (SctpStateTable.Init, 16)), S);
        h.Forward(FromBackend(1, (SctpStateTable.InitAck, 16)), S + Ms);
        int Count(string state) => h.Engine.Table.CountMatching(
            ConntrackFilter.Parse([KeyValuePair.Create("state", state)]).Bind(h.Engine.Snapshot), S + 2 * Ms);
        Assert.Equal((1, 0, 0), (Count("COOKIE_WAIT"), Count("ESTABLISHED"), Count("SYN_SENT")));
        h.Forward(FromClient(2, (SctpStateTable.CookieEcho, 8)), S + 2 * Ms);
        h.Forward(FromBackend(1, (SctpStateTable.CookieAck, 0)), S + 3 * Ms);
        Assert.Equal((0, 1), (Count("cookie_wait"), Count("ESTABLISHED")));
    }

    public static TheoryData<string, byte[]> CannotStart => new()
    {
        { "DATA alone", FromClient(5, (Data, 8)) },
        { "INIT bundled with DATA", FromClient(0, (SctpStateTable.Init, 16), (Data, 8)) },
        { "COOKIE_ACK out of the blue", FromClient(5, (SctpStateTable.CookieAck, 0)) },
        { "ABORT out of the blue", FromClient(5, (SctpStateTable.Abort, 0)) },
        { "an empty chunk", FromClient(0, (SctpStateTable.Init, -1)) },
    };

    [Theory]
    [MemberData(nameof(CannotStart))]
    public void Engine_PacketThatCannotStartAnAssociation_DroppedSctpInvalid(string what, byte[] frame)
    {
        var h = new EngineHarness(Farm);
        h.LearnBackends();
        Assert.True(h.Process(frame, S).Count == 0, what);
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.SctpInvalid]);
        Assert.Empty(h.LiveEntries());
    }

    [Fact]
    public void Engine_InitAckBundledAfterData_InvalidStateKeptNotNated()
    {
        var h = new EngineHarness(Farm);
        h.LearnBackends();
        h.Learn(ClientMac, Client);
        h.Forward(FromClient(0, (SctpStateTable.Init, 16)), S);
        h.Forward(FromBackend(1, (SctpStateTable.InitAck, 16)), S + Ms);
        // INIT_ACK must be alone in its packet (do_basic_checks): bundled after DATA the packet is INVALID.
        Assert.Empty(h.Process(FromBackend(1, (Data, 4), (SctpStateTable.InitAck, 16)), S + 2 * Ms));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.SctpInvalid]);
        Assert.Equal(SctpState.CookieWait, h.Engine.Table[Assert.Single(h.LiveEntries())].SctpState);
    }

    [Fact]
    public void Track_DataAndHeartbeats_DoesNotAllocate()
    {
        byte[] data = FromClient(2, (Data, 20), (SctpStateTable.Heartbeat, 8)).AsSpan(14 + 20).ToArray();
        long sink = 0;
        for (int round = 0; round < 4; round++) sink += Body(data, 50_000); // tiering and OSR done before measuring
        long before = GC.GetAllocatedBytesForCurrentThread();
        sink += Body(data, 50_000);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.NotEqual(0, sink);

        static long Body(byte[] packet, int n)
        {
            long established = 0;
            for (int i = 0; i < n; i++)
            {
                var state = SctpState.Established;
                if (SctpStateTable.Track(packet, i % 2 == 0, false, ref state, out _) == SctpVerdict.Ok && state == SctpState.Established) established++;
            }
            return established;
        }
    }

    [Theory]
    [InlineData(false, SctpState.None, SctpStateTable.Init, SctpState.Closed)]
    [InlineData(true, SctpState.Closed, SctpStateTable.InitAck, SctpState.CookieWait)]
    [InlineData(false, SctpState.CookieWait, SctpStateTable.CookieEcho, SctpState.CookieEchoed)]
    [InlineData(true, SctpState.CookieEchoed, SctpStateTable.CookieAck, SctpState.Established)]
    [InlineData(true, SctpState.Established, SctpStateTable.Shutdown, SctpState.ShutdownRecd)]
    [InlineData(false, SctpState.None, SctpStateTable.Heartbeat, SctpState.HeartbeatSent)]
    [InlineData(true, SctpState.HeartbeatSent, SctpStateTable.HeartbeatAck, SctpState.Established)]
    [InlineData(true, SctpState.CookieEchoed, SctpStateTable.Error, SctpState.Closed)]
    [InlineData(false, SctpState.Established, SctpStateTable.Abort, SctpState.Closed)]
    public void TryNext_KernelTable_Transition(bool reply, SctpState from, byte chunk, SctpState expected)
    {
        Assert.True(SctpStateTable.TryNext(reply, from, chunk, out var next));
        Assert.Equal(expected, next);
    }

    [Theory]
    [InlineData(SctpStateTable.Init)]
    [InlineData(SctpStateTable.InitAck)]
    [InlineData(SctpStateTable.Shutdown)]
    public void TryNext_ReplyDirectionInNone_Invalid(byte chunk) =>
        Assert.False(SctpStateTable.TryNext(true, SctpState.None, chunk, out _));
}
