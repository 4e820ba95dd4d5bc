using System.Buffers.Binary;
using System.Text;
using UserLB.Engine.Conntrack;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// The SYN proxy of a farm with "synproxy": "on", frame by frame: the client's SYN gets a cookie SYN-ACK and leaves no
/// state; the client's ACK with a valid cookie makes the proxy send the backend a SYN; the backend's SYN-ACK is
/// answered with an ACK and the client gets an ACK opening the window; then data both ways with sequence numbers and
/// timestamps shifted and checksums right. The secret (bytes 0–31) and the clock are injected, so the cookies are the
/// values Linux's formula gives (SynCookiesTests checks them against an independent computation).
/// </summary>
public class SynProxyTests
{
    private const string Vip = "192.168.101.250";
    private const string Client = "192.168.101.1";
    private const string Backend = "192.168.1.10";
    private const long T0 = 1000 * S;                  // the clock: 1,000,000 ms, minute 16
    private const uint ClientIsn = 1000;
    private const uint Cookie = 563461977;             // Linux's cookie for the client's SYN (mss 1460) at T0
    private const uint CookieTs = 1_000_023;           // 1,000,000 ms with the low bits: wscale 7 (0x7) + SACK (0x10)
    private const uint BackendIsn = 5_000_000;
    private const uint BackendTs = 777_000;
    private static readonly byte[] Secret = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];

    private static string Farm(string mode = "snat", string synproxy = "on") => $$"""
        {"farms":[{"name":"app","virtual-addr":"{{Vip}}","virtual-ports":"443","protocol":"tcp","mode":"{{mode}}","scheduler":"rr","synproxy":"{{synproxy}}",
          "backends":[{"name":"bck0","ip-addr":"{{Backend}}"}]}]}
        """;

    private static EngineHarness New(string mode = "snat", EngineOptions? options = null)
    {
        var h = new EngineHarness(Farm(mode), (options ?? new EngineOptions { Seed = 1 }) with { SynProxySecret = Secret });
        h.LearnBackends();
        h.Learn(ClientMac, Client);
        return h;
    }

    private static byte[] O(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>Linux's SYN options: MSS 1460, SACK permitted, timestamp (TSval <paramref name="tsval"/>), NOP, window scale 7.</summary>
    private static byte[] LinuxSynOptions(uint tsval) => O($"020405b4 0402080a {tsval:x8} 00000000 01030307");

    private static byte[] Timestamps(uint tsval, uint tsecr) => O($"0101080a {tsval:x8} {tsecr:x8}");

    /// <summary>One segment as the test reads it back from a frame the engine sent.</summary>
    private sealed record Seg(string Src, string Dst, ushort Sport, ushort Dport, uint Seq, uint Ack, byte Flags, ushort Window, string Options, int Payload, string EthDst)
    {
        public static Seg Of(byte[] f)
        {
            AssertChecksumsValid(f);
            var ip = f.AsSpan(14);
            int hl = (ip[0] & 0xF) * 4, total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            Assert.Equal(64, ip[8] + 0); // the proxy's own frames: TTL 64 (forwarded ones: one less than they came with)
            var tcp = ip[hl..total];
            int doff = (tcp[12] >> 4) * 4;
            return new Seg(IpAddr.ReadV4(ip[12..]).ToString(), IpAddr.ReadV4(ip[16..]).ToString(),
                BinaryPrimitives.ReadUInt16BigEndian(tcp), BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]),
                BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]), BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]), tcp[13],
                BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]), Convert.ToHexString(tcp[20..doff]).ToLowerInvariant(), tcp.Length - doff,
                EngineHarness.EthDst(f));
        }
    }

    /// <summary>Reads a forwarded frame (TTL not checked) the same way.</summary>
    private static Seg Fwd(byte[] f)
    {
        var copy = (byte[])f.Clone();
        var ip = copy.AsSpan(14);
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(ip[8..]);
        ip[8] = 64;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(ip[10..]), old, BinaryPrimitives.ReadUInt16BigEndian(ip[8..])));
        AssertChecksumsValid(f);
        return Seg.Of(copy);
    }

    private static string Hex(string s) => s.Replace(" ", "", StringComparison.Ordinal);

    /// <summary>SYN → cookie SYN-ACK, ACK → SYN to the backend, backend SYN-ACK → ACKs both ways. Returns the harness.</summary>
    private static EngineHarness Handshake(out long t, string mode = "snat")
    {
        var h = New(mode);
        t = T0;
        var synAck = Seg.Of(Assert.Single(h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345), 64240), t)));
        Assert.Equal(Cookie, synAck.Seq);
        var syn = Seg.Of(Assert.Single(h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 1, Timestamps(12400, CookieTs), 502), t += Ms)));
        Assert.Equal(Syn, syn.Flags);
        var sent = h.Process(TcpOpt(Bck0Mac, Backend, syn.Src, 443, syn.Sport, Syn | Ack, BackendIsn, ClientIsn + 1,
            O($"020405b4 0402080a {BackendTs:x8} {12400:x8} 01030307"), 65160), t += Ms);
        Assert.Equal(2, sent.Count);
        return h;
    }

    [Fact]
    public void Process_ClientSyn_CookieSynAckWithLinuxOptionsAndNoState()
    {
        var h = New();
        var sent = h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345), 64240), T0);
        var s = Seg.Of(Assert.Single(sent));
        // From the VIP to the client's MAC; the cookie as sequence number; the client's ISN + 1 acknowledged; window 0.
        Assert.Equal(new Seg(Vip, Client, 443, 40000, Cookie, ClientIsn + 1, Syn | Ack, 0,
            Hex($"020405b4 0402080a {CookieTs:x8} {12345:x8} 01030307"), 0, ClientMac), s);
        Assert.Empty(h.LiveEntries());
        Assert.Equal(1, h.Counters.SynProxySyns);
        Assert.Equal(1, h.Counters.Consumed - 2 - 1); // the ARP replies that taught the neighbours, then the SYN
        Assert.Equal(0, h.Counters.NewFlows);
    }

    /// <summary>(the client's SYN options, its TCP flags) → the SYN-ACK's options and flags: without timestamps there is
    /// nowhere to keep window scale, SACK or ECN, so the proxy does not offer them (synproxy_init_timestamp_cookie).</summary>
    [Theory]
    [InlineData("", Syn, "", Syn | Ack, 563461974u)]                                              // hping3: no options (MSS 536 encoded)
    [InlineData("020405b4", Syn, "020405b4", Syn | Ack, Cookie)]                                  // MSS only
    [InlineData("020405b4 01030307", Syn, "020405b4", Syn | Ack, Cookie)]                         // MSS + WS, no timestamps: no WS
    [InlineData("020405b4 01010402", Syn, "020405b4", Syn | Ack, Cookie)]                         // MSS + SACK, no timestamps: no SACK
    [InlineData("020405b4 0101080a 00003039 00000000", Syn, "020405b4 0101080a 000f424f 00003039", Syn | Ack, Cookie)] // 0xf: no WS
    [InlineData("020405b4 0402080a 00003039 00000000 01030307", Syn | 0xC0, "020405b4 0402080a 000f4277 00003039 01030307", Syn | Ack | 0x40, Cookie)] // ECN
    [InlineData("020405b0 0402080a 00003039 00000000 01030302", Syn, "020405b4 0402080a 000f4252 00003039 01030307", Syn | Ack, 563461976u)] // MSS 1456 → 1440, WS 2
    public void Process_ClientSynOptions_SynAckOptionsAsLinux(string synOptions, int flags, string expected, int expectedFlags, uint cookie)
    {
        var h = New();
        var s = Seg.Of(Assert.Single(h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, (byte)flags, ClientIsn, 0, O(synOptions)), T0)));
        Assert.Equal(Hex(expected), s.Options);
        Assert.Equal(expectedFlags, s.Flags);
        Assert.Equal(cookie, s.Seq);
        Assert.Equal(0, s.Window);
    }

    [Fact]
    public void Process_ClientAckWithValidCookie_ConnectionOpenedAndSynSentToBackend()
    {
        var h = New();
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345), 64240), T0);
        var sent = h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 1, Timestamps(12400, CookieTs), 502), T0 + Ms);
        // The client's ISN and options (MSS, SACK, WS from the cookie; its timestamps), from the SNAT address, to the backend.
        Assert.Equal(new Seg(Vip, Backend, 40000, 443, ClientIsn, 0, Syn, 502,
            Hex($"020405b4 0402080a {12400:x8} {CookieTs:x8} 01030307"), 0, Bck0Mac), Seg.Of(Assert.Single(sent)));
        var e = h.SingleEntryOf(Client);
        Assert.Equal(TcpState.SynSent, e.TcpState);
        Assert.False(e.SeenReply);
        Assert.Equal(ConnStatus.SynProxyPending, e.Status & ConnStatus.SynProxyPending);
        Assert.Equal(1, h.Counters.SynProxyCookiesValid);
        Assert.Equal(1, h.Counters.NewFlows);
    }

    [Fact]
    public void Process_BackendSynAck_AckToBackendAndWindowOpenedToClient()
    {
        var h = New();
        long t = T0;
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345), 64240), t);
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 1, Timestamps(12400, CookieTs), 502), t += Ms);
        var sent = h.Process(TcpOpt(Bck0Mac, Backend, Vip, 443, 40000, Syn | Ack, BackendIsn, ClientIsn + 1,
            O($"020405b4 0402080a {BackendTs:x8} {12400:x8} 01030307"), 65160), t += Ms);
        Assert.Equal(2, sent.Count);
        // To the backend: the client's next sequence number, the backend's ISN + 1, the client's window, timestamps echoed.
        Assert.Equal(new Seg(Vip, Backend, 40000, 443, ClientIsn + 1, BackendIsn + 1, Ack, 502,
            Hex($"0101080a {12400:x8} {BackendTs:x8}"), 0, Bck0Mac), Seg.Of(sent[0]));
        // To the client: in its sequence space (the cookie + 1), the backend's window in the client's scale (65160 >> 7),
        // the backend's timestamp shifted back to the SYN-ACK's.
        Assert.Equal(new Seg(Vip, Client, 443, 40000, Cookie + 1, ClientIsn + 1, Ack, 65160 >> 7,
            Hex($"0101080a {CookieTs:x8} {12400:x8}"), 0, ClientMac), Seg.Of(sent[1]));
        var e = h.SingleEntryOf(Client);
        Assert.Equal(TcpState.Established, e.TcpState);
        Assert.True(e.Assured);
        Assert.Equal(Cookie - BackendIsn, e.SeqOffset);
        Assert.Equal(unchecked(BackendTs - CookieTs), e.TsOffset);
        Assert.Equal(1, h.Counters.SynProxyHandshakes);
    }

    /// <summary>
    /// Data both ways after the handshake: (direction, sequence, acknowledgment, options in, payload) → what leaves: the
    /// backend's sequence numbers + (cookie − backend ISN) to the client, the client's acknowledgments and SACK edges −
    /// that to the backend; timestamps shifted by (backend TS − cookie TS); checksums verified on every frame.
    /// </summary>
    [Theory]
    // client → backend: ack − offset, TSecr + ts offset
    [InlineData("c", 1001u, 1u, "0101080a 000030d4 000f4257", 10, 1001u, 5000001u, "0101080a 000030d4 000bdb28")]
    // client → backend, no options
    [InlineData("c", 1011u, 101u, "", 5, 1011u, 5000101u, "")]
    // client → backend, SACK block (edges − offset) then timestamps
    [InlineData("c", 1011u, 1u, "0101050a 2195c022 2195c086 0101080a 000030d5 000f4257", 0, 1011u, 5000001u, "0101050a 004c4c09 004c4c6d 0101080a 000030d5 000bdb28")]
    // client → backend, timestamps after a single NOP: the values at odd offsets
    [InlineData("c", 1011u, 1u, "01080a00 0030d600 0f425700", 0, 1011u, 5000001u, "01080a00 0030d600 0bdb2800")]
    // backend → client: seq + offset, TSval − ts offset
    [InlineData("b", 5000001u, 1011u, "0101080a 000bdb28 000030d4", 100, 1u, 1011u, "0101080a 000f4257 000030d4")]
    // backend → client, no options
    [InlineData("b", 5000101u, 1016u, "", 50, 101u, 1016u, "")]
    public void Process_DataAfterHandshake_SequenceAndTimestampsShiftedChecksumsRight(string from, uint seq, uint ack, string options, int payload,
        uint expectedSeq, uint expectedAck, string expectedOptions)
    {
        var h = Handshake(out long t);
        byte[] frame;
        if (from == "c")
            frame = TcpOpt(ClientMac, Client, Vip, 40000, 443, Psh | Ack, seq, Cookie + ack, O(options), 502, payload);
        else
            frame = TcpOpt(Bck0Mac, Backend, Vip, 443, 40000, Psh | Ack, seq, ack, O(options), 509, payload);
        var s = Fwd(h.Forward(frame, t + Ms));
        if (from == "c")
        {
            Assert.Equal((Backend, (ushort)443, expectedSeq, expectedAck), (s.Dst, s.Dport, s.Seq, s.Ack));
        }
        else
        {
            Assert.Equal((Client, (ushort)40000, Cookie + expectedSeq, expectedAck), (s.Dst, s.Dport, s.Seq, s.Ack));
        }
        Assert.Equal(Hex(expectedOptions), s.Options);
        Assert.Equal(payload, s.Payload);
    }

    /// <summary>(the backend's SYN-ACK window-scale option, its window later) → the window the client gets: the client
    /// was offered scale 7, so a backend with another scale has its windows converted (at most 65535).</summary>
    [Theory]
    [InlineData("01030307", 509, 509)]        // the same scale: unchanged
    [InlineData("01030309", 509, 2036)]       // scale 9: × 4
    [InlineData("01030309", 20000, 65535)]    // × 4, capped
    [InlineData("01030305", 509, 127)]        // scale 5: ÷ 4
    [InlineData("", 65160, 509)]              // no scale: bytes, ÷ 128
    public void Process_BackendWindowScaleDiffers_WindowsConvertedToTheProxysScale(string backendWs, int window, int expected)
    {
        var h = New();
        long t = T0;
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345), 64240), t);
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 1, Timestamps(12400, CookieTs), 502), t += Ms);
        var sent = h.Process(TcpOpt(Bck0Mac, Backend, Vip, 443, 40000, Syn | Ack, BackendIsn, ClientIsn + 1,
            O($"020405b4 0402080a {BackendTs:x8} {12400:x8} {backendWs}"), 65160), t += Ms);
        Assert.Equal(65160 >> 7, Seg.Of(sent[1]).Window); // the SYN-ACK's window is never scaled: in the client's units
        var down = Fwd(h.Forward(TcpOpt(Bck0Mac, Backend, Vip, 443, 40000, Ack, BackendIsn + 1, ClientIsn + 1, Timestamps(BackendTs + 1, 12400), (ushort)window), t += Ms));
        Assert.Equal(expected, down.Window);
    }

    [Fact]
    public void Process_ManyPacketsBothWays_EveryOneShiftedNoneOnTheFastPath()
    {
        var h = Handshake(out long t);
        for (int i = 0; i < 200; i++)
        {
            t += Ms;
            var up = Fwd(h.Forward(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack | Psh, ClientIsn + 1 + (uint)(i * 10), Cookie + 1 + (uint)(i * 20),
                Timestamps(20000 + (uint)i, CookieTs + (uint)i), 502, 10), t));
            Assert.Equal(BackendIsn + 1 + (uint)(i * 20), up.Ack);
            Assert.Equal(Hex($"0101080a {20000 + i:x8} {BackendTs + i:x8}"), up.Options);
            var down = Fwd(h.Forward(TcpOpt(Bck0Mac, Backend, Vip, 443, 40000, Ack | Psh, BackendIsn + 1 + (uint)(i * 20), ClientIsn + 11 + (uint)(i * 10),
                Timestamps(BackendTs + (uint)i, 20000 + (uint)i), 509, 20), t));
            Assert.Equal(Cookie + 1 + (uint)(i * 20), down.Seq);
            Assert.Equal(Hex($"0101080a {CookieTs + i:x8} {20000 + i:x8}"), down.Options);
        }
        Assert.Equal(0, h.SingleEntryOf(Client).FastFlags);
    }

    /// <summary>An ACK to the synproxy farm with no connection and no valid cookie: dropped, counted, nothing sent. (An
    /// acknowledgment a little off still decodes as another MSS index, as in Linux: SynCookiesTests.)</summary>
    [Theory]
    [InlineData("ack+8", 0L)]
    [InlineData("ack-8", 0L)]
    [InlineData("ack+2^24", 0L)]       // another minute in the cookie's top bits
    [InlineData("seq+4", 0L)]
    [InlineData("other port", 0L)]
    [InlineData("late", 80L)]          // two minutes on
    [InlineData("no syn", 0L)]         // an ACK out of nowhere (an ACK flood)
    public void Process_AckWithoutValidCookie_DroppedAndCounted(string change, long laterSeconds)
    {
        var h = New();
        if (change != "no syn") h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345)), T0);
        uint seq = ClientIsn + 1, ack = Cookie + 1;
        ushort port = 40000;
        switch (change)
        {
            case "ack+8": ack += 8; break;
            case "ack-8": ack -= 8; break;
            case "ack+2^24": ack += 1u << 24; break;
            case "seq+4": seq += 4; break;
            case "other port": port = 40001; break;
            case "no syn": ack = 123456; break;
        }
        var trace = new StringTrace();
        h.Engine.Trace = trace;
        Assert.Empty(h.Process(TcpOpt(ClientMac, Client, Vip, port, 443, Ack, seq, ack, Timestamps(12400, CookieTs)), T0 + Ms + laterSeconds * S));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.SynProxyBadCookie]);
        Assert.Empty(h.LiveEntries());
        Assert.Equal(0, h.Counters.NewFlows);
        Assert.Contains("acknowledges no valid cookie", trace.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_AckOneMinuteLater_StillValid()
    {
        var h = New();
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345)), T0);
        Assert.Single(h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 1, Timestamps(12400, CookieTs)), T0 + 61 * S));
        Assert.Equal(1, h.Counters.NewFlows);
    }

    [Fact]
    public void Process_BackendRefusesWithRst_RstReachesClientInItsSequenceSpaceAndEntryGoes()
    {
        var h = New();
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345)), T0);
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 1, Timestamps(12400, CookieTs), 502), T0 + Ms);
        var rst = Fwd(h.Forward(TcpOpt(Bck0Mac, Backend, Vip, 443, 40000, Rst | Ack, 0, ClientIsn + 1, []), T0 + 2 * Ms));
        Assert.Equal((Client, Cookie + 1, ClientIsn + 1, (byte)(Rst | Ack)), (rst.Dst, rst.Seq, rst.Ack, rst.Flags));
        Assert.Empty(h.LiveEntries());
    }

    [Fact]
    public void Process_ClientProbeBeforeBackendAnswers_SynSentAgain()
    {
        var h = New();
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345)), T0);
        var first = Seg.Of(Assert.Single(h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 1, Timestamps(12400, CookieTs), 502), T0 + Ms)));
        // The SYN was lost; the client, its window closed, sends a zero-window probe (sequence number = its ISN).
        var again = Seg.Of(Assert.Single(h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn, Cookie + 1, Timestamps(12700, CookieTs), 502), T0 + 300 * Ms)));
        Assert.Equal((first.Dst, first.Seq, first.Flags), (again.Dst, again.Seq, again.Flags));
        Assert.Equal(Hex($"020405b4 0402080a {12700:x8} {CookieTs:x8} 01030307"), again.Options);
        Assert.Equal(1, h.Counters.SynProxyRetransmits);
        Assert.Single(h.LiveEntries());
        // A client SYN again (same port) meanwhile gets a cookie SYN-ACK, statelessly.
        var synAck = Seg.Of(Assert.Single(h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345)), T0 + 400 * Ms)));
        Assert.Equal((Syn | Ack, Cookie), (synAck.Flags, synAck.Seq));
    }

    [Fact]
    public void Process_SynFloodFromSpoofedSources_EachAnsweredNothingKeptNothingToBackend()
    {
        var h = New();
        for (int i = 0; i < 5000; i++)
        {
            string src = IpAddr.FromV4(0xC612_0000u + (uint)i + 1).ToString();
            var s = Seg.Of(Assert.Single(h.Process(Tcp(ClientMac, src, Vip, (ushort)(1024 + i), 443, Syn, seq: (uint)i), T0 + i * 10_000)));
            Assert.Equal((src, ClientMac), (s.Dst, s.EthDst));
        }
        Assert.Empty(h.LiveEntries());
        Assert.Equal(5000, h.Counters.SynProxySyns);
        Assert.Equal(0, h.Counters.NewFlows);
        Assert.Equal(3, h.Engine.Neighbors.Count); // the backends and the client: no flood sender learned
    }

    [Fact]
    public void Process_SynProxyOffOrOtherFarm_SynForwardedAsUsual()
    {
        var h = new EngineHarness(Farm(synproxy: "off"), new EngineOptions { Seed = 1, SynProxySecret = Secret });
        h.LearnBackends();
        var syn = Fwd(h.Forward(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345)), T0));
        Assert.Equal((Backend, ClientIsn, (byte)Syn), (syn.Dst, syn.Seq, syn.Flags));
    }

    [Fact]
    public void Process_DtaMode_WholeExchangeShiftsAndKeepsTheClientAddress()
    {
        var h = Handshake(out long t, mode: "dnat");
        var e = h.SingleEntryOf(Client);
        Assert.Equal(Cookie - BackendIsn, e.SeqOffset);
        var up = Fwd(h.Forward(TcpOpt(ClientMac, Client, Vip, 40000, 443, Psh | Ack, ClientIsn + 1, Cookie + 1, Timestamps(13000, CookieTs), 502, 10), t + Ms));
        Assert.Equal((Client, Backend, BackendIsn + 1), (up.Src, up.Dst, up.Ack));
        var down = Fwd(h.Forward(TcpOpt(Bck0Mac, Backend, Client, 443, 40000, Psh | Ack, BackendIsn + 1, ClientIsn + 11, Timestamps(BackendTs + 5, 13000), 509, 10), t + 2 * Ms));
        Assert.Equal((Vip, Client, Cookie + 1), (down.Src, down.Dst, down.Seq));
    }

    [Fact]
    public void Process_Trace_TellsTheStory()
    {
        var h = New();
        var trace = new StringTrace();
        h.Engine.Trace = trace;
        long t = T0;
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345), 64240), t);
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 1, Timestamps(12400, CookieTs), 502), t += Ms);
        h.Process(TcpOpt(Bck0Mac, Backend, Vip, 443, 40000, Syn | Ack, BackendIsn, ClientIsn + 1, O($"020405b4 0402080a {BackendTs:x8} {12400:x8} 01030307"), 65160), t += Ms);
        h.Process(TcpOpt(Bck0Mac, Backend, Vip, 443, 40000, Psh | Ack, BackendIsn + 1, ClientIsn + 1, Timestamps(BackendTs + 1, 12400), 509, 10), t += Ms);
        string text = trace.Text;
        foreach (var step in new[]
        {
            $"synproxy: farm app: SYN answered with a cookie SYN-ACK, nothing kept: seq {Cookie} (mss 1460 encoded as 1460, wscale 7, sack-perm, timestamp 12345/0), window 0, offering mss 1460 wscale 7",
            $"synproxy: ACK carries a valid cookie {Cookie}: client ISN {ClientIsn}, mss 1460, wscale 7, sack-perm, timestamp 12400/{CookieTs}",
            "conntrack: [NEW] tcp      6 120 SYN_SENT src=192.168.101.1 dst=192.168.101.250 sport=40000 dport=443 [UNREPLIED]",
            $"synproxy: SYN to the backend 192.168.1.10:443, seq {ClientIsn} (the client's ISN)",
            $"synproxy: the backend's SYN-ACK (ISN {BackendIsn}): ACK to the backend, an ACK opening the window to the client",
            $"seqadj: the backend's sequence numbers + {Cookie - BackendIsn} ({BackendIsn} → the cookie {Cookie}), its timestamps - {unchecked(BackendTs - CookieTs)}, both ways",
            "ESTABLISHED src=192.168.101.1",
            $"seqadj: seq {BackendIsn + 1} → {Cookie + 1}",
        })
        {
            Assert.Contains(step, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Process_NewFlowBudgetSpent_SynsStillAnsweredAndCookieAcksCounted()
    {
        // The budget counts connections opened (valid cookies), not SYNs: a flood of SYNs does not spend it.
        var h = New(options: new EngineOptions { Seed = 1, NewFlowBudget = 1, NewFlowBurst = 1 });
        for (int i = 0; i < 100; i++)
            Assert.Single(h.Process(Tcp(ClientMac, IpAddr.FromV4(0xC612_0000u + (uint)i + 1).ToString(), Vip, 2000, 443, Syn), T0));
        h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345)), T0);
        Assert.Single(h.Process(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 1, Timestamps(12400, CookieTs), 502), T0 + Ms));
        Assert.Equal(0, h.Counters.Drops[(int)DropReason.NewFlowBudget]);
    }

    [Fact]
    public void ExportImport_EstablishedSynProxiedConnection_ShiftsContinueAfterARestart()
    {
        var h = Handshake(out long t);
        // A second connection whose backend has not answered yet is not saved: its client sends a probe and gets a new SYN.
        var synAck = Seg.Of(Assert.Single(h.Process(TcpOpt(ClientMac, Client, Vip, 40001, 443, Syn, ClientIsn, 0, LinuxSynOptions(12345)), t)));
        h.Process(TcpOpt(ClientMac, Client, Vip, 40001, 443, Ack, ClientIsn + 1, synAck.Seq + 1, Timestamps(12400, CookieTs), 502), t);
        Assert.Equal(2, h.LiveEntries().Count);
        var saved = h.Engine.ExportConnections(t + Ms);
        var kept = Assert.Single(saved);
        Assert.Equal(Cookie - BackendIsn, kept.SeqOffset);
        var after = New();
        Assert.Equal(1, after.Engine.ImportConnections(saved, t + 2 * Ms).Imported);
        var down = Fwd(after.Forward(TcpOpt(Bck0Mac, Backend, Vip, 443, 40000, Psh | Ack, BackendIsn + 1, ClientIsn + 1, Timestamps(BackendTs + 9, 12400), 509, 10), t + 3 * Ms));
        Assert.Equal((Cookie + 1, Hex($"0101080a {CookieTs + 9:x8} {12400:x8}")), (down.Seq, down.Options));
        var up = Fwd(after.Forward(TcpOpt(ClientMac, Client, Vip, 40000, 443, Ack, ClientIsn + 1, Cookie + 11, Timestamps(12410, CookieTs + 9), 502), t + 4 * Ms));
        Assert.Equal((BackendIsn + 11, Hex($"0101080a {12410:x8} {BackendTs + 9:x8}")), (up.Ack, up.Options));
    }

    private sealed class StringTrace : IPacketTrace
    {
        private readonly StringBuilder _text = new();
        public string Text => _text.ToString();
        public void Frame(long frameNumber, long nowNs, string summary) => _text.Append('#').Append(frameNumber).Append(' ').AppendLine(summary);
        public void Step(string text) => _text.Append("    ").AppendLine(text);
    }
}
