using System.Buffers.Binary;
using System.Net;
using PacketDotNet;
using UserLB.IO.Live;
using UserLB.Packets;

namespace UserLB.IO.Tests.Live;

/// <summary>
/// libpcap shows no virtio-net header: <see cref="PcapPort.Infer"/> recognises a partial checksum (the field holds the
/// folded pseudo-header sum) and a super-frame (an IP packet larger than the MTU) from the frame itself.
/// </summary>
public class PcapOffloadInferenceTests
{
    private static byte[] Frame(bool v6, bool udp, int payload)
    {
        var data = new byte[payload];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(i * 7);
        TransportPacket l4 = udp ? new UdpPacket(40000, 53) { PayloadData = data } : new TcpPacket(40000, 80) { Acknowledgment = true, SequenceNumber = 9, PayloadData = data };
        IPPacket ip = v6
            ? new IPv6Packet(IPAddress.Parse("2001:db8::1"), IPAddress.Parse("2001:db8::fa")) { HopLimit = 64, PayloadPacket = l4 }
            : new IPv4Packet(IPAddress.Parse("192.168.101.1"), IPAddress.Parse("192.168.101.250")) { TimeToLive = 64, PayloadPacket = l4 };
        if (l4 is TcpPacket t) t.UpdateTcpChecksum();
        else ((UdpPacket)l4).UpdateUdpChecksum();
        if (ip is IPv4Packet v4) v4.UpdateIPChecksum();
        return LiveFrames.Eth(LiveFrames.ClientMac, "02:00:00:00:00:fe", ip, v6 ? EthernetType.IPv6 : EthernetType.IPv4);
    }

    /// <summary>Replaces the transport checksum by the folded pseudo-header sum, as a veth with checksum offload leaves it.</summary>
    private static byte[] Partial(byte[] frame)
    {
        Assert.Equal(DropReason.None, PacketParser.ParseAnySize(frame, out var p));
        int field = p.L4Offset + (p.Protocol == IpProtocols.Tcp ? Offsets.TcpChecksum : Offsets.UdpChecksum);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(field), Checksum.Fold(ChecksumVerifier.PseudoHeaderSum(frame, p)));
        return frame;
    }

    public static TheoryData<string, byte[], VnetHeader> Cases() => new()
    {
        { "TCPv4, full checksum", Frame(false, false, 100), default },
        { "UDPv6, full checksum", Frame(true, true, 100), default },
        { "TCPv4, partial", Partial(Frame(false, false, 100)), VnetHeader.Partial(34, Offsets.TcpChecksum) },
        { "UDPv4, partial", Partial(Frame(false, true, 100)), VnetHeader.Partial(34, Offsets.UdpChecksum) },
        { "TCPv6, partial", Partial(Frame(true, false, 100)), VnetHeader.Partial(54, Offsets.TcpChecksum) },
        { "TCPv4 super-frame, partial", Partial(Frame(false, false, 30000)), new VnetHeader(VnetHeader.FlagNeedsChecksum, VnetHeader.GsoTcpV4, 0, 1460, 34, Offsets.TcpChecksum) },
        { "TCPv6 super-frame, full checksum", Frame(true, false, 30000), new VnetHeader(VnetHeader.FlagNeedsChecksum, VnetHeader.GsoTcpV6, 0, 1440, 54, Offsets.TcpChecksum) },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Infer_FrameSeenWithoutItsHeader_OffloadsAsTheFrameShowsThem(string what, byte[] frame, VnetHeader expected) =>
        Assert.True(expected == PcapPort.Infer(frame, 1500), $"{what}: expected {expected}, got {PcapPort.Infer(frame, 1500)}");

    [Fact]
    public void Infer_Arp_Plain() => Assert.True(PcapPort.Infer(LiveFrames.ArpReply("192.168.1.10", "02:00:00:00:01:00"), 1500).IsPlain);
}
