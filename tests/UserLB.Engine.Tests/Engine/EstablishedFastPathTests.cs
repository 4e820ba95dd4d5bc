using System.Buffers.Binary;
using PacketDotNet;
using UserLB.Engine.Conntrack;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// The established-flow fast path (PacketEngine.Fast.cs) against the general path: two engines with the same
/// configuration and seed get the same random TCP or UDP traffic; one has a trace attached, which keeps every packet on the
/// general path (some frames VLAN-tagged, some IPv4 headers with options). Every frame sent, every counter and every
/// conntrack entry must be the same.
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

    /// <summary>Two engines, one configuration and seed, the backends' MACs known; the general one has a trace attached.</summary>
    private sealed class Pair
    {
        public Pair(string json, bool v6)
        {
            V6 = v6;
            General = new EngineHarness(json);
            General.Engine.Trace = new SilentTrace();
            Fast = new EngineHarness(json);
            foreach (var h in new[] { General, Fast })
            {
                for (int b = 0; b < 2; b++)
                    h.Process(v6 ? NeighborAdvertisement(BackendMacs[b], Backends[b], Vip) : ArpReply(BackendMacs[b], Backends[b]), 0);
            }
        }

        public bool V6 { get; }
        public EngineHarness General { get; }
        public EngineHarness Fast { get; }
        public string Vip => V6 ? "2001:db8::fa" : "192.168.101.250";
        public string Client => V6 ? "2001:db8::1" : "192.168.101.1";
        public string[] Backends => V6 ? ["2001:db8:1::10", "2001:db8:1::11"] : ["192.168.1.10", "192.168.1.11"];
        public static readonly string[] BackendMacs = [Bck0Mac, Bck1Mac];

        /// <summary>The frame through both engines: the same frames must come out.</summary>
        public List<byte[]> Both(byte[] frame, long nowNs)
        {
            var a = General.Process(frame, nowNs);
            var b = Fast.Process(frame, nowNs);
            Assert.Equal(a.Count, b.Count);
            for (int i = 0; i < a.Count; i++) Assert.Equal(Convert.ToHexString(a[i]), Convert.ToHexString(b[i]));
            return b;
        }

        /// <summary>A flow's first packet went out (to the backend): where to, and the addresses and ports seen there.</summary>
        public Flow FlowOf(byte[] sent, ushort clientPort)
        {
            var ip = EngineHarness.Ip(sent);
            var ports = Packet.ParsePacket(LinkLayers.Ethernet, sent).Extract<TransportPacket>();
            string backend = ip.DestinationAddress.ToString();
            return new Flow(clientPort, backend, BackendMacs[Array.IndexOf(Backends, backend)], ip.SourceAddress.ToString(), ports.DestinationPort, ports.SourcePort);
        }

        /// <summary>Same counters and same conntrack entries; at least one entry prepared in both directions.</summary>
        public void AssertSameState()
        {
            AssertSameCounters(General.Counters, Fast.Counters);
            Assert.Equal(General.LiveEntries(), Fast.LiveEntries());
            int prepared = 0;
            foreach (int i in Fast.LiveEntries())
            {
                ref readonly var g = ref General.Engine.Table[i];
                ref readonly var e = ref Fast.Engine.Table[i];
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
    }

    private sealed record Flow(ushort ClientPort, string Backend, string BackendMac, string AtBackend, ushort BackendPort, ushort PortAtBackend);

    private static Pair Create(bool v6, string mode, string port, bool udp)
    {
        string json = (v6 ? V6Farm : V4Farm).Replace("MODE", mode).Replace("PORT", port);
        if (udp) json = json.Replace("\"virtual-ports\":\"443\"", "\"virtual-ports\":\"53\",\"protocol\":\"udp\"");
        return new Pair(json, v6);
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
        var pair = Create(v6, mode, port, udp: false);
        var random = new Random(seed);
        long now = EngineHarness.S;
        var flows = new List<Flow>();
        for (int i = 0; i < 6; i++)
        {
            ushort clientPort = (ushort)(40000 + i);
            var syn = pair.Both(Tcp(ClientMac, pair.Client, pair.Vip, clientPort, 443, Syn), now += EngineHarness.Ms);
            var f = pair.FlowOf(Assert.Single(syn), clientPort);
            flows.Add(f);
            Assert.Single(pair.Both(Tcp(f.BackendMac, f.Backend, f.AtBackend, f.BackendPort, f.PortAtBackend, Syn | Ack), now += EngineHarness.Ms));
            Assert.Single(pair.Both(Tcp(ClientMac, pair.Client, pair.Vip, clientPort, 443, Ack), now += EngineHarness.Ms));
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
                : Tcp(ClientMac, pair.Client, pair.Vip, f.ClientPort, 443, flags, (uint)random.Next(), (uint)random.Next(), payload, ttl);
            if (payload >= 2 && random.Next(4) == 0) ZeroChecksum(frame, v6, alternative: random.Next(2) == 0);
            if (!v6 && random.Next(6) == 0) frame = WithIpv4Options(frame);
            if (random.Next(6) == 0) frame = Tagged(frame);
            sent += pair.Both(frame, now += random.Next(1, 3) * EngineHarness.Ms).Count;
        }
        Assert.True(sent > 1000, $"only {sent} frames forwarded");
        pair.AssertSameState();
    }

    [Theory]
    [InlineData(false, "snat", "", 11)]
    [InlineData(false, "dnat", "5353", 12)]
    [InlineData(true, "snat", "", 13)]
    [InlineData(true, "dnat", "", 14)]
    public void Process_RandomUdpTraffic_SameFramesCountersAndEntriesAsTheGeneralPath(bool v6, string mode, string port, int seed)
    {
        var pair = Create(v6, mode, port, udp: true);
        var random = new Random(seed);
        long now = EngineHarness.S;
        var flows = new List<Flow>();
        for (int i = 0; i < 6; i++)
        {
            ushort clientPort = (ushort)(30000 + i);
            flows.Add(pair.FlowOf(Assert.Single(pair.Both(Udp(ClientMac, pair.Client, pair.Vip, clientPort, 53), now += EngineHarness.Ms)), clientPort));
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
                : Udp(ClientMac, pair.Client, pair.Vip, f.ClientPort, 53, payload, ttl);
            if (!v6 && random.Next(4) == 0)
            {
                int field = 14 + 20 + 6; // IPv4 UDP without a checksum
                frame[field] = 0;
                frame[field + 1] = 0;
            }
            // Mostly a few ms apart, sometimes a second: the flows cross the 2-second stream boundary (ASSURED) while running.
            sent += pair.Both(frame, now += random.Next(30) == 0 ? EngineHarness.S : random.Next(1, 3) * EngineHarness.Ms).Count;
        }
        Assert.True(sent > 1000, $"only {sent} frames forwarded");
        pair.AssertSameState();
    }

    /// <summary>The frame with an 802.1Q tag (VLAN 100) after the MAC addresses: the IP packet starts 4 bytes later.</summary>
    private static byte[] Tagged(byte[] frame)
    {
        var tagged = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), EtherTypes.Vlan);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), 100);
        frame.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }

    /// <summary>An untagged IPv4 frame with 4 bytes of options (three NOPs, end of list) in its header: the transport
    /// header starts 4 bytes later; the header checksum recomputed, the L4 checksum unchanged (same pseudo-header).</summary>
    private static byte[] WithIpv4Options(byte[] frame)
    {
        var f = new byte[frame.Length + 4];
        frame.AsSpan(0, 14 + 20).CopyTo(f);
        f.AsSpan(34, 4).Fill(1);
        f[37] = 0;
        frame.AsSpan(34).CopyTo(f.AsSpan(38));
        var ip = f.AsSpan(14, 24);
        ip[0] = 0x46;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(BinaryPrimitives.ReadUInt16BigEndian(ip[2..]) + 4));
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip));
        return f;
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
