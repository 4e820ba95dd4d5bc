using System.Net;
using PacketDotNet;

namespace UserLB.Packets.Tests;

/// <summary>Builds frames with PacketDotNet (an independent implementation) for the tests.</summary>
internal static class Frames
{
    public static byte[] Tcp(string src, string dst, ushort sport, ushort dport, bool syn = true, bool ack = false, byte[]? payload = null)
    {
        var tcp = new TcpPacket(sport, dport) { Synchronize = syn, Acknowledgment = ack, SequenceNumber = 1000, WindowSize = 64240 };
        if (payload is not null) tcp.PayloadData = payload;
        return Wrap(src, dst, tcp);
    }

    public static byte[] Udp(string src, string dst, ushort sport, ushort dport, byte[] payload)
    {
        var udp = new UdpPacket(sport, dport) { PayloadData = payload };
        return Wrap(src, dst, udp);
    }

    private static byte[] Wrap(string src, string dst, TransportPacket l4)
    {
        var s = IPAddress.Parse(src);
        var d = IPAddress.Parse(dst);
        IPPacket ip = s.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? new IPv6Packet(s, d) : new IPv4Packet(s, d) { TimeToLive = 64 };
        ip.PayloadPacket = l4;
        var eth = new EthernetPacket(
            System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-01"),
            System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-FE"),
            ip is IPv6Packet ? EthernetType.IPv6 : EthernetType.IPv4) { PayloadPacket = ip };
        if (ip is IPv4Packet v4) v4.UpdateIPChecksum();
        if (l4 is TcpPacket t) t.UpdateTcpChecksum();
        if (l4 is UdpPacket u) u.UpdateUdpChecksum();
        return eth.Bytes;
    }
}
