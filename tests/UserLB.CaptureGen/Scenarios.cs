using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using PacketDotNet;
using UserLB.Packets;

namespace UserLB.CaptureGen;

/// <summary>
/// The replay scenarios. Each is written from its description: the frames that arrive at the LB and, from the engine's
/// documented behaviour (README "Offline replay" and "Engine behaviour in brief"), the frames it must send. The engine is
/// never run here. Schedulers are rr (first new flow to backend 0, then 1, …), so the backend of every flow is known.
/// Every capture starts with ARP replies (or IPv6 neighbour advertisements) from every backend and client addressed to
/// the LB, so all neighbours are known before the first packet and the LB emits no ARP requests.
/// </summary>
public static partial class Scenarios
{
    public static readonly PhysicalAddress LbMac = Frames.Mac("02:aa:00:00:00:fe");
    private static readonly IPAddress Vip4 = Frames.Ip("192.168.101.250");
    private static readonly IPAddress Vip6 = Frames.Ip("2001:db8:101::250");

    public static IReadOnlyList<CaptureScenario> All() =>
    [
        RefSnat(),
        RefDnat(),
        PortMap(),
        SnatClash(),
        IcmpError(),
        UdpExpiry(),
        Ipv6(),
        Malformed(),
        ArpResolve(),
        ArpResolveDnat(),
        NdpResolve(),
        NdpAnswer(),
        TcpReopen(),
        Offloads(),
    ];

    private static Host Client1() => new("client1", "02:aa:00:00:01:01", "192.168.101.1", 0x1100);
    private static Host Client2() => new("client2", "02:aa:00:00:01:02", "192.168.101.2", 0x2200);
    private static Host Bck0() => new("bck0", "02:aa:00:00:00:10", "192.168.1.10", 0x3300);
    private static Host Bck1() => new("bck1", "02:aa:00:00:00:11", "192.168.1.11", 0x4400);

    /// <summary>ARP replies "host is-at MAC" from each host to the LB (sender = host, target = LB MAC / VIP): absorbed.</summary>
    private static void ArpReplies(Timeline tl, IPAddress vip, params Host[] hosts)
    {
        foreach (var h in hosts) tl.Absorbed(Frames.ArpReply(h.Mac, h.Ip, LbMac, vip));
    }

    private static string Farm(string name, string family, string vip, string ports, string protocol, string mode,
        params IReadOnlyList<(string, string)>[] backends) =>
        FarmJson.Write(
        [
            ("name", name), ("family", family), ("virtual-addr", vip), ("virtual-ports", ports), ("protocol", protocol),
            ("mode", mode), ("scheduler", "rr"), ("state", "up"),
        ], backends);

    private static string Readme(string name, string paragraph) => $"# {name}\n\n{paragraph}\n";

    // ------------------------------------------------------------------ 1, 2: the reference farm

    private const string RefCommon =
        "Two clients, 192.168.101.1:40001 and 192.168.101.2:40002, each open a TCP connection to the VIP, send a " +
        "request (PSH|ACK with data), get an ACK and a response (PSH|ACK with data), acknowledge it and close with a " +
        "four-way FIN exchange; the two conversations are interleaved packet by packet. The capture starts with ARP " +
        "replies from both backends and both clients to the LB (absorbed; nothing is sent). rr gives the first " +
        "connection to bck0 (192.168.1.10) and the second to bck1 (192.168.1.11). Every forwarded frame leaves with " +
        "source MAC = the LB's (02:aa:00:00:00:fe), destination MAC = the next hop's, TTL 64 → 63, checksums updated, " +
        "without the Ethernet padding the short input frames carry, and stamped with the time of the frame that caused it.";

    private static CaptureScenario RefSnat() => Reference("ref-snat", snat: true,
        "The reference farm of REFERENCE.md §1 (VIP 192.168.101.250, TCP port 443, backends 192.168.1.10 and " +
        "192.168.1.11, NAT mode `snat`), with the rr scheduler so each flow's backend is known. " + RefCommon +
        " In snat mode the backend sees the connection coming from the VIP (192.168.101.250:<client port>), and " +
        "the backend's replies to the VIP are translated back to VIP:443 → client.");

    private static CaptureScenario RefDnat() => Reference("ref-dnat", snat: false,
        "The reference farm of REFERENCE.md §1 (VIP 192.168.101.250, TCP port 443, backends 192.168.1.10 and " +
        "192.168.1.11) in `dnat` mode (DTA: DNAT only), with the rr scheduler. " + RefCommon +
        " In dnat mode the backend sees the client's own address as the source; it routes its replies (addressed " +
        "to the client) through the LB, its default gateway, and the LB restores the VIP:443 as their source.");

    private static CaptureScenario Reference(string name, bool snat, string paragraph)
    {
        var farm = new FarmModel(LbMac, Vip4, 443, snat);
        Host c1 = Client1(), c2 = Client2(), b0 = Bck0(), b1 = Bck1();
        var tl = new Timeline();
        ArpReplies(tl, Vip4, b0, b1, c1, c2);
        var f1 = farm.Flow(c1, 40001, b0, clientIsn: 0x1a2b3c4d, serverIsn: 0x8d7c6b5a);
        var f2 = farm.Flow(c2, 40002, b1, clientIsn: 0x2b3c4d5e, serverIsn: 0x9e8d7c6b);
        tl.Interleave(f1.HttpExchange("/one"), f2.HttpExchange("/two"));
        return new CaptureScenario(name, Readme(name, paragraph),
            Farm("app", "ipv4", "192.168.101.250", "443", "tcp", snat ? "snat" : "dnat",
                FarmJson.Backend("bck0", "192.168.1.10"), FarmJson.Backend("bck1", "192.168.1.11")),
            tl.Input, tl.Expected);
    }

    // ------------------------------------------------------------------ 3: backend port

    private static CaptureScenario PortMap()
    {
        const string Name = "port-map";
        var farm = new FarmModel(LbMac, Vip4, 443, Snat: true);
        Host c1 = Client1(), c2 = Client2(), b0 = Bck0(), b1 = Bck1();
        var tl = new Timeline();
        ArpReplies(tl, Vip4, b0, b1, c1, c2);
        var f1 = farm.Flow(c1, 40011, b0, backendPort: 8443, clientIsn: 0x11111111, serverIsn: 0x77777777);
        var f2 = farm.Flow(c2, 40012, b1, clientIsn: 0x22222222, serverIsn: 0x88888888);
        tl.Interleave(f1.HttpExchange("/mapped"), f2.HttpExchange("/plain"));
        return new CaptureScenario(Name, Readme(Name,
                "A backend `port` rewrites the destination port. The farm listens on 192.168.101.250:443 (snat, rr); " +
                "bck0 (192.168.1.10) has `\"port\": \"8443\"`, bck1 (192.168.1.11) has none. Client 192.168.101.1:40011 " +
                "gets bck0 and its packets reach 192.168.1.10:8443, while the replies bck0 sends from port 8443 leave " +
                "the LB from 192.168.101.250:443; client 192.168.101.2:40012 gets bck1 and keeps port 443 end to end. " +
                "Both do a handshake, a request, a response and a FIN close, interleaved, after ARP replies from every " +
                "host (absorbed)."),
            Farm("app", "ipv4", "192.168.101.250", "443", "tcp", "snat",
                FarmJson.Backend("bck0", "192.168.1.10", port: "8443"), FarmJson.Backend("bck1", "192.168.1.11")),
            tl.Input, tl.Expected);
    }

    // ------------------------------------------------------------------ 4: SNAT port clash

    private static CaptureScenario SnatClash()
    {
        const string Name = "snat-clash";
        const ushort Port = 40000;
        const uint Isn2 = 0x44440000, ServerIsn2 = 0xcccc0000;
        var farm = new FarmModel(LbMac, Vip4, 443, Snat: true);
        Host c1 = Client1(), c2 = Client2(), b0 = Bck0();
        var tl = new Timeline();
        ArpReplies(tl, Vip4, b0, c1, c2);
        var f1 = farm.Flow(c1, Port, b0, clientIsn: 0x33330000, serverIsn: 0xbbbb0000);
        var f2 = farm.Flow(c2, Port, b0, natPort: CaptureScenario.PortPlaceholder, clientIsn: Isn2, serverIsn: ServerIsn2);
        tl.Forwarded(f1.ClientTcp(TcpFlags.Syn));
        int remapped = tl.Expected.Count;
        tl.Forwarded(f2.ClientTcp(TcpFlags.Syn));
        tl.Forwarded(f1.BackendTcp(TcpFlags.Syn | TcpFlags.Ack));
        tl.Forwarded(f1.ClientTcp(TcpFlags.Ack));

        // Once the port is known: bck0 answers the second SYN at VIP:<port>, the second client acknowledges.
        Host c2After = c2.Copy(), b0After = b0.Copy();
        long end = tl.NowNs;
        FollowUp Follow(ushort port)
        {
            var g = farm.Flow(c2After.Copy(), Port, b0After.Copy(), natPort: port, clientIsn: Isn2 + 1, serverIsn: ServerIsn2);
            var more = new Timeline(end);
            more.Forwarded(g.BackendTcp(TcpFlags.Syn | TcpFlags.Ack));
            more.Forwarded(g.ClientTcp(TcpFlags.Ack));
            return new FollowUp(more.Input, more.Expected);
        }

        return new CaptureScenario(Name, Readme(Name,
                "Two clients, 192.168.101.1 and 192.168.101.2, both use source port 40000 towards the VIP " +
                "192.168.101.250:443 of a snat farm with a single backend (bck0, 192.168.1.10). The first SYN keeps " +
                "its port: bck0 sees 192.168.101.250:40000. The second would have the same reply tuple " +
                "(192.168.1.10:443 → 192.168.101.250:40000), so, as the kernel's get_unique_tuple does, the LB picks " +
                "another source port at random in 1024–65535. expected.pcap cannot know that port: the second SYN is " +
                "written with source port 0 (and the TCP checksum that goes with it), and the test checks properties " +
                "instead of bytes for that frame: the port differs from 40000, is ≥ 1024, the IPv4 and TCP checksums " +
                "are valid, and the frame equals the expected one once its port is set to 0. The test then appends " +
                "bck0's SYN|ACK to 192.168.101.250:<that port> and the second client's ACK to the input, replays again " +
                "with the same seed, and checks the SYN|ACK reaches 192.168.101.2:40000 from 192.168.101.250:443. The " +
                "first connection's SYN|ACK and ACK are in expected.pcap as usual."),
            Farm("app", "ipv4", "192.168.101.250", "443", "tcp", "snat", FarmJson.Backend("bck0", "192.168.1.10")),
            tl.Input, tl.Expected)
        {
            RemappedPorts = [new RemappedPort(remapped, Port)],
            FollowUp = Follow,
        };
    }

    // ------------------------------------------------------------------ 5: ICMP error about a flow

    private static CaptureScenario IcmpError()
    {
        const string Name = "icmp-error";
        var farm = new FarmModel(LbMac, Vip4, 53, Snat: true);
        Host c1 = Client1(), c2 = Client2(), b0 = Bck0(), b1 = Bck1();
        var tl = new Timeline();
        ArpReplies(tl, Vip4, b0, b1, c1, c2);
        var f1 = farm.Flow(c1, 5353, b0);
        var f2 = farm.Flow(c2, 5354, b1);
        tl.Forwarded(f1.ClientUdp(Dns.Query(0x0101, "app.example.com")));
        tl.Forwarded(f2.ClientUdp(Dns.Query(0x0202, "app.example.com")));
        tl.Forwarded(f1.BackendPortUnreachable());
        tl.Forwarded(f2.BackendUdp(Dns.Answer(0x0202, "app.example.com", Frames.Ip("192.0.2.80"))));
        return new CaptureScenario(Name, Readme(Name,
                "ICMP errors about a tracked flow are RELATED and relayed translated. A UDP snat farm on " +
                "192.168.101.250:53 (rr, bck0 192.168.1.10, bck1 192.168.1.11). Client 192.168.101.1:5353 sends a DNS " +
                "query, which goes to bck0 as 192.168.101.250:5353 → 192.168.1.10:53; client 192.168.101.2:5354 sends " +
                "another, which goes to bck1. bck0 has nothing listening and answers with ICMP port unreachable (type 3 " +
                "code 3) from 192.168.1.10 to 192.168.101.250, quoting the whole datagram it received. The LB sends the " +
                "error to 192.168.101.1 from the VIP, with the quoted datagram translated back to what the client sent " +
                "(192.168.101.1:5353 → 192.168.101.250:53; its TTL stays 63, as the backend saw it), the quoted IPv4 and " +
                "UDP checksums and the ICMP checksum all correct, and the outer TTL 64 → 63. bck1 answers the query and " +
                "its answer reaches client2 from 192.168.101.250:53."),
            Farm("dns", "ipv4", "192.168.101.250", "53", "udp", "snat",
                FarmJson.Backend("bck0", "192.168.1.10"), FarmJson.Backend("bck1", "192.168.1.11")),
            tl.Input, tl.Expected);
    }

    // ------------------------------------------------------------------ 6: UDP timeout

    private static CaptureScenario UdpExpiry()
    {
        const string Name = "udp-expiry";
        var farm = new FarmModel(LbMac, Vip4, 53, Snat: true);
        Host c1 = Client1(), b0 = Bck0(), b1 = Bck1();
        var tl = new Timeline();
        ArpReplies(tl, Vip4, b0, b1, c1);
        var first = farm.Flow(c1, 5000, b0);
        tl.Forwarded(first.ClientUdp(Dns.Query(1, "datagram-1.example.com")));
        tl.Wait(TimeSpan.FromSeconds(25));
        tl.Forwarded(first.ClientUdp(Dns.Query(2, "datagram-2.example.com")));
        tl.Wait(TimeSpan.FromSeconds(25));
        tl.Forwarded(first.ClientUdp(Dns.Query(3, "datagram-3.example.com")));
        tl.Wait(TimeSpan.FromSeconds(31));
        var second = farm.Flow(c1, 5000, b1);
        tl.Forwarded(second.ClientUdp(Dns.Query(4, "datagram-4.example.com")));
        return new CaptureScenario(Name, Readme(Name,
                "An unreplied UDP connection lives 30 s after its last packet (nf_conntrack udp_timeout). A UDP snat " +
                "farm on 192.168.101.250:53 with rr over bck0 (192.168.1.10) and bck1 (192.168.1.11). Client " +
                "192.168.101.1:5000 sends a DNS query at 0 s (a new connection: rr gives bck0), another at 25 s and " +
                "another at 50 s: no reply ever comes, but each packet restarts the 30 s timer, so both still belong " +
                "to the first connection and go to bck0 although 50 s is past the first timeout. The fourth datagram " +
                "comes 31 s after the third: the entry has expired, the datagram is a new connection, and rr gives it " +
                "to bck1, which is visible in expected.pcap (destination 192.168.1.11). Frame times are exact because " +
                "replay takes each frame's timestamp as the engine's clock."),
            Farm("dns", "ipv4", "192.168.101.250", "53", "udp", "snat",
                FarmJson.Backend("bck0", "192.168.1.10"), FarmJson.Backend("bck1", "192.168.1.11")),
            tl.Input, tl.Expected);
    }

    // ------------------------------------------------------------------ 7: IPv6

    private static CaptureScenario Ipv6()
    {
        const string Name = "ipv6";
        var farm = new FarmModel(LbMac, Vip6, 443, Snat: true);
        var c1 = new Host("client1", "02:aa:00:00:01:01", "2001:db8:101::1", 0);
        var c2 = new Host("client2", "02:aa:00:00:01:02", "2001:db8:101::2", 0);
        var b0 = new Host("bck0", "02:aa:00:00:00:10", "2001:db8:1::10", 0);
        var b1 = new Host("bck1", "02:aa:00:00:00:11", "2001:db8:1::11", 0);
        var tl = new Timeline();
        foreach (var h in new[] { b0, b1, c1, c2 })
            tl.Absorbed(Frames.NeighborAdvertisement(new Link(h.Mac, LbMac), h.Ip, Vip6, h.Ip, h.Mac));
        var f1 = farm.Flow(c1, 40601, b0, clientIsn: 0x60000001, serverIsn: 0x61000001);
        var f2 = farm.Flow(c2, 40602, b1, clientIsn: 0x62000001, serverIsn: 0x63000001);
        tl.Interleave(f1.HttpExchange("/v6-one"), f2.HttpExchange("/v6-two"));
        return new CaptureScenario(Name, Readme(Name,
                "An IPv6 farm: VIP 2001:db8:101::250 port 443, snat, rr over bck0 2001:db8:1::10 and bck1 " +
                "2001:db8:1::11. Instead of ARP, the capture opens with ICMPv6 Neighbour Advertisements (solicited, " +
                "override, hop limit 255, target link-layer address option, correct checksum) from both backends and " +
                "both clients to the LB, which learns them and sends nothing. Then clients 2001:db8:101::1:40601 and " +
                "2001:db8:101::2:40602 each do a handshake, a request, a response and a FIN close, interleaved; rr " +
                "sends the first to bck0 and the second to bck1, the backends see 2001:db8:101::250 as the source " +
                "(SNAT), replies leave from [2001:db8:101::250]:443, the hop limit goes 64 → 63 and the TCP checksums " +
                "(IPv6 pseudo-header) are updated."),
            Farm("app6", "ipv6", "2001:db8:101::250", "443", "tcp", "snat",
                FarmJson.Backend("bck0", "2001:db8:1::10"), FarmJson.Backend("bck1", "2001:db8:1::11")),
            tl.Input, tl.Expected);
    }

    // ------------------------------------------------------------------ 12: TCP reopen, RST before reply

    private static CaptureScenario TcpReopen()
    {
        const string Name = "tcp-reopen";
        var farm = new FarmModel(LbMac, Vip4, 443, Snat: true);
        Host c1 = Client1(), c2 = Client2(), b0 = Bck0(), b1 = Bck1();
        var tl = new Timeline();
        ArpReplies(tl, Vip4, b0, b1, c1, c2);
        // 1: a whole connection to bck0; the client's last ACK leaves the entry in TIME_WAIT (120 s).
        tl.Interleave(farm.Flow(c1, 40100, b0, clientIsn: 0x10100000, serverIsn: 0xe0100000).HttpExchange("/first"));
        // 2: 5 s later the same client port connects again: the SYN in TIME_WAIT reopens, a new connection → bck1.
        tl.Wait(TimeSpan.FromSeconds(5));
        var again = farm.Flow(c1, 40100, b1, clientIsn: 0x10200000, serverIsn: 0xe0200000);
        tl.Forwarded(again.ClientTcp(TcpFlags.Syn));
        tl.Forwarded(again.BackendTcp(TcpFlags.Syn | TcpFlags.Ack));
        tl.Forwarded(again.ClientTcp(TcpFlags.Ack));
        // 3: client2 → bck0 (rr), which refuses with RST|ACK: relayed, and the entry is destroyed (only reply a RST).
        var refused = farm.Flow(c2, 40200, b0, clientIsn: 0x20100000, serverIsn: 0);
        tl.Forwarded(refused.ClientTcp(TcpFlags.Syn));
        tl.Forwarded(refused.BackendTcp(TcpFlags.Rst | TcpFlags.Ack));
        // 4: the client retries from the same port 1 s later: a new connection, rr → bck1.
        tl.Wait(TimeSpan.FromSeconds(1));
        var retry = farm.Flow(c2, 40200, b1, clientIsn: 0x20200000, serverIsn: 0xe0300000);
        tl.Forwarded(retry.ClientTcp(TcpFlags.Syn));
        tl.Forwarded(retry.BackendTcp(TcpFlags.Syn | TcpFlags.Ack));
        tl.Forwarded(retry.ClientTcp(TcpFlags.Ack));
        return new CaptureScenario(Name, Readme(Name,
                "Connection ends and new beginnings on the same ports (nf_conntrack_proto_tcp). Farm " +
                "192.168.101.250:443, snat, rr over bck0 (192.168.1.10) and bck1 (192.168.1.11); ARP replies up front. " +
                "Client 192.168.101.1:40100 does a whole connection with bck0 that ends with its ACK of bck0's FIN, so " +
                "the entry is in TIME_WAIT. 5 s later the client sends a SYN from the same port: a SYN in TIME_WAIT " +
                "reopens, i.e. the old entry is destroyed and the SYN is a new connection, which rr gives to bck1 " +
                "(with the same SNAT port, free again). Then 192.168.101.2:40200 connects, rr picks bck0, and bck0 " +
                "refuses with RST|ACK: the RST is relayed to the client from 192.168.101.250:443, and since it is the " +
                "only reply the entry is destroyed at once; the client's retry from port 40200 one second later is a " +
                "new connection, which rr gives to bck1."),
            Farm("app", "ipv4", "192.168.101.250", "443", "tcp", "snat",
                FarmJson.Backend("bck0", "192.168.1.10"), FarmJson.Backend("bck1", "192.168.1.11")),
            tl.Input, tl.Expected);
    }

    // ------------------------------------------------------------------ 8: malformed frames

    private static CaptureScenario Malformed()
    {
        const string Name = "malformed";
        Host c1 = Client1(), b0 = Bck0(), b1 = Bck1();
        var tl = new Timeline();
        ArpReplies(tl, Vip4, b0, b1, c1);
        var toLb = new Link(c1.Mac, LbMac);
        ushort port = 41000;
        byte[] Syn(IPAddress dst, ushort dport, TcpFlags flags = TcpFlags.Syn) =>
            Frames.Tcp(toLb, new IpFields(c1.Ip, dst, 64, c1.NextId()), port++, dport, 0x0badf00d, flags.HasFlag(TcpFlags.Ack) ? 1u : 0, flags, 64240, []);

        var cases = new List<(string What, DropReason Reason, byte[] Frame, bool Pad)>();
        void Add(string what, DropReason reason, byte[] frame, bool pad = true) => cases.Add((what, reason, frame, pad));

        var f = Syn(Vip4, 443);
        f[14 + 10] ^= 0x5a;
        Add("a SYN to VIP:443 whose IPv4 header checksum is wrong", DropReason.Ipv4BadChecksum, f);

        f = Syn(Vip4, 443);
        f[14 + 20 + 16] ^= 0x5a;
        Add("a SYN to VIP:443 whose TCP checksum is wrong", DropReason.L4BadChecksum, f);

        f = Syn(Vip4, 443);
        Add("a SYN to VIP:443 cut after 10 bytes of TCP header (44-byte frame; IPv4 total length says 40)",
            DropReason.Ipv4BadTotalLength, f[..(14 + 20 + 10)], pad: false);

        f = Syn(Vip4, 443);
        Add("a frame cut inside the IPv4 header (26 bytes)", DropReason.Ipv4Truncated, f[..(14 + 12)], pad: false);

        var datagram = Frames.UdpIpBytes(new IpFields(c1.Ip, Vip4, 64, 0), 41100, 443, new byte[2000]);
        var udpPart = datagram[20..];
        ushort fragId = c1.NextId();
        Add("the first fragment (MF set, offset 0) of a 2008-byte UDP datagram to VIP:443", DropReason.Ipv4Fragment,
            Frames.Ipv4Fragment(toLb, new IpFields(c1.Ip, Vip4, 64, fragId), ProtocolType.Udp, 0, true, udpPart[..1480]));
        Add("the last fragment (offset 1480) of the same datagram", DropReason.Ipv4Fragment,
            Frames.Ipv4Fragment(toLb, new IpFields(c1.Ip, Vip4, 64, fragId), ProtocolType.Udp, 1480, false, udpPart[1480..]));

        f = Syn(Vip4, 443);
        f[14] = 0x44;
        Add("a SYN to VIP:443 with IHL 4 (a 16-byte IPv4 header)", DropReason.Ipv4BadHeaderLength, f);

        f = Syn(Vip4, 443);
        f[14] = 0x55;
        Add("a SYN to VIP:443 with IP version 5", DropReason.Ipv4BadVersion, f);

        f = Syn(Vip4, 443);
        f[14 + 20 + 12] = 0x40;
        Add("a SYN to VIP:443 with TCP data offset 4 (16 bytes), checksums recomputed", DropReason.TcpBadHeaderLength,
            Frames.WithChecksumsRecomputed(f));

        f = Frames.Udp(toLb, new IpFields(c1.Ip, Vip4, 64, c1.NextId()), 41200, 443, Encoding.ASCII.GetBytes("bad udp length"));
        f[14 + 20 + 5] += 4;
        Add("a UDP datagram to VIP:443 whose UDP length is 4 more than the IP payload, checksums recomputed",
            DropReason.UdpBadLength, Frames.WithChecksumsRecomputed(f));

        f = Frames.Tcp(toLb, new IpFields(Frames.Ip("2001:db8:101::1"), Vip6, 64, 0), 41300, 443, 0x0badf00d, 0, TcpFlags.Syn, 64240, []);
        f[14 + 5] += 100;
        Add("an IPv6 SYN whose payload length is 100 bytes more than the frame holds", DropReason.Ipv6BadPayloadLength, f);

        Add("a valid SYN to VIP port 80, which no farm takes", DropReason.NoFarm, Syn(Vip4, 80));
        Add("a valid SYN to 192.168.101.99:443 (sent to the LB's MAC), which is no VIP", DropReason.NoFarm,
            Syn(Frames.Ip("192.168.101.99"), 443));
        Add("a valid RST to VIP:443 with no connection (a RST cannot start one; a lone ACK could: " +
            "nf_conntrack_tcp_loose=1 picks connections up mid-stream)", DropReason.TcpNoSynForNewFlow, Syn(Vip4, 443, TcpFlags.Rst));

        foreach (var c in cases) tl.Absorbed(c.Frame, c.Pad);
        var drops = new Dictionary<DropReason, long>();
        foreach (var c in cases) drops[c.Reason] = drops.GetValueOrDefault(c.Reason) + 1;

        var list = new StringBuilder();
        foreach (var c in cases) list.Append("\n- ").Append(c.What).Append(": `").Append(c.Reason.Name()).Append('`');
        return new CaptureScenario(Name, Readme(Name,
                "Malformed and unforwardable frames are dropped and counted, never forwarded: expected.pcap is empty. " +
                "The farm is the reference one (192.168.101.250:443, snat, rr, two backends), and the capture opens " +
                "with ARP replies from both backends and the client, so a frame wrongly forwarded would show up in the " +
                "output rather than wait for a neighbour. Frames shorter than 60 bytes are kept short where the " +
                "truncation is the point (as a capture with a small snap length would hold them); other short frames " +
                "carry the usual padding. The test also checks the engine's drop counters, one frame per line:") +
                list.Append('\n'),
            Farm("app", "ipv4", "192.168.101.250", "443", "tcp", "snat",
                FarmJson.Backend("bck0", "192.168.1.10"), FarmJson.Backend("bck1", "192.168.1.11")),
            tl.Input, tl.Expected)
        {
            ExpectedDrops = drops,
        };
    }
}
