using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using UserLB.Engine;

namespace UserLB.IO.Tests.Live;

/// <summary>The frames the live pipeline tests feed: a client, a VIP, two backends; TCP SYN / SYN-ACK and ARP replies.</summary>
internal static class LiveFrames
{
    public const string Vip = "192.168.101.250", Client = "192.168.101.1";
    public const string ClientMac = "02:00:00:00:00:01";
    public static readonly string[] Backends = ["192.168.1.10", "192.168.1.11"];

    public static string BackendMac(int i) => $"02:00:00:00:01:{i:x2}";

    public static byte[] Eth(string srcMac, string dstMac, Packet payload, EthernetType type) =>
        new EthernetPacket(PhysicalAddress.Parse(srcMac), PhysicalAddress.Parse(dstMac), type) { PayloadPacket = payload }.Bytes;

    public static byte[] Tcp(string src, string dst, ushort sport, ushort dport, bool synAck, string srcMac)
    {
        var tcp = new TcpPacket(sport, dport) { Synchronize = true, Acknowledgment = synAck, SequenceNumber = 1, AcknowledgmentNumber = synAck ? 2u : 0u, WindowSize = 1000 };
        var ip = new IPv4Packet(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 64, PayloadPacket = tcp };
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return Eth(srcMac, EngineOptions.DefaultMac.ToString(), ip, EthernetType.IPv4);
    }

    public static byte[] ArpReply(string ip, string mac) =>
        Eth(mac, EngineOptions.DefaultMac.ToString(), new ArpPacket(ArpOperation.Response, PhysicalAddress.Parse(EngineOptions.DefaultMac.ToString()),
            IPAddress.Parse(Client), PhysicalAddress.Parse(mac), IPAddress.Parse(ip)), EthernetType.Arp);

    /// <summary>The TCP/IPv4 frames a port sent, parsed, in order (the queue is emptied).</summary>
    public static List<(IPv4Packet Ip, TcpPacket Tcp)> TakeSentTcp(ConcurrentQueue<byte[]> sent)
    {
        var list = new List<(IPv4Packet, TcpPacket)>();
        while (sent.TryDequeue(out var f))
            if (Packet.ParsePacket(LinkLayers.Ethernet, f) is EthernetPacket { PayloadPacket: IPv4Packet { PayloadPacket: TcpPacket t } ip }) list.Add((ip, t));
        return list;
    }
}
