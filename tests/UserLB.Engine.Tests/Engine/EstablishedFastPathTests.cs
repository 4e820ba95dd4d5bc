using System.Buffers.Binary;
using UserLB.Engine.Conntrack;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// The established-flow fast path (PacketEngine.Fast.cs) against the general path: two engines with the same
/// configuration and seed get the same random TCP or UDP traffic; one has a trace attached, which keeps every packet on the
/// general path. Every frame sent, every counter and every conntrack entry must be the same.
/// </summary>
public class EstablishedFastPathTests
{
    private const string V4Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"MODE","scheduler":"rr",
          "backends":[{"name":"b0","ip-addr":"192.168.1.10","port":"PORT"},{"name":"b1","ip-addr":"192.168.1.11","port":"PORT"}]}]}
        """;

    private const string V6Farm = """
        {"farms":[{"name":"app","family":"ipv6","virtual-addr":"2001:db8::fa","virtual-ports":"443","mode":"MODE","scheduler":"rr",
          "backends":[{"name":"b0","ip-addr":"2001:db8:1::10","port":"PORT"},{"name":"b1","ip-addr":"2001:db8:1::11","port":"PORT"}]}]}
        """;

    private sealed class SilentTrace : IPacketTrace
    {
        public void Frame(long frameNumber, long nowNs, string summary) { }
        public void Step(string text) { }
    }

    [Theory]
    [InlineData(false, "snat", "", 1)]
    [InlineData(false, "dnat", "", 2)]
    [InlineData(false, "snat", "8443", 3)]
    [InlineData(false, "dnat", "8443", 4)]
    [InlineData(true, "snat", "", 5)]
    [InlineData(true, "dnat", "", 6)]
    [InlineData(true, "snat", "8443", 7)]
    public void Process_RandomTcpTraffic_SameFramesCountersAndEntriesAsTheGeneralPath(bool v6, string mode, string port, int seed)
    {
        string json = (v6 ? V6Farm : V4Farm).Replace("MODE", mode).Replace("PORT", port);
        var general = new EngineHarness(json);
        general.Engine.Trace = new SilentTrace();
        var fast = new EngineHarness(json);
        string vip = v6 ? "2001:db8::fa" : "192.168.101.250";
        string client = v6 ? "2001:db8::1" : "192.168.101.1";
        string[] backends = v6 ? ["2001:db8:1::10", "2001:db8:1::11"] : ["192.168.1.10", "192.168.1.11"];
        string[] backendMacs = [Bck0Mac, Bck1Mac];
        foreach (var h in new[] { general, fast })
            for (int b = 0; b < 2; b++)
                h.Process(v6 ? NeighborAdvertisement(backendMacs[b], backends[b], vip) : ArpReply(backendMacs[b], backends[b]), 0);

        var random = new Random(seed);
        long now = EngineHarness.S;
        var flows = new List<(ushort ClientPort, string Backend, string BackendMac, string AtBackend, ushort BackendPort, ushort PortAtBackend)>();
        for (int i = 0; i < 6; i++)
        {
            ushort clientPort = (ushort)(40000 + i);
            var syn = Both(general, fast, Tcp(ClientMac, client, vip, clientPort, 443, Syn), now += EngineHarness.Ms);
            Assert.Single(syn);
            var ip = EngineHarness.Ip(syn[0]);
            var tcp = EngineHarness.Tcp(syn[0]);
            string backend = ip.DestinationAddress.ToString();
            string backendMac = backendMacs[Array.IndexOf(backends, backend)], atBackend = ip.SourceAddress.ToString();
            flows.Add((clientPort, backend, backendMac, atBackend, tcp.DestinationPort, tcp.SourcePort));
            Assert.Single(Both(general, fast, Tcp(backendMac, backend, atBackend, tcp.DestinationPort, tcp.SourcePort, Syn | Ack), now += EngineHarness.Ms));
            Assert.Single(Both(general, fast, Tcp(ClientMac, client, vip, clientPort, 443, Ack), now += EngineHarness.Ms));
        }

        int sent = 0;
        for (int n = 0; n < 3000; n++)
        {
            var f = flows[random.Next(flows.Count)];
            bool reply = random.Next(2) == 1;
            byte flags = random.Next(40) switch
            {
                0 => Fin | Ack,
                1 => Rst,
                2 => Syn,
                3 => 0,
                4 => Ack | 0x20, // URG
                5 => Ack | Psh | 0x20,
                < 20 => Ack | Psh,
                _ => Ack,
            };
            byte ttl = random.Next(10) switch { 0 => 1, 1 => 2, 2 => 255, _ => 64 };
            int payload = random.Next(0, 48);
            var frame = reply
                ? Tcp(f.BackendMac, f.Backend, f.AtBackend, f.BackendPort, f.PortAtBackend, flags, (uint)random.Next(), (uint)random.Next(), payload, ttl)
                : Tcp(ClientMac, client, vip, f.ClientPort, 443, flags, (uint)random.Next(), (uint)random.Next(), payload, ttl);
            if (payload >= 2 && random.Next(4) == 0) ZeroChecksum(frame, v6, alternative: random.Next(2) == 0);
            sent += Both(general, fast, frame, now += random.Next(1, 3) * EngineHarness.Ms).Count;
        }
        Assert.True(sent > 1000, $"only {sent} frames forwarded");

        AssertSameCounters(general.Counters, fast.Counters);
        Assert.Equal(general.LiveEntries(), fast.LiveEntries());
        int prepared = 0;
        foreach (int i in fast.LiveEntries())
        {
            ref readonly var g = ref general.Engine.Table[i];
            ref readonly var e = ref fast.Engine.Table[i];
            Assert.Equal(g.Original, e.Original);
            Assert.Equal(g.Reply, e.Reply);
            Assert.Equal(g.TcpState, e.TcpState);
            Assert.Equal(g.Status, e.Status);
            Assert.Equal(g.ExpiresNs, e.ExpiresNs);
            Assert.Equal((g.OriginalPackets, g.OriginalBytes, g.ReplyPackets, g.ReplyBytes), (e.OriginalPackets, e.OriginalBytes, e.ReplyPackets, e.ReplyBytes));
            if ((e.FastFlags & 0x11) == 0x11) prepared++;
        }
        Assert.True(prepared > 0, "no entry had both directions prepared for the fast path");
    }

    [Theory]
    [InlineData(false, "snat", "", 11)]
    [InlineData(false, "dnat", "5353", 12)]
    [InlineData(true, "snat", "", 13)]
    [InlineData(true, "dnat", "", 14)]
    public void Process_RandomUdpTraffic_SameFramesCountersAndEntriesAsTheGeneralPath(bool v6, string mode, string port, int seed)
    {
        string json = (v6 ? V6Farm : V4Farm).Replace("MODE", mode).Replace("PORT", port).Replace("\"virtual-ports\":\"443\"", "\"virtual-ports\":\"53\",\"protocol\":\"udp\"");
        var general = new EngineHarness(json);
        general.Engine.Trace = new SilentTrace();
        var fast = new EngineHarness(json);
        string vip = v6 ? "2001:db8::fa" : "192.168.101.250";
        string client = v6 ? "2001:db8::1" : "192.168.101.1";
        string[] backends = v6 ? ["2001:db8:1::10", "2001:db8:1::11"] : ["192.168.1.10", "192.168.1.11"];
        string[] backendMacs = [Bck0Mac, Bck1Mac];
        foreach (var h in new[] { general, fast })
            for (int b = 0; b < 2; b++)
                h.Process(v6 ? NeighborAdvertisement(backendMacs[b], backends[b], vip) : ArpReply(backendMacs[b], backends[b]), 0);

        var random = new Random(seed);
        long now = EngineHarness.S;
        var flows = new List<(ushort ClientPort, string Backend, string BackendMac, string AtBackend, ushort BackendPort, ushort PortAtBackend)>();
        for (int i = 0; i < 6; i++)
        {
            ushort clientPort = (ushort)(30000 + i);
            var first = Both(general, fast, Udp(ClientMac, client, vip, clientPort, 53), now += EngineHarness.Ms);
            Assert.Single(first);
            var ip = EngineHarness.Ip(first[0]);
            var udp = EngineHarness.Udp(first[0]);
            string backend = ip.DestinationAddress.ToString();
            string backendMac = backendMacs[Array.IndexOf(backends, backend)], atBackend = ip.SourceAddress.ToString();
            flows.Add((clientPort, backend, backendMac, atBackend, udp.DestinationPort, udp.SourcePort));
        }

        int sent = 0;
        for (int n = 0; n < 3000; n++)
        {
            var f = flows[random.Next(flows.Count)];
            bool reply = random.Next(2) == 1;
            byte ttl = random.Next(10) switch { 0 => 1, 1 => 2, 2 => 255, _ => 64 };
            int payload = random.Next(0, 48);
            var frame = reply
                ? Udp(f.BackendMac, f.Backend, f.AtBackend, f.BackendPort, f.PortAtBackend, payload, ttl)
                : Udp(ClientMac, client, vip, f.ClientPort, 53, payload, ttl);
            if (!v6 && random.Next(4) == 0)
            {
                int field = 14 + 20 + 6; // IPv4 UDP without a checksum
                frame[field] = 0;
                frame[field + 1] = 0;
            }
            // Mostly a few ms apart, sometimes a second: the flows cross the 2-second stream boundary (ASSURED) while running.
            sent += Both(general, fast, frame, now += random.Next(30) == 0 ? EngineHarness.S : random.Next(1, 3) * EngineHarness.Ms).Count;
        }
        Assert.True(sent > 1000, $"only {sent} frames forwarded");

        AssertSameCounters(general.Counters, fast.Counters);
        Assert.Equal(general.LiveEntries(), fast.LiveEntries());
        int prepared = 0;
        foreach (int i in fast.LiveEntries())
        {
            ref readonly var g = ref general.Engine.Table[i];
            ref readonly var e = ref fast.Engine.Table[i];
            Assert.Equal(g.Original, e.Original);
            Assert.Equal(g.Reply, e.Reply);
            Assert.Equal(g.Status, e.Status);
            Assert.Equal(g.ExpiresNs, e.ExpiresNs);
            Assert.Equal((g.OriginalPackets, g.OriginalBytes, g.ReplyPackets, g.ReplyBytes), (e.OriginalPackets, e.OriginalBytes, e.ReplyPackets, e.ReplyBytes));
            if ((e.FastFlags & 0x11) == 0x11) prepared++;
        }
        Assert.True(prepared > 0, "no entry had both directions prepared for the fast path");
    }

    /// <summary>Sets two payload bytes so the TCP checksum comes out 0 (a valid checksum); <paramref name="alternative"/>:
    /// then writes it as 0xFFFF, the other representation of zero, which verifies too.</summary>
    private static void ZeroChecksum(byte[] frame, bool v6, bool alternative)
    {
        int l4 = 14 + (v6 ? 40 : 20);
        var field = frame.AsSpan(l4 + 16);
        // Adding the old checksum value as a payload word turns the sum into 0xFFFF: the new checksum is 0.
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l4 + 20), 0);
        ushort without = Recompute(frame, v6, l4);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l4 + 20), without);
        BinaryPrimitives.WriteUInt16BigEndian(field, 0);
        ushort zero = Recompute(frame, v6, l4);
        Assert.Equal(0, zero);
        BinaryPrimitives.WriteUInt16BigEndian(field, alternative ? (ushort)0xFFFF : zero);
    }

    private static ushort Recompute(byte[] frame, bool v6, int l4)
    {
        var span = frame.AsSpan();
        BinaryPrimitives.WriteUInt16BigEndian(span[(l4 + 16)..], 0);
        int length = span.Length - l4;
        ulong sum = v6
            ? Checksum.PseudoHeaderV6(span[(14 + 8)..], span[(14 + 24)..], IpProtocols.Tcp, length)
            : Checksum.PseudoHeaderV4(span[(14 + 12)..], span[(14 + 16)..], IpProtocols.Tcp, length);
        return Checksum.Finish(Checksum.SumBigEndian(span[l4..], sum));
    }

    private static List<byte[]> Both(EngineHarness general, EngineHarness fast, byte[] frame, long nowNs)
    {
        var a = general.Process(frame, nowNs);
        var b = fast.Process(frame, nowNs);
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++) Assert.Equal(Convert.ToHexString(a[i]), Convert.ToHexString(b[i]));
        return b;
    }

    private static void AssertSameCounters(EngineCounters a, EngineCounters b)
    {
        Assert.Equal((a.RxFrames, a.RxBytes, a.TxFrames, a.TxBytes, a.Forwarded, a.Consumed, a.NewFlows), (b.RxFrames, b.RxBytes, b.TxFrames, b.TxBytes, b.Forwarded, b.Consumed, b.NewFlows));
        Assert.Equal(a.Drops, b.Drops);
        Assert.Equal(a.FarmDrops, b.FarmDrops);
        Assert.Equal(a.BackendDrops, b.BackendDrops);
        Assert.Equal(a.Backends, b.Backends);
        Assert.Equal(a.Farms, b.Farms);
    }
}
