using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using UserLB.Engine.Config;
using UserLB.IO.PcapFiles;
using UserLB.IO.Replay;

namespace UserLB.Cli.Tests;

public sealed class ReplayTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-replay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string ReferenceFarm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"weight",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private static byte[] Tcp(string srcMac, string dstMac, string src, string dst, ushort sport, ushort dport, bool syn, bool ack)
    {
        var tcp = new TcpPacket(sport, dport) { Synchronize = syn, Acknowledgment = ack, SequenceNumber = 1, WindowSize = 1000 };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 64, PayloadPacket = tcp };
        var eth = new EthernetPacket(PhysicalAddress.Parse(srcMac), PhysicalAddress.Parse(dstMac), EthernetType.IPv4) { PayloadPacket = ip };
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    private static byte[] ArpReply(string mac, string ip, string lbMac) =>
        new EthernetPacket(PhysicalAddress.Parse(mac), PhysicalAddress.Parse(lbMac), EthernetType.Arp)
        {
            PayloadPacket = new ArpPacket(ArpOperation.Response, PhysicalAddress.Parse(lbMac), IPAddress.Parse("192.168.101.250"), PhysicalAddress.Parse(mac), IPAddress.Parse(ip)),
        }.Bytes;

    [Fact]
    public void Run_SynThenBackendAnswers_WritesTranslatedFramesWithCauseTimestamps()
    {
        string input = Path.Combine(_dir, "in.pcap"), output = Path.Combine(_dir, "out.pcap");
        const string Lb = "02-AA-00-00-00-FE", Client = "02-AA-00-00-00-01";
        using (var w = PcapWriter.Create(input))
        {
            w.Write(1_000_000_000, Tcp(Client, Lb, "192.168.101.1", "192.168.101.250", 40000, 443, true, false));
            w.Write(1_000_500_000, ArpReply("02-AA-00-00-00-10", "192.168.1.10", Lb));
            w.Write(1_000_600_000, ArpReply("02-AA-00-00-00-11", "192.168.1.11", Lb));
        }
        var result = ReplayRunner.Run(ConfigParser.Parse(ReferenceFarm), input, output, new ReplayOptions { Seed = 3 });
        Assert.Equal(3, result.FramesIn);
        Assert.Equal("02:aa:00:00:00:fe", result.Mac.ToString());

        using var r = PcapReader.Open(output);
        var frames = new List<(long Ts, byte[] Data)>();
        while (r.TryReadNext(out var rec)) frames.Add((rec.TimestampNanos, rec.Data.ToArray()));
        Assert.Null(r.Error);
        // ARP request for the chosen backend at the SYN's time, then the SYN when the backend answered.
        Assert.Equal(2, frames.Count);
        Assert.Equal(1_000_000_000, frames[0].Ts);
        var arp = Packet.ParsePacket(LinkLayers.Ethernet, frames[0].Data).Extract<ArpPacket>();
        Assert.Equal(ArpOperation.Request, arp.Operation);
        string backend = arp.TargetProtocolAddress.ToString();
        Assert.Contains(backend, new[] { "192.168.1.10", "192.168.1.11" });
        var syn = Packet.ParsePacket(LinkLayers.Ethernet, frames[1].Data);
        var ip = syn.Extract<IPv4Packet>();
        Assert.Equal(backend, ip.DestinationAddress.ToString());
        Assert.Equal("192.168.101.250", ip.SourceAddress.ToString());
        Assert.True(ip.ValidIPChecksum);
        Assert.True(syn.Extract<TcpPacket>().ValidTcpChecksum);
        Assert.Equal("02AA000000FE", ((EthernetPacket)syn).SourceHardwareAddress.ToString());
    }

    [Fact]
    public void Run_SameSeed_SameOutput()
    {
        string input = Path.Combine(_dir, "in.pcap");
        const string Lb = "02-AA-00-00-00-FE";
        using (var w = PcapWriter.Create(input))
        {
            w.Write(1, ArpReply("02-AA-00-00-00-10", "192.168.1.10", Lb));
            w.Write(2, ArpReply("02-AA-00-00-00-11", "192.168.1.11", Lb));
            for (int i = 0; i < 50; i++)
                w.Write(10 + i, Tcp("02-AA-00-00-00-01", Lb, "192.168.101.1", "192.168.101.250", (ushort)(30000 + i), 443, true, false));
        }
        var config = ConfigParser.Parse(ReferenceFarm);
        string a = Path.Combine(_dir, "a.pcap"), b = Path.Combine(_dir, "b.pcap");
        ReplayRunner.Run(config, input, a, new ReplayOptions { Seed = 9 });
        ReplayRunner.Run(config, input, b, new ReplayOptions { Seed = 9 });
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.True(new FileInfo(a).Length > 24 + 50 * 16);
    }
}
