using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using PacketDotNet;
using UserLB.CaptureGen;
using UserLB.IO.PcapFiles;

namespace UserLB.Cli.Tests;

/// <summary>One packet block of a pcapng file replay wrote, as our reader sees it.</summary>
internal sealed record NgFrame(string Interface, long TimestampNs, byte[] Data, PacketDirection Direction, string Comment)
{
    public string[] CommentLines => Comment.Length == 0 ? [] : Comment.Split('\n');
}

/// <summary>Reading replay's outputs back, and the captures and frames the replay tests feed it.</summary>
internal static class ReplayFiles
{
    public const string Lb = "02-AA-00-00-00-FE";
    public const string Client = "02-AA-00-00-00-01";

    public const string ReferenceFarm = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"443","mode":"snat","scheduler":"rr",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    public static string RepositoryRoot =>
        CaptureWriter.FindRepositoryRoot(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException("UserLB.sln not found above " + AppContext.BaseDirectory);

    public static string Capture(string name) => Path.Combine(RepositoryRoot, "captures", name);

    public static List<NgFrame> ReadNg(string path)
    {
        using var r = PcapReader.Open(path);
        var frames = new List<NgFrame>();
        while (r.TryReadNext(out var rec))
            frames.Add(new NgFrame(r.InterfaceName(rec.InterfaceId) ?? "?", rec.TimestampNanos, rec.Data.ToArray(), rec.Direction, Encoding.UTF8.GetString(rec.Comments)));
        Assert.True(r.Error is null, $"{path}: {r.Error}");
        return frames;
    }

    public static List<TimedFrame> ReadPcap(string path)
    {
        using var r = PcapReader.Open(path);
        var frames = new List<TimedFrame>();
        while (r.TryReadNext(out var rec)) frames.Add(new TimedFrame(rec.TimestampNanos, rec.Data.ToArray()));
        Assert.True(r.Error is null, $"{path}: {r.Error}");
        return frames;
    }

    public static byte[] Tcp(string src, string dst, ushort sport, ushort dport, UserLB.CaptureGen.TcpFlags flags, uint seq = 1, uint ack = 0, string srcMac = Client, string dstMac = Lb)
    {
        var tcp = new TcpPacket(sport, dport)
        {
            Synchronize = (flags & UserLB.CaptureGen.TcpFlags.Syn) != 0,
            Acknowledgment = (flags & UserLB.CaptureGen.TcpFlags.Ack) != 0,
            Finished = (flags & UserLB.CaptureGen.TcpFlags.Fin) != 0,
            Reset = (flags & UserLB.CaptureGen.TcpFlags.Rst) != 0,
            SequenceNumber = seq,
            AcknowledgmentNumber = ack,
            WindowSize = 1000,
        };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 64, PayloadPacket = tcp };
        var eth = new EthernetPacket(PhysicalAddress.Parse(srcMac), PhysicalAddress.Parse(dstMac), EthernetType.IPv4) { PayloadPacket = ip };
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    public static byte[] ArpReply(string mac, string ip) =>
        new EthernetPacket(PhysicalAddress.Parse(mac), PhysicalAddress.Parse(Lb), EthernetType.Arp)
        {
            PayloadPacket = new ArpPacket(ArpOperation.Response, PhysicalAddress.Parse(Lb), IPAddress.Parse("192.168.101.250"), PhysicalAddress.Parse(mac), IPAddress.Parse(ip)),
        }.Bytes;

    /// <summary>
    /// A pcapng capture of a handshake through the reference farm (rr: bck0), then an invalid SYN|ACK from the client in
    /// ESTABLISHED: ARP replies from both backends and the client, SYN, SYN|ACK, ACK, SYN|ACK (tcp_invalid).
    /// </summary>
    public static void WriteHandshakeThenInvalid(string path)
    {
        const UserLB.CaptureGen.TcpFlags Syn = UserLB.CaptureGen.TcpFlags.Syn, Ack = UserLB.CaptureGen.TcpFlags.Ack;
        using var w = PcapNgWriter.Create(path);
        int eth = w.AddInterface("eth0");
        long t = 1_700_000_000_000_000_000;
        w.Write(eth, t++, ArpReply("02-AA-00-00-00-10", "192.168.1.10"));
        w.Write(eth, t++, ArpReply("02-AA-00-00-00-11", "192.168.1.11"));
        w.Write(eth, t++, ArpReply(Client, "192.168.101.1"));
        w.Write(eth, t++, Tcp("192.168.101.1", "192.168.101.250", 40000, 443, Syn, seq: 100));
        w.Write(eth, t++, Tcp("192.168.1.10", "192.168.101.250", 443, 40000, Syn | Ack, seq: 500, ack: 101, srcMac: "02-AA-00-00-00-10"));
        w.Write(eth, t++, Tcp("192.168.101.1", "192.168.101.250", 40000, 443, Ack, seq: 101, ack: 501));
        w.Write(eth, t, Tcp("192.168.101.1", "192.168.101.250", 40000, 443, Syn | Ack, seq: 101, ack: 501));
    }
}
