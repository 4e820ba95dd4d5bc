using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using UserLB.Packets;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// Builds Ethernet frames byte by byte with their checksums computed here (independently of UserLB.Packets), and checks
/// the checksums of frames the engine sent by a full recompute.
/// </summary>
internal static class TestFrames
{
    public const string LbMac = "02:00:00:00:00:fe";
    public const string ClientMac = "02:00:00:00:00:01";
    public const string Bck0Mac = "02:00:00:00:00:10";
    public const string Bck1Mac = "02:00:00:00:00:11";

    public const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10;

    public static byte[] Mac(string text) => [.. text.Split(':', '-').Select(h => Convert.ToByte(h, 16))];

    /// <summary>A copy of <paramref name="frame"/> with other Ethernet addresses (what a layer-2 forward sends).</summary>
    public static byte[] WithMacs(byte[] frame, string dst, string src)
    {
        var copy = (byte[])frame.Clone();
        Mac(dst).CopyTo(copy, 0);
        Mac(src).CopyTo(copy, 6);
        return copy;
    }

    public static byte[] Tcp(string srcMac, string src, string dst, ushort sport, ushort dport, byte flags,
        uint seq = 1000, uint ack = 0, int payload = 0, byte ttl = 64)
    {
        var l4 = new byte[20 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(l4, sport);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(8), ack);
        l4[12] = 0x50;
        l4[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(14), 65535);
        for (int i = 20; i < l4.Length; i++) l4[i] = (byte)i;
        return Ip(srcMac, src, dst, IpProtocols.Tcp, l4, ttl);
    }

    /// <summary>A TCP segment with <paramref name="options"/> (a multiple of 4 bytes) and a window of its own.</summary>
    public static byte[] TcpOpt(string srcMac, string src, string dst, ushort sport, ushort dport, byte flags, uint seq, uint ack,
        byte[] options, ushort window = 65535, int payload = 0)
    {
        Assert.True(options.Length % 4 == 0 && options.Length <= 40, "TCP options are whole 32-bit words, at most 40 bytes");
        int hl = 20 + options.Length;
        var l4 = new byte[hl + payload];
        BinaryPrimitives.WriteUInt16BigEndian(l4, sport);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(8), ack);
        l4[12] = (byte)(hl / 4 << 4);
        l4[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(14), window);
        options.CopyTo(l4, 20);
        for (int i = hl; i < l4.Length; i++) l4[i] = (byte)i;
        return Ip(srcMac, src, dst, IpProtocols.Tcp, l4);
    }

    public static byte[] Udp(string srcMac, string src, string dst, ushort sport, ushort dport, int payload = 10, byte ttl = 64)
    {
        var l4 = new byte[8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(l4, sport);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(4), (ushort)l4.Length);
        for (int i = 8; i < l4.Length; i++) l4[i] = (byte)(0xA0 + i);
        return Ip(srcMac, src, dst, IpProtocols.Udp, l4, ttl);
    }

    /// <summary>ICMP / ICMPv6 message: type, code, the 4 bytes after the checksum, then <paramref name="body"/>.</summary>
    public static byte[] Icmp(string srcMac, string src, string dst, byte type, byte code, uint restOfHeader, ReadOnlySpan<byte> body, byte ttl = 64)
    {
        var l4 = new byte[8 + body.Length];
        l4[0] = type;
        l4[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(l4.AsSpan(4), restOfHeader);
        body.CopyTo(l4.AsSpan(8));
        bool v6 = IPAddress.Parse(src).AddressFamily == AddressFamily.InterNetworkV6;
        return Ip(srcMac, src, dst, v6 ? IpProtocols.Icmpv6 : IpProtocols.Icmp, l4, ttl);
    }

    public static byte[] EchoRequest(string srcMac, string src, string dst, ushort id = 0x1234, ushort seq = 1)
    {
        bool v6 = IPAddress.Parse(src).AddressFamily == AddressFamily.InterNetworkV6;
        return Icmp(srcMac, src, dst, v6 ? IcmpTypes.V6EchoRequest : IcmpTypes.EchoRequest, 0, (uint)id << 16 | seq, "ping-data-0123456789"u8);
    }

    /// <summary>An IP packet in an Ethernet frame to the LB's MAC; the L4 checksum field is filled in (UDP: 0 becomes 0xFFFF).</summary>
    public static byte[] Ip(string srcMac, string src, string dst, byte protocol, byte[] l4, byte ttl = 64, string dstMac = LbMac)
    {
        var s = IPAddress.Parse(src).GetAddressBytes();
        var d = IPAddress.Parse(dst).GetAddressBytes();
        bool v6 = s.Length == 16;
        int field = ChecksumField(protocol);
        if (field >= 0)
        {
            l4[field] = 0;
            l4[field + 1] = 0;
            uint initial = protocol == IpProtocols.Icmp ? 0 : Pseudo(s, d, protocol, l4.Length);
            ushort c = Finish(Sum(l4, initial));
            if (protocol == IpProtocols.Udp && c == 0) c = 0xFFFF;
            BinaryPrimitives.WriteUInt16BigEndian(l4.AsSpan(field), c);
        }
        int l3 = v6 ? 40 : 20;
        var f = new byte[14 + l3 + l4.Length];
        Mac(dstMac).CopyTo(f, 0);
        Mac(srcMac).CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), v6 ? EtherTypes.Ipv6 : EtherTypes.Ipv4);
        var ip = f.AsSpan(14);
        if (v6)
        {
            BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4.Length);
            ip[6] = protocol;
            ip[7] = ttl;
            s.CopyTo(ip[8..]);
            d.CopyTo(ip[24..]);
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4.Length));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x4242);
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000); // DF
            ip[8] = ttl;
            ip[9] = protocol;
            s.CopyTo(ip[12..]);
            d.CopyTo(ip[16..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Finish(Sum(ip[..20], 0)));
        }
        l4.CopyTo(ip[l3..]);
        return f;
    }

    public static byte[] ArpRequest(string senderMac, string senderIp, string targetIp) =>
        Arp(1, "ff:ff:ff:ff:ff:ff", senderMac, senderIp, "00:00:00:00:00:00", targetIp);

    /// <summary>An ARP reply "ip is-at mac" addressed to the LB.</summary>
    public static byte[] ArpReply(string mac, string ip, string toIp = "192.168.101.250") => Arp(2, LbMac, mac, ip, LbMac, toIp);

    public static byte[] Arp(ushort op, string ethDst, string senderMac, string senderIp, string targetMac, string targetIp)
    {
        var f = new byte[42];
        Mac(ethDst).CopyTo(f, 0);
        Mac(senderMac).CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherTypes.Arp);
        var a = f.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);
        BinaryPrimitives.WriteUInt16BigEndian(a[2..], EtherTypes.Ipv4);
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a[6..], op);
        Mac(senderMac).CopyTo(a[8..]);
        IPAddress.Parse(senderIp).GetAddressBytes().CopyTo(a[14..]);
        Mac(targetMac).CopyTo(a[18..]);
        IPAddress.Parse(targetIp).GetAddressBytes().CopyTo(a[24..]);
        return f;
    }

    /// <summary>Neighbour Advertisement (solicited, override) "ip is-at mac", hop limit 255, with a target link-layer option.</summary>
    public static byte[] NeighborAdvertisement(string mac, string ip, string dst)
    {
        var body = new byte[24];
        IPAddress.Parse(ip).GetAddressBytes().CopyTo(body, 0);
        body[16] = 2; // target link-layer address
        body[17] = 1;
        Mac(mac).CopyTo(body, 18);
        return Icmp(mac, ip, dst, IcmpTypes.V6NeighborAdvertisement, 0, 0x6000_0000, body, ttl: 255);
    }

    /// <summary>Neighbour Solicitation for <paramref name="target"/> from <paramref name="src"/>, with a source link-layer option.</summary>
    public static byte[] NeighborSolicitation(string mac, string src, string target)
    {
        var body = new byte[24];
        IPAddress.Parse(target).GetAddressBytes().CopyTo(body, 0);
        body[16] = 1;
        body[17] = 1;
        Mac(mac).CopyTo(body, 18);
        var t = IPAddress.Parse(target).GetAddressBytes();
        string group = $"ff02::1:ff{t[13]:x2}:{t[14]:x2}{t[15]:x2}";
        var f = Icmp(mac, src, group, IcmpTypes.V6NeighborSolicitation, 0, 0, body, ttl: 255);
        Mac($"33:33:ff:{t[13]:x2}:{t[14]:x2}:{t[15]:x2}").CopyTo(f, 0);
        return f;
    }

    // ------------------------------------------------------------------ checksums, computed here

    public static int ChecksumField(byte protocol) => protocol switch
    {
        IpProtocols.Tcp => 16,
        IpProtocols.Udp => 6,
        IpProtocols.Icmp or IpProtocols.Icmpv6 => 2,
        _ => -1,
    };

    public static uint Sum(ReadOnlySpan<byte> data, uint initial)
    {
        ulong sum = initial;
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (uint)sum;
    }

    public static ushort Finish(uint sum) => (ushort)~Sum([], sum);

    /// <summary>The folded (not complemented) pseudo-header sum: what a CHECKSUM_PARTIAL frame carries in its L4 checksum field.</summary>
    public static uint Pseudo(ReadOnlySpan<byte> src, ReadOnlySpan<byte> dst, byte protocol, int length)
    {
        uint s = Sum(src, 0);
        s = Sum(dst, s);
        return Sum([], s + protocol + (uint)length);
    }

    /// <summary>Recomputes every checksum of an IPv4/IPv6 frame (and of the packet quoted in an ICMP error, when complete).</summary>
    public static void AssertChecksumsValid(byte[] frame)
    {
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12));
        Assert.True(type is EtherTypes.Ipv4 or EtherTypes.Ipv6, $"not an IP frame: ethertype {type:x4}");
        var why = CheckIp(frame.AsSpan(14), isQuoted: false);
        Assert.True(why is null, why);
    }

    private static string? CheckIp(ReadOnlySpan<byte> ip, bool isQuoted)
    {
        bool v6 = ip[0] >> 4 == 6;
        int hl, total;
        byte protocol;
        ReadOnlySpan<byte> src, dst;
        if (v6)
        {
            hl = 40;
            total = 40 + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            protocol = ip[6];
            src = ip.Slice(8, 16);
            dst = ip.Slice(24, 16);
        }
        else
        {
            hl = (ip[0] & 0xF) * 4;
            total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            protocol = ip[9];
            src = ip.Slice(12, 4);
            dst = ip.Slice(16, 4);
            if (Sum(ip[..hl], 0) != 0xFFFF) return (isQuoted ? "quoted " : "") + "IPv4 header checksum is wrong";
        }
        if (isQuoted && total > ip.Length) return null; // truncated quote: L4 checksum not checkable
        var l4 = ip[hl..total];
        switch (protocol)
        {
            case IpProtocols.Tcp:
            case IpProtocols.Udp:
                if (protocol == IpProtocols.Udp && !v6 && BinaryPrimitives.ReadUInt16BigEndian(l4[6..]) == 0) return null;
                return Sum(l4, Pseudo(src, dst, protocol, l4.Length)) == 0xFFFF ? null : (isQuoted ? "quoted " : "") + IpProtocols.Name(protocol) + " checksum is wrong";
            case IpProtocols.Icmp:
            case IpProtocols.Icmpv6:
                uint initial = protocol == IpProtocols.Icmpv6 ? Pseudo(src, dst, protocol, l4.Length) : 0;
                if (Sum(l4, initial) != 0xFFFF) return (isQuoted ? "quoted " : "") + "ICMP checksum is wrong";
                return IcmpTypes.IsError(v6, l4[0]) && !isQuoted ? CheckIp(l4[8..], isQuoted: true) : null;
            default:
                return null;
        }
    }
}
