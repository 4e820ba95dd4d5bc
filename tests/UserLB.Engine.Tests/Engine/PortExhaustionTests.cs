using System.Text;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// SNAT port exhaustion: a flood of SYNs from spoofed sources fills a port space (backend, source address, port class)
/// with entries that never become ASSURED (SYN_SENT; SYN_RECV when the backend answers). A new connection then evicts
/// the oldest unassured entry of that space and takes its port; ASSURED entries are never evicted; while the engine is
/// under pressure unassured entries get a short timeout. Client ports below 512 fall in the class 1–511, so 511 SYNs
/// fill a space.
/// </summary>
public class PortExhaustionTests
{
    private const string Vip = "192.168.101.250";

    private static string Farm(string ports = "443") => $$"""
        {"farms":[{"name":"app","virtual-addr":"{{Vip}}","virtual-ports":"{{ports}}","protocol":"all","mode":"snat","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
        """;

    private static string Spoofed(int i) => IpAddr.FromV4(0xC612_0000u + (uint)i + 1).ToString(); // 198.18.0.0/15

    private static byte[] FloodSyn(int i, ushort sport, ushort dport = 443) => Tcp(ClientMac, Spoofed(i), Vip, sport, dport, Syn, seq: (uint)i);

    /// <summary>511 flood SYNs from distinct sources, source ports 1–511 in order: every port of the class 1–511 to bck0:443
    /// taken; the first <paramref name="replied"/> answered by the backend (SYN_RECV), the first <paramref name="assured"/>
    /// of those also completed by their client (ESTABLISHED, ASSURED).</summary>
    private static EngineHarness Exhausted(out long t, int maxConnections = 4096, string ports = "443", int replied = 0, ushort dport = 443, int assured = 0)
    {
        var h = new EngineHarness(Farm(ports), new EngineOptions { Seed = 1, MaxConnections = maxConnections });
        h.LearnBackends();
        t = S;
        for (int i = 0; i < 511; i++)
        {
            t += Ms;
            var syn = h.Forward(FloodSyn(i, (ushort)(i + 1), dport), t);
            Assert.Equal(i + 1, EngineHarness.Tcp(syn).SourcePort); // each keeps its own port
            if (i < Math.Max(replied, assured)) h.Forward(Tcp(Bck0Mac, "192.168.1.10", Vip, dport, (ushort)(i + 1), Syn | Ack, seq: 9000, ack: (uint)i + 1), t);
            if (i < assured) h.Forward(Tcp(ClientMac, Spoofed(i), Vip, (ushort)(i + 1), dport, Ack, seq: (uint)i + 1, ack: 9001), t);
        }
        Assert.Equal(0, h.Counters.NatPortEvictions);
        Assert.False(h.Engine.UnderPressure(t));
        return h;
    }

    [Fact]
    public void Process_PortSpaceFullOfUnassuredEntries_OldestEvictedAndItsPortTaken()
    {
        var h = Exhausted(out long t);
        var trace = new StringTrace();
        h.Engine.Trace = trace;
        var syn = h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, 7, 443, Syn), t + Ms);
        Assert.Equal(1, EngineHarness.Tcp(syn).SourcePort); // the oldest unassured entry's port (flood SYN 0)
        Assert.Equal(Vip, Src(syn));
        Assert.Equal(1, h.Counters.NatPortEvictions);
        Assert.Equal(0, h.Counters.Drops[(int)DropReason.NatPortsExhausted]);
        Assert.Equal(511, h.Engine.Table.Count);
        Assert.Equal(-1, h.Engine.Table.Lookup(new(IpAddr.Parse(Spoofed(0)), IpAddr.Parse(Vip), 1, 443, IpProtocols.Tcp), t + Ms, out _));
        Assert.Contains("evicted the oldest unassured connection 1", trace.Text.ToString(), StringComparison.Ordinal);
        Assert.True(h.Engine.UnderPressure(t + Ms));

        // The backend answers the new connection; its reply goes back to the client with its own port.
        var synAck = h.Forward(Tcp(Bck0Mac, "192.168.1.10", Vip, 443, 1, Syn | Ack, seq: 7000, ack: 1001), t + 2 * Ms);
        Assert.Equal("192.168.101.2", Dst(synAck));
        Assert.Equal(7, EngineHarness.Tcp(synAck).DestinationPort);

        // Further new connections evict the next oldest, in creation order.
        h.Engine.Trace = null;
        for (int k = 0; k < 3; k++)
        {
            var next = h.Forward(Tcp("02:00:00:00:01:03", "192.168.101.3", Vip, (ushort)(100 + k), 443, Syn), t + (3 + k) * Ms);
            Assert.Equal(2 + k, EngineHarness.Tcp(next).SourcePort);
        }
        Assert.Equal(4, h.Counters.NatPortEvictions);
    }

    /// <summary>(entries the backend answered, entries their client completed) → the port taken: the oldest entry that is
    /// not ASSURED, whether the backend answered it (SYN_RECV: the flood, the backends answering every SYN) or not.</summary>
    [Theory]
    [InlineData(0, 0, 1)]       // SYN_SENT only: the first entry
    [InlineData(511, 0, 1)]     // every one SYN_RECV: still the first
    [InlineData(10, 10, 11)]    // entries 0–9 ESTABLISHED and ASSURED: entry 10
    [InlineData(20, 10, 11)]    // 0–9 ASSURED, 10–19 SYN_RECV: entry 10
    [InlineData(510, 510, 511)] // only the last one not ASSURED
    public void Process_SomeEntriesAssured_OldestUnassuredOneEvicted(int replied, int assured, int expectedPort)
    {
        var h = Exhausted(out long t, replied: replied, assured: assured);
        var syn = h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, 7, 443, Syn), t + Ms);
        Assert.Equal(expectedPort, EngineHarness.Tcp(syn).SourcePort);
        Assert.Equal(1, h.Counters.NatPortEvictions);
    }

    [Fact]
    public void Process_EveryEntryAssured_NewFlowDroppedAndCounted()
    {
        var h = Exhausted(out long t, assured: 511);
        Assert.Empty(h.Process(Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, 7, 443, Syn), t + Ms));
        Assert.Equal(1, h.Counters.Drops[(int)DropReason.NatPortsExhausted]);
        Assert.Equal(0, h.Counters.NatPortEvictions);
        Assert.Equal(511, h.Engine.Table.Count);
        Assert.True(h.Engine.UnderPressure(t + Ms)); // the failed search puts the engine under pressure all the same
    }

    [Fact]
    public void Process_OlderUnassuredEntriesOfAnotherBackendPort_SkippedAndKept()
    {
        // Five unassured entries to bck0:444 are older than the 511 to bck0:443, but free no port of the 443 space.
        var h = new EngineHarness(Farm("443,444"), new EngineOptions { Seed = 1, MaxConnections = 4096 });
        h.LearnBackends();
        long t = S;
        for (int i = 0; i < 5; i++) h.Forward(FloodSyn(1000 + i, (ushort)(i + 1), 444), t += Ms);
        for (int i = 0; i < 511; i++) h.Forward(FloodSyn(i, (ushort)(i + 1)), t += Ms);
        var syn = h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, 7, 443, Syn), t += Ms);
        Assert.Equal(1, EngineHarness.Tcp(syn).SourcePort);
        Assert.Equal(443, EngineHarness.Tcp(syn).DestinationPort);
        Assert.Equal(1, h.Counters.NatPortEvictions);
        for (int i = 0; i < 5; i++)
            Assert.True(h.Engine.Table.Lookup(new(IpAddr.Parse(Spoofed(1000 + i)), IpAddr.Parse(Vip), (ushort)(i + 1), 444, IpProtocols.Tcp), t, out _) >= 0);
    }

    [Fact]
    public void Process_OlderUnassuredEntriesOfAnotherPortClass_SkippedWithoutScanningThem()
    {
        // 1,000 unassured entries with ports ≥ 1024 are older than the 511 of the class 1–511 (hping3 cycles its source
        // port through every class): a SYN from port 7 still finds the oldest of its own class at once.
        var h = new EngineHarness(Farm(), new EngineOptions { Seed = 1, MaxConnections = 4096 });
        h.LearnBackends();
        long t = S;
        for (int i = 0; i < 1000; i++) h.Forward(FloodSyn(1000 + i, (ushort)(2000 + i)), t += Ms);
        for (int i = 0; i < 511; i++) h.Forward(FloodSyn(i, (ushort)(i + 1)), t += Ms);
        var syn = h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, 7, 443, Syn), t += Ms);
        Assert.Equal(1, EngineHarness.Tcp(syn).SourcePort);
        Assert.Equal(1, h.Counters.NatPortEvictions);
        Assert.Equal(1511, h.Engine.Table.Count);
    }

    [Fact]
    public void Process_Hping3PortsAnsweredByTheBackend_EverySynServed()
    {
        // hping3 counts its source port up by one per SYN, and the backend answers each (SYN_RECV). Ports 512–599 are
        // in no class: kept as the clients' own, they can free no port a search takes, so they are no candidates (88 of
        // them in a row used to fill the oldest end of the 600–1023 list and make every eviction fail).
        var h = new EngineHarness(Farm(), new EngineOptions { Seed = 1, MaxConnections = 8192 });
        h.LearnBackends();
        long t = S;
        for (int i = 0; i < 3 * 512; i++)
        {
            ushort port = (ushort)(512 + i % 512);
            var syn = h.Forward(FloodSyn(i, port), t += 100_000);
            h.Forward(Tcp(Bck0Mac, "192.168.1.10", Vip, 443, EngineHarness.Tcp(syn).SourcePort, Syn | Ack, seq: 9000, ack: (uint)i + 1), t);
        }
        Assert.Equal(0, h.Counters.Drops[(int)DropReason.NatPortsExhausted]);
        Assert.True(h.Counters.NatPortEvictions >= 512, $"{h.Counters.NatPortEvictions} evictions");
    }

    [Fact]
    public void Process_CrowdedPortSpace_FreePortFoundThenPressureSoTheNextEvictsAfterAShortSearch()
    {
        // 500 of the 511 ports of the class taken (1–500): a SYN whose port is taken finds one of the 11 free ports after
        // a long search (it runs on from a random offset), which puts the engine under pressure; the next ones try 2
        // candidates and evict.
        var h = new EngineHarness(Farm(), new EngineOptions { Seed = 1, MaxConnections = 4096 });
        h.LearnBackends();
        long t = S;
        for (int i = 0; i < 500; i++) h.Forward(FloodSyn(i, (ushort)(i + 1)), t += Ms);
        Assert.False(h.Engine.UnderPressure(t));
        var first = h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, 7, 443, Syn), t += Ms);
        Assert.InRange(EngineHarness.Tcp(first).SourcePort, 501, 511);
        Assert.True(h.Engine.UnderPressure(t));
        Assert.Equal(0, h.Counters.NatPortEvictions);
        for (int k = 0; k < 5; k++) h.Forward(Tcp("02:00:00:00:01:03", "192.168.101.3", Vip, (ushort)(20 + k), 443, Syn), t += Ms);
        Assert.True(h.Counters.NatPortEvictions >= 1, $"{h.Counters.NatPortEvictions} evictions");
    }

    [Fact]
    public void Process_UnassuredUdpFlowsFillThePortSpace_OldestEvicted()
    {
        var h = new EngineHarness(Farm(), new EngineOptions { Seed = 1, MaxConnections = 4096 });
        h.LearnBackends();
        long t = S;
        for (int i = 0; i < 511; i++) h.Forward(Udp(ClientMac, Spoofed(i), Vip, (ushort)(i + 1), 443), t += Ms);
        var d = h.Forward(Udp("02:00:00:00:01:02", "192.168.101.2", Vip, 7, 443), t += Ms);
        Assert.Equal(1, EngineHarness.Udp(d).SourcePort);
        Assert.Equal(1, h.Counters.NatPortEvictions);
    }

    /// <summary>Timeout given to a new TCP entry (SYN_SENT: 120 s; 5 s under pressure) and UDP flow (30 s; 5 s).</summary>
    [Theory]
    [InlineData(0, "tcp", 120)]    // no pressure
    [InlineData(0, "udp", 30)]
    [InlineData(17, "tcp", 120)]   // 17 of 20 entries: 85 %
    [InlineData(18, "tcp", 5)]     // 18 of 20: 90 %, under pressure
    [InlineData(18, "udp", 5)]
    [InlineData(19, "tcp", 5)]
    public void Process_NewUnassuredEntry_TimeoutShortenedWhileTableUnderPressure(int before, string proto, long expectedSeconds)
    {
        var h = new EngineHarness(Farm(), new EngineOptions { Seed = 1, MaxConnections = 20 });
        h.LearnBackends();
        long t = S;
        for (int i = 0; i < before; i++) h.Forward(FloodSyn(i, (ushort)(2000 + i)), t);
        Assert.Equal(before >= 18, h.Engine.UnderPressure(t));
        h.Forward(proto == "tcp" ? Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, 7000, 443, Syn) : Udp("02:00:00:00:01:02", "192.168.101.2", Vip, 7000, 443), t);
        Assert.Equal(t + expectedSeconds * S, EntryOf(h, "192.168.101.2", 7000).ExpiresNs);
    }

    [Fact]
    public void Process_PortSearchCrowded_UnassuredTimeoutShortFor10SecondsThenNormal()
    {
        var h = Exhausted(out long t);
        t += Ms;
        h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, 7, 443, Syn), t); // search fails: pressure for 10 s
        Assert.Equal(t + 5 * S, EntryOf(h, "192.168.101.2", 7).ExpiresNs);
        // A SYN_SENT entry made under pressure is gone after 5 s: its SYN retransmitted later is a new connection.
        Assert.Equal(-1, h.Engine.Table.Lookup(new(IpAddr.Parse("192.168.101.2"), IpAddr.Parse(Vip), 7, 443, IpProtocols.Tcp), t + 5 * S, out _));
        // Until the handshake completes the short timeout holds (SYN_RECV: 5 s, not 60); ASSURED lifts it (ESTABLISHED: 5 days).
        h.Forward(Tcp("02:00:00:00:01:04", "192.168.101.4", Vip, 5000, 443, Syn), t + S); // its own port is free: no search
        var e = EntryOf(h, "192.168.101.4", 5000);
        Assert.Equal(t + 6 * S, e.ExpiresNs);
        h.Forward(Tcp(Bck0Mac, "192.168.1.10", Vip, 443, e.Reply.DstPort, Syn | Ack, seq: 7000, ack: 1001), t + 2 * S);
        Assert.Equal(t + 7 * S, EntryOf(h, "192.168.101.4", 5000).ExpiresNs);
        h.Forward(Tcp("02:00:00:00:01:04", "192.168.101.4", Vip, 5000, 443, Ack, seq: 1001, ack: 7001), t + 3 * S);
        Assert.Equal(t + 3 * S + 432_000 * S, EntryOf(h, "192.168.101.4", 5000).ExpiresNs);
        // 10 s after the last failed search (nothing fails in between: the table empties as the flood's entries expire).
        Assert.True(h.Engine.UnderPressure(t + 10 * S - 1));
        Assert.False(h.Engine.UnderPressure(t + 10 * S));
        h.Forward(Tcp("02:00:00:00:01:05", "192.168.101.5", Vip, 9, 443, Syn), t + 200 * S);
        Assert.Equal(t + 320 * S, EntryOf(h, "192.168.101.5", 9).ExpiresNs);
    }

    [Fact]
    public void Process_FloodFillsBothBackendsPortSpaces_NewConnectionsStillServed()
    {
        // The lab, in the engine: 2 backends, 140,000 SYNs from random spoofed sources and ports ≥ 1024 (more
        // than the 2 × 64,512 ports), then 20 connections each completing its handshake and exchanging data.
        var h = new EngineHarness("""
            {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"weight",
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
            """, new EngineOptions { Seed = 1 });
        h.LearnBackends();
        var rnd = new Random(7);
        long t = S;
        for (int i = 0; i < 140_000; i++)
        {
            t += 20_000; // 50,000 SYNs a second
            h.Engine.Process(Tcp(ClientMac, Spoofed(rnd.Next(1 << 17)), Vip, (ushort)rnd.Next(1024, 65536), 80, Syn, seq: (uint)i), 0, t);
            if (i % 1000 == 0) h.LearnBackends(t); // the backends keep talking (ARP refresh)
        }
        h.AssertInvariant();
        for (int k = 0; k < 20; k++)
        {
            t += 10 * Ms;
            ushort cport = (ushort)(40000 + k);
            var syn = h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, cport, 80, Syn), t);
            string backend = Dst(syn);
            ushort snatPort = EngineHarness.Tcp(syn).SourcePort;
            string mac = backend == "192.168.1.10" ? Bck0Mac : Bck1Mac;
            var synAck = h.Forward(Tcp(mac, backend, Vip, 80, snatPort, Syn | Ack, seq: 7000, ack: 1001), t + Ms);
            Assert.Equal(cport, EngineHarness.Tcp(synAck).DestinationPort);
            h.Forward(Tcp("02:00:00:00:01:02", "192.168.101.2", Vip, cport, 80, Ack | Psh, seq: 1001, ack: 7001, payload: 10), t + 2 * Ms);
            var data = h.Forward(Tcp(mac, backend, Vip, 80, snatPort, Ack | Psh, seq: 7001, ack: 1011, payload: 100), t + 3 * Ms);
            Assert.Equal("192.168.101.2", Dst(data));
        }
        Assert.True(h.Counters.NatPortEvictions > 0);
        Assert.Equal(0, h.Counters.Drops[(int)DropReason.NatPortsExhausted]);
    }

    private static UserLB.Engine.Conntrack.ConnEntry EntryOf(EngineHarness h, string client, ushort port)
    {
        foreach (int i in h.LiveEntries())
            if (h.Engine.Table[i].Original.Src == IpAddr.Parse(client) && h.Engine.Table[i].Original.SrcPort == port) return h.Engine.Table[i];
        throw new InvalidOperationException($"no entry for {client}:{port}");
    }

    private sealed class StringTrace : IPacketTrace
    {
        public StringBuilder Text { get; } = new();
        public void Frame(long frameNumber, long nowNs, string summary) => Text.Append('#').Append(frameNumber).Append(' ').AppendLine(summary);
        public void Step(string text) => Text.Append("    ").AppendLine(text);
    }
}
