using UserLB.Packets;
using static UserLB.Engine.Tests.Engine.TestFrames;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// Traffic no farm takes and no connection holds, by the reason it is counted under: multicast control traffic (an
/// IGMP or MLD report, what the LB host's own kernel sends when a port comes up) is not for us; another protocol to a
/// unicast address is unsupported; anything to a VIP on a port or protocol no farm has is no farm.
/// </summary>
public class UntrackedTrafficTests
{
    private const string Farms = """
        {"farms":[{"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","backends":[{"name":"b0","ip-addr":"192.168.1.10"}]},
          {"name":"web6","family":"ipv6","virtual-addr":"2001:db8::fa","virtual-ports":"80","backends":[{"name":"b0","ip-addr":"2001:db8:1::10"}]}]}
        """;

    private const byte Igmp = 2, Gre = 47;

    /// <summary>An IGMPv3 membership report's 8 bytes (type 0x22, no group record).</summary>
    private static byte[] IgmpReport() => [0x22, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>An MLDv2 report (ICMPv6 type 143, no record); the checksum is filled in by <see cref="TestFrames.Ip"/>.</summary>
    private static byte[] MldReport() => [143, 0, 0, 0, 0, 0, 0, 0];

    public static TheoryData<string, byte[], DropReason> Cases() => new()
    {
        { "IGMPv3 report to 224.0.0.22", Ip(ClientMac, "192.168.101.254", "224.0.0.22", Igmp, IgmpReport(), ttl: 1, dstMac: "01:00:5e:00:00:16"), DropReason.NotForUs },
        { "MLDv2 report to ff02::16", Ip(ClientMac, "fe80::1", "ff02::16", IpProtocols.Icmpv6, MldReport(), ttl: 1, dstMac: "33:33:00:00:00:16"), DropReason.NotForUs },
        { "GRE to a unicast address that is no VIP", Ip(ClientMac, "192.168.101.1", "192.168.101.9", Gre, new byte[8]), DropReason.UnsupportedProtocol },
        { "GRE to the VIP", Ip(ClientMac, "192.168.101.1", "192.168.101.250", Gre, new byte[8]), DropReason.NoFarm },
        { "UDP to a multicast group (mDNS)", Udp(ClientMac, "192.168.101.1", "224.0.0.251", 5353, 5353), DropReason.NoFarm },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Process_NoFarmNoConnection_CountedUnderItsReason(string what, byte[] frame, DropReason expected)
    {
        var h = new EngineHarness(Farms);
        Assert.Empty(h.Process(frame, 1));
        Assert.True(h.Counters.Drops[(int)expected] == 1, $"{what}: {h.DropSummary()}");
        Assert.Equal(1, h.Counters.Drops.Sum());
    }
}
