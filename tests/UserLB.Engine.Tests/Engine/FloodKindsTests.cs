using System.Buffers.Binary;
using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.EngineHarness;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// The floods other than SYN, from spoofed sources: ACK, RST, UDP, ICMP echo and fragments. For each: an established
/// connection is forwarded throughout, the table stays within its size, and a counter shows the flood.
/// </summary>
public class FloodKindsTests
{
    private const string Farm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr","protocol":"all",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private const int MaxConnections = 64;
    private const int Flood = 20_000;

    private static string Spoofed(int i) => IpAddr.FromV4(0xC612_0000u + (uint)i + 1).ToString(); // 198.18.0.0/15

    private static ushort Port(int i) => (ushort)(1024 + i % 60000);

    /// <summary>An IPv4 fragment (a non-first piece: offset 1480 bytes) of a UDP datagram to the VIP.</summary>
    private static byte[] Fragment(int i)
    {
        var f = Udp(ClientMac, Spoofed(i), "192.168.101.250", Port(i), 443, payload: 64);
        var ip = f.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 1480 / 8); // MF clear, offset 185 × 8
        ip[10] = 0;
        ip[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Finish(Sum(ip[..20], 0)));
        return f;
    }

    /// <summary>
    /// (flood, frames the engine sends for it, table entries after it, early drops, the drop reason that counts it, its count).
    /// ACK: picked up mid-stream (nf_conntrack_tcp_loose) until the table is under pressure (90 % of 64 = 57 entries), then
    /// refused. RST: never starts a flow. UDP: each a new flow, unassured, so each takes the oldest unassured entry's
    /// place (early_drop). Echo: answered within the budget, 50 at once then 1,000 a second (the flood lasts 1 s).
    /// Fragments: not reassembled, dropped.
    /// </summary>
    public static TheoryData<string, int, int, long, string, long> Kinds() => new()
    {
        { "ack", 56, 57, 0, "tcp_loose_under_pressure", Flood - 56 },
        { "rst", 0, 1, 0, "tcp_no_syn_for_new_flow", Flood },
        { "udp", Flood, MaxConnections, Flood - (MaxConnections - 1), "", 0 },
        { "echo", 1049, 1, 0, "icmp_rate_limited", Flood - 1049 },
        { "fragment", 0, 1, 0, "ipv4_fragment", Flood },
    };

    private static byte[] FloodFrame(string kind, int i) => kind switch
    {
        "ack" => Tcp(ClientMac, Spoofed(i), "192.168.101.250", Port(i), 443, Ack, seq: (uint)i, ack: (uint)i * 7),
        "rst" => Tcp(ClientMac, Spoofed(i), "192.168.101.250", Port(i), 443, Rst, seq: (uint)i),
        "udp" => Udp(ClientMac, Spoofed(i), "192.168.101.250", Port(i), 443),
        "echo" => EchoRequest(ClientMac, Spoofed(i), "192.168.101.250", (ushort)i),
        "fragment" => Fragment(i),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Process_FloodFromSpoofedSources_EstablishedFlowForwardedAndTableBoundedAndCounted(string kind, int sent, int entries, long earlyDrops, string reason, long drops)
    {
        var h = new EngineHarness(Farm, new EngineOptions { Seed = 1, MaxConnections = MaxConnections });
        h.LearnBackends();
        var syn = h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, Syn), S);
        h.Forward(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 443, 40000, Syn | Ack, seq: 5000, ack: 1001), S + Ms);
        h.Forward(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, Ack, seq: 1001, ack: 5001), S + 2 * Ms);
        Assert.Equal("192.168.1.10", Dst(syn));

        int up = 0, down = 0, floodSent = 0;
        long t = 2 * S;
        for (int i = 0; i < Flood; i++)
        {
            t += 50_000; // 20,000 packets a second
            floodSent += h.Process(FloodFrame(kind, i), t).Count;
            if (i % 100 == 0)
            {
                up += h.Process(Tcp(ClientMac, "192.168.101.1", "192.168.101.250", 40000, 443, Psh | Ack, seq: 1001, ack: 5001, payload: 10), t).Count;
                down += h.Process(Tcp(Bck0Mac, "192.168.1.10", "192.168.101.250", 443, 40000, Psh | Ack, seq: 5001, ack: 1011, payload: 10), t).Count;
            }
        }
        Assert.Equal(Flood / 100, up);
        Assert.Equal(Flood / 100, down);
        Assert.Equal(sent, floodSent);
        Assert.Equal(entries, h.Engine.Table.Count);
        Assert.Equal(earlyDrops, h.Engine.Table.EarlyDrops);
        Assert.Equal(reason.Length == 0 ? "" : $"{reason}={drops}", h.DropSummary());
        if (kind is "echo" or "rst" or "fragment") Assert.True(h.Engine.Neighbors.Count <= 3, $"{h.Engine.Neighbors.Count} neighbours learned"); // the backends and the client: no flood sender
        h.AssertInvariant();
    }
}
