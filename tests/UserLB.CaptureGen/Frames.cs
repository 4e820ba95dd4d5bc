using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using AddressFamily = System.Net.Sockets.AddressFamily;
using PacketDotNet;
using PacketDotNet.Utils;

namespace UserLB.CaptureGen;

/// <summary>TCP flags as they appear in the header's flag byte.</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
}

/// <summary>The Ethernet addresses of a frame.</summary>
public readonly record struct Link(PhysicalAddress Src, PhysicalAddress Dst);

/// <summary>The IP header fields a scenario chooses (IPv4 or IPv6 by the addresses' family).</summary>
public readonly record struct IpFields(IPAddress Src, IPAddress Dst, int Ttl, ushort Id, bool DontFragment = true);

/// <summary>
/// Frame builders on PacketDotNet. Every frame is built whole from its fields (never by patching another frame), and
/// every checksum is computed in full; <see cref="SelfCheck"/> re-verifies them independently of PacketDotNet.
/// </summary>
public static class Frames
{
    /// <summary>The minimum Ethernet frame without FCS; shorter frames are padded on the wire.</summary>
    public const int MinimumFrame = 60;

    public static PhysicalAddress Mac(string text) => PhysicalAddress.Parse(text.Replace(':', '-'));

    public static IPAddress Ip(string text) => IPAddress.Parse(text);

    /// <summary>Pads a frame with zero bytes to 60 bytes, as a NIC does and a capture on the wire shows.</summary>
    public static byte[] Pad(byte[] frame)
    {
        if (frame.Length >= MinimumFrame) return frame;
        var padded = new byte[MinimumFrame];
        frame.CopyTo(padded, 0);
        return padded;
    }

    // ------------------------------------------------------------------ IP + L4

    public static byte[] Tcp(Link link, IpFields ip, ushort sport, ushort dport, uint seq, uint ack, TcpFlags flags, ushort window, byte[] payload)
    {
        var tcp = new TcpPacket(sport, dport)
        {
            SequenceNumber = seq,
            AcknowledgmentNumber = ack,
            WindowSize = window,
            Synchronize = (flags & TcpFlags.Syn) != 0,
            Acknowledgment = (flags & TcpFlags.Ack) != 0,
            Finished = (flags & TcpFlags.Fin) != 0,
            Push = (flags & TcpFlags.Psh) != 0,
            Reset = (flags & TcpFlags.Rst) != 0,
        };
        if (payload.Length > 0) tcp.PayloadData = payload;
        var ipPacket = IpPacket(ip, ProtocolType.Tcp, tcp);
        tcp.UpdateTcpChecksum();
        return Finish(link, ipPacket);
    }

    public static byte[] Udp(Link link, IpFields ip, ushort sport, ushort dport, byte[] payload) =>
        Finish(link, UdpPacketOf(ip, sport, dport, payload));

    /// <summary>The IP packet (no Ethernet header) of a UDP datagram, e.g. to quote it in an ICMP error.</summary>
    public static byte[] UdpIpBytes(IpFields ip, ushort sport, ushort dport, byte[] payload) =>
        UdpPacketOf(ip, sport, dport, payload).Bytes;

    private static IPPacket UdpPacketOf(IpFields ip, ushort sport, ushort dport, byte[] payload)
    {
        var udp = new UdpPacket(sport, dport) { PayloadData = payload };
        var ipPacket = IpPacket(ip, ProtocolType.Udp, udp);
        udp.UpdateCalculatedValues();
        udp.UpdateUdpChecksum();
        return ipPacket;
    }

    /// <summary>ICMPv4 destination unreachable (type 3) quoting <paramref name="quoted"/> (an IP packet).</summary>
    public static byte[] IcmpUnreachable(Link link, IpFields ip, byte code, byte[] quoted)
    {
        var body = new byte[8 + quoted.Length];
        body[0] = 3;
        body[1] = code;
        quoted.CopyTo(body, 8);
        var icmp = new IcmpV4Packet(new ByteArraySegment(body));
        var ipPacket = IpPacket(ip, ProtocolType.Icmp, icmp);
        icmp.UpdateIcmpChecksum();
        return Finish(link, ipPacket);
    }

    /// <summary>
    /// An ICMPv6 Neighbour Advertisement for <paramref name="target"/> with the target link-layer address option; hop limit
    /// 255 as RFC 4861 requires. Flags: R (router), S (solicited), O (override).
    /// </summary>
    public static byte[] NeighborAdvertisement(Link link, IPAddress src, IPAddress dst, IPAddress target, PhysicalAddress targetMac,
        bool router = false, bool solicited = true, bool overrideFlag = true) =>
        Ndp(link, src, dst, 136, (byte)((router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (overrideFlag ? 0x20 : 0)), target, 2, targetMac);

    /// <summary>An ICMPv6 Neighbour Solicitation for <paramref name="target"/> with the source link-layer address option.</summary>
    public static byte[] NeighborSolicitation(Link link, IPAddress src, IPAddress dst, IPAddress target, PhysicalAddress sourceMac) =>
        Ndp(link, src, dst, 135, 0, target, 1, sourceMac);

    /// <summary>A duplicate address detection probe: a Neighbour Solicitation from :: without any option (RFC 4862 §5.4.2).</summary>
    public static byte[] NeighborSolicitationDad(Link link, IPAddress dst, IPAddress target) =>
        Ndp(link, IPAddress.IPv6Any, dst, 135, 0, target, 0, null);

    private static byte[] Ndp(Link link, IPAddress src, IPAddress dst, byte type, byte flags, IPAddress target, byte option, PhysicalAddress? mac)
    {
        var body = new byte[mac is null ? 24 : 32];
        body[0] = type;
        body[4] = flags;
        target.GetAddressBytes().CopyTo(body, 8);
        if (mac is not null)
        {
            body[24] = option;
            body[25] = 1; // 8 bytes
            mac.GetAddressBytes().CopyTo(body, 26);
        }
        // PacketDotNet's ICMPv6 header is the first 4 bytes; the rest goes in as its payload (given the whole message as
        // the header segment, it would append the message again as payload).
        var icmp = new IcmpV6Packet(new ByteArraySegment(body, 0, 4)) { PayloadData = body[4..] };
        var ipPacket = IpPacket(new IpFields(src, dst, 255, 0), ProtocolType.IcmpV6, icmp);
        // PacketDotNet 1.4.8 leaves the IPv6 pseudo-header out of the ICMPv6 checksum: compute it here (RFC 4443 §2.3).
        var frame = WithChecksumsRecomputed(Finish(link, ipPacket, check: false));
        SelfCheck(frame);
        return frame;
    }

    /// <summary>The solicited-node multicast address of <paramref name="address"/> (ff02::1:ffXX:XXXX).</summary>
    public static IPAddress SolicitedNode(IPAddress address)
    {
        var a = address.GetAddressBytes();
        var m = new byte[16];
        m[0] = 0xff;
        m[1] = 0x02;
        m[11] = 0x01;
        m[12] = 0xff;
        m[13] = a[13];
        m[14] = a[14];
        m[15] = a[15];
        return new IPAddress(m);
    }

    /// <summary>The Ethernet address of an IPv6 multicast group (33:33 + its last 32 bits).</summary>
    public static PhysicalAddress MulticastMac(IPAddress group)
    {
        var a = group.GetAddressBytes();
        return new PhysicalAddress([0x33, 0x33, a[12], a[13], a[14], a[15]]);
    }

    /// <summary>An IPv4 fragment: <paramref name="data"/> is the slice of the whole datagram's payload at <paramref name="offset"/>.</summary>
    public static byte[] Ipv4Fragment(Link link, IpFields ip, ProtocolType protocol, int offset, bool moreFragments, byte[] data)
    {
        if (offset % 8 != 0) throw new ArgumentException("fragment offsets are multiples of 8", nameof(offset));
        var v4 = new IPv4Packet(ip.Src, ip.Dst)
        {
            TypeOfService = 0,
            Id = ip.Id,
            FragmentFlags = moreFragments ? 1 : 0,
            FragmentOffset = offset / 8,
            TimeToLive = ip.Ttl,
            PayloadData = data,
        };
        v4.Protocol = protocol;
        v4.TotalLength = (v4.HeaderLength * 4) + data.Length;
        var bytes = Finish(link, v4);
        int field = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(14 + 6));
        Require(field == ((moreFragments ? 0x2000 : 0) | (offset / 8)), "fragment field");
        return bytes;
    }

    /// <summary>
    /// For a deliberately damaged frame: recomputes the IPv4 header checksum and the TCP/UDP checksum over the bytes as
    /// they now are, so that the damage under test is the frame's only defect. Also computes ICMPv6 checksums.
    /// </summary>
    public static byte[] WithChecksumsRecomputed(byte[] frame)
    {
        var f = frame.AsSpan();
        var ip = f[14..];
        bool v6 = BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == 0x86DD;
        int ihl = v6 ? 40 : (ip[0] & 0xF) * 4;
        int end = v6 ? 40 + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) : BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        end = Math.Min(end, ip.Length);
        byte protocol = v6 ? ip[6] : ip[9];
        if (!v6)
        {
            ip[10] = ip[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~Sum(ip[..ihl], 0));
        }
        int field = protocol switch { 6 => 16, 17 => 6, 58 => 2, _ => -1 };
        if (field < 0 || end - ihl < field + 2) return frame;
        var l4 = ip[ihl..end];
        l4[field] = l4[field + 1] = 0;
        ulong pseudo = (v6 ? Words(ip.Slice(8, 32)) : Words(ip.Slice(12, 8))) + protocol + (ulong)l4.Length;
        ushort check = (ushort)~Sum(l4, pseudo);
        if (protocol == 17 && check == 0) check = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(l4[field..], check);
        return frame;
    }

    /// <summary>
    /// The frame as a sender using checksum offload hands it over (CHECKSUM_PARTIAL): the TCP or UDP checksum field holds
    /// the folded pseudo-header sum (what Linux's tcp_v4_send_check writes), not the checksum; <paramref name="offload"/>
    /// says where the offload completes it (needs_csum, start = the transport header, offset = the field). A copy.
    /// </summary>
    public static byte[] PartialChecksum(byte[] frame, out UserLB.Packets.VnetHeader offload)
    {
        var copy = (byte[])frame.Clone();
        var f = copy.AsSpan();
        var ip = f[14..];
        bool v6 = BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == 0x86DD;
        int ihl = v6 ? 40 : (ip[0] & 0xF) * 4;
        int end = v6 ? 40 + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) : BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        byte protocol = v6 ? ip[6] : ip[9];
        int field = protocol switch { 6 => 16, 17 => 6, _ => throw new ArgumentException("not TCP or UDP", nameof(frame)) };
        ulong pseudo = (v6 ? Words(ip.Slice(8, 32)) : Words(ip.Slice(12, 8))) + protocol + (ulong)(end - ihl);
        BinaryPrimitives.WriteUInt16BigEndian(ip[(ihl + field)..], (ushort)Sum([], pseudo));
        offload = UserLB.Packets.VnetHeader.Partial(14 + ihl, field);
        return copy;
    }

    // ------------------------------------------------------------------ ARP

    public static readonly PhysicalAddress Broadcast = PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF");
    public static readonly PhysicalAddress ZeroMac = PhysicalAddress.Parse("00-00-00-00-00-00");

    /// <summary>An ARP reply: <paramref name="senderIp"/> is at <paramref name="senderMac"/>, sent to <paramref name="targetMac"/>
    /// (<paramref name="targetIp"/>).</summary>
    public static byte[] ArpReply(PhysicalAddress senderMac, IPAddress senderIp, PhysicalAddress targetMac, IPAddress targetIp) =>
        Arp(new Link(senderMac, targetMac), ArpOperation.Response, senderMac, senderIp, targetMac, targetIp);

    /// <summary>An ARP request, Ethernet broadcast: who-has <paramref name="targetIp"/> tell <paramref name="senderIp"/>
    /// (target hardware address 00:00:00:00:00:00).</summary>
    public static byte[] ArpRequest(PhysicalAddress senderMac, IPAddress senderIp, IPAddress targetIp) =>
        Arp(new Link(senderMac, Broadcast), ArpOperation.Request, senderMac, senderIp, ZeroMac, targetIp);

    private static byte[] Arp(Link link, ArpOperation op, PhysicalAddress senderMac, IPAddress senderIp, PhysicalAddress targetMac, IPAddress targetIp)
    {
        var arp = new ArpPacket(op, targetMac, targetIp, senderMac, senderIp);
        var eth = new EthernetPacket(link.Src, link.Dst, EthernetType.Arp) { PayloadPacket = arp };
        var bytes = eth.Bytes;
        Require(bytes.Length == 42, "ARP frame length");
        return bytes;
    }

    // ------------------------------------------------------------------ plumbing

    private static IPPacket IpPacket(IpFields f, ProtocolType protocol, Packet payload)
    {
        if (f.Src.AddressFamily != f.Dst.AddressFamily) throw new ArgumentException("mixed address families", nameof(f));
        if (f.Src.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var v6 = new IPv6Packet(f.Src, f.Dst)
            {
                TrafficClass = 0,
                FlowLabel = 0,
                HopLimit = f.Ttl,
                PayloadPacket = payload,
            };
            v6.NextHeader = protocol;
            v6.PayloadLength = (ushort)payload.Bytes.Length;
            return v6;
        }
        var v4 = new IPv4Packet(f.Src, f.Dst)
        {
            TypeOfService = 0,
            Id = f.Id,
            FragmentFlags = f.DontFragment ? 2 : 0,
            FragmentOffset = 0,
            TimeToLive = f.Ttl,
            PayloadPacket = payload,
        };
        v4.Protocol = protocol;
        v4.TotalLength = (v4.HeaderLength * 4) + payload.Bytes.Length;
        v4.UpdateIPChecksum();
        return v4;
    }

    private static byte[] Finish(Link link, IPPacket ip, bool check = true)
    {
        if (ip is IPv4Packet v4) v4.UpdateIPChecksum();
        var type = ip is IPv6Packet ? EthernetType.IPv6 : EthernetType.IPv4;
        var eth = new EthernetPacket(link.Src, link.Dst, type) { PayloadPacket = ip };
        var bytes = eth.Bytes;
        if (check) SelfCheck(bytes);
        return bytes;
    }

    // ------------------------------------------------------------------ independent verification

    /// <summary>
    /// Checks a built frame with a plain RFC 1071 implementation (not PacketDotNet's): the IP length fields match the
    /// frame, the IPv4 header checksum and the TCP/UDP/ICMP/ICMPv6 checksum (with pseudo-header) are right.
    /// </summary>
    public static void SelfCheck(ReadOnlySpan<byte> frame)
    {
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        var ip = frame[14..];
        byte protocol;
        ReadOnlySpan<byte> l4;
        ulong pseudo;
        if (type == 0x0800)
        {
            int ihl = (ip[0] & 0xF) * 4, total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            Require(total == ip.Length, "IPv4 total length does not match the frame");
            Require(Sum(ip[..ihl], 0) == 0xFFFF, "IPv4 header checksum");
            if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0) return; // a fragment: no whole L4 to check
            protocol = ip[9];
            l4 = ip[ihl..total];
            pseudo = Words(ip.Slice(12, 8)) + protocol + (ulong)l4.Length;
        }
        else if (type == 0x86DD)
        {
            int payload = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            Require(40 + payload == ip.Length, "IPv6 payload length does not match the frame");
            protocol = ip[6];
            l4 = ip[40..];
            pseudo = Words(ip.Slice(8, 32)) + protocol + (ulong)l4.Length;
        }
        else
        {
            return;
        }
        switch (protocol)
        {
            case 6:
            case 17:
            case 58:
                Require(Sum(l4, pseudo) == 0xFFFF, $"L4 checksum (protocol {protocol})");
                break;
            case 1:
                Require(Sum(l4, 0) == 0xFFFF, "ICMP checksum");
                break;
            default:
                break;
        }
    }

    private static ulong Words(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0) sum += (ulong)data[^1] << 8;
        return sum;
    }

    private static uint Sum(ReadOnlySpan<byte> data, ulong initial)
    {
        ulong sum = initial + Words(data);
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (uint)sum;
    }

    private static void Require(bool ok, string what)
    {
        if (!ok) throw new InvalidOperationException("capture generator built a bad frame: " + what);
    }
}
