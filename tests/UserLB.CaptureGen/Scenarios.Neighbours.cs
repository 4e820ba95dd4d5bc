using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using PacketDotNet;
using UserLB.Packets;

namespace UserLB.CaptureGen;

/// <summary>The replay scenarios where the LB resolves or answers for neighbours: ARP and IPv6 neighbour discovery.</summary>
public static partial class Scenarios
{
    // ------------------------------------------------------------------ 9, 10: ARP resolution

    private static CaptureScenario ArpResolve()
    {
        const string Name = "arp-resolve";
        var snatIp = Frames.Ip("192.168.1.250");
        var farm = new FarmModel(LbMac, Vip4, 443, Snat: true, SourceAddress: snatIp);
        Host c1 = Client1(), c2 = Client2(), b0 = Bck0(), b1 = Bck1();
        var tl = new Timeline();
        // The client resolves the VIP: the LB answers for it.
        tl.Step(Frames.ArpRequest(c1.Mac, c1.Ip, Vip4), Frames.ArpReply(LbMac, Vip4, c1.Mac, c1.Ip));
        // bck1 resolves the SNAT address: the LB answers for it too (and learns bck1 from the request).
        tl.Step(Frames.ArpRequest(b1.Mac, b1.Ip, snatIp), Frames.ArpReply(LbMac, snatIp, b1.Mac, b1.Ip));
        // Someone asks for an address the LB does not own: no answer.
        tl.Step(Frames.ArpRequest(b1.Mac, b1.Ip, Frames.Ip("192.168.1.1")));
        // First connection: rr → bck0, whose MAC is unknown. The SYN waits while the LB asks for bck0, telling the
        // packet's (translated) source, the SNAT address; bck0's reply releases it.
        var f1 = farm.Flow(c1, 40021, b0, clientIsn: 0x21000000, serverIsn: 0xa1000000);
        var syn = f1.ClientTcp(TcpFlags.Syn);
        tl.Step(syn.In, Frames.ArpRequest(LbMac, snatIp, b0.Ip));
        tl.Step(Frames.ArpReply(b0.Mac, b0.Ip, LbMac, snatIp), syn.Out);
        tl.Forwarded(f1.BackendTcp(TcpFlags.Syn | TcpFlags.Ack));
        tl.Forwarded(f1.ClientTcp(TcpFlags.Ack));
        // Second connection: rr → bck1, known from its ARP request; client2 is learned from its own SYN.
        var f2 = farm.Flow(c2, 40022, b1, clientIsn: 0x22000000, serverIsn: 0xa2000000);
        tl.Forwarded(f2.ClientTcp(TcpFlags.Syn));
        tl.Forwarded(f2.BackendTcp(TcpFlags.Syn | TcpFlags.Ack));
        tl.Forwarded(f2.ClientTcp(TcpFlags.Ack));
        return new CaptureScenario(Name, Readme(Name,
                "Neighbour resolution without help: no ARP replies up front. The farm is 192.168.101.250:443, snat, " +
                "rr over bck0 (192.168.1.10) and bck1 (192.168.1.11), with `source-addr` 192.168.1.250, so backends " +
                "see connections coming from 192.168.1.250. Client 192.168.101.1 asks who-has 192.168.101.250 and the " +
                "LB answers with its MAC (02:aa:00:00:00:fe); bck1 asks who-has 192.168.1.250 and the LB answers for " +
                "the SNAT address as well; a request for 192.168.1.1, which the LB does not own, gets no answer " +
                "(counted as arp_not_for_us). The client's SYN goes to bck0 (rr), whose MAC the LB does not know: the " +
                "SYN waits, and the LB broadcasts who-has 192.168.1.10 tell 192.168.1.250 (the translated packet's " +
                "source, a local address; sender MAC = the LB's, target MAC 00:00:00:00:00:00) at the SYN's time. " +
                "bck0's ARP reply releases the SYN, stamped with the reply's time; the handshake then completes. A " +
                "second client's connection goes to bck1, whose MAC the LB learned from its ARP request, and its " +
                "SYN|ACK reaches 192.168.101.2, learned from the client's SYN: nothing waits. ARP frames the LB sends " +
                "are 42 bytes (no padding)."),
            FarmJson.Write(
            [
                ("name", "app"), ("family", "ipv4"), ("virtual-addr", "192.168.101.250"), ("virtual-ports", "443"),
                ("protocol", "tcp"), ("mode", "snat"), ("scheduler", "rr"), ("state", "up"), ("source-addr", "192.168.1.250"),
            ], [FarmJson.Backend("bck0", "192.168.1.10"), FarmJson.Backend("bck1", "192.168.1.11")]),
            tl.Input, tl.Expected)
        {
            ExpectedDrops = new Dictionary<DropReason, long> { [DropReason.ArpNotForUs] = 1 },
        };
    }

    private static CaptureScenario ArpResolveDnat()
    {
        const string Name = "arp-resolve-dnat";
        var farm = new FarmModel(LbMac, Vip4, 443, Snat: false);
        Host c1 = Client1(), b0 = Bck0(), b1 = Bck1();
        var tl = new Timeline();
        var f1 = farm.Flow(c1, 40031, b0, clientIsn: 0x31000000, serverIsn: 0xb1000000);
        var syn = f1.ClientTcp(TcpFlags.Syn);
        tl.Step(syn.In, Frames.ArpRequest(LbMac, Vip4, b0.Ip));
        tl.Step(Frames.ArpReply(b0.Mac, b0.Ip, LbMac, Vip4), syn.Out);
        tl.Forwarded(f1.BackendTcp(TcpFlags.Syn | TcpFlags.Ack));
        tl.Forwarded(f1.ClientTcp(TcpFlags.Ack));
        tl.Forwarded(f1.ClientTcp(TcpFlags.Psh | TcpFlags.Ack, Encoding.ASCII.GetBytes("GET /dnat HTTP/1.1\r\nHost: app\r\n\r\n")));
        tl.Forwarded(f1.BackendTcp(TcpFlags.Ack));
        _ = b1;
        return new CaptureScenario(Name, Readme(Name,
                "ARP resolution in dnat mode: the farm 192.168.101.250:443 (dnat, rr, bck0 192.168.1.10 and bck1 " +
                "192.168.1.11) and no neighbour known up front. The client's SYN is DNATed to bck0 but keeps the " +
                "client's source address, which is not the LB's, so the LB's request says who-has 192.168.1.10 tell " +
                "192.168.101.250 (the VIP), broadcast, at the SYN's time. bck0's reply releases the SYN. The client's " +
                "MAC is learned from its SYN, so bck0's SYN|ACK (addressed to the client, routed through the LB) leaves " +
                "at once with source 192.168.101.250:443; the ACK, a request and bck0's ACK follow."),
            Farm("app", "ipv4", "192.168.101.250", "443", "tcp", "dnat",
                FarmJson.Backend("bck0", "192.168.1.10"), FarmJson.Backend("bck1", "192.168.1.11")),
            tl.Input, tl.Expected);
    }

    // ------------------------------------------------------------------ 11: NDP resolution

    private static CaptureScenario NdpResolve()
    {
        const string Name = "ndp-resolve";
        var farm = new FarmModel(LbMac, Vip6, 443, Snat: true);
        var c1 = new Host("client1", "02:aa:00:00:01:01", "2001:db8:101::1", 0);
        var b0 = new Host("bck0", "02:aa:00:00:00:10", "2001:db8:1::10", 0);
        var tl = new Timeline();
        tl.Absorbed(Frames.NeighborAdvertisement(new Link(c1.Mac, LbMac), c1.Ip, Vip6, c1.Ip, c1.Mac));
        // The SYN goes to bck0 (rr), unknown: the LB solicits it from the VIP (the translated packet's source).
        var f1 = farm.Flow(c1, 40641, b0, clientIsn: 0x64000000, serverIsn: 0x65000000);
        var syn = f1.ClientTcp(TcpFlags.Syn);
        var b0Group = Frames.SolicitedNode(b0.Ip);
        tl.Step(syn.In, Frames.NeighborSolicitation(new Link(LbMac, Frames.MulticastMac(b0Group)), Vip6, b0Group, b0.Ip, LbMac));
        tl.Step(Frames.NeighborAdvertisement(new Link(b0.Mac, LbMac), b0.Ip, Vip6, b0.Ip, b0.Mac), syn.Out);
        tl.Forwarded(f1.BackendTcp(TcpFlags.Syn | TcpFlags.Ack));
        tl.Forwarded(f1.ClientTcp(TcpFlags.Ack));
        return new CaptureScenario(Name, Readme(Name,
                "IPv6 neighbour discovery of a backend. Farm [2001:db8:101::250]:443, snat, rr over bck0 " +
                "2001:db8:1::10 and bck1 2001:db8:1::11. Only the client is known up front (a Neighbour Advertisement " +
                "to the LB). The client's SYN goes to bck0, unknown: it waits, and the LB sends a Neighbour " +
                "Solicitation for 2001:db8:1::10 from 2001:db8:101::250 (the translated packet's source, a local " +
                "address) to the solicited-node group ff02::1:ff00:10 (Ethernet 33:33:ff:00:00:10), with the source " +
                "link-layer address option = the LB's MAC, hop limit 255, at the SYN's time. bck0's Neighbour " +
                "Advertisement releases the SYN, stamped with the advertisement's time; the handshake then completes."),
            Farm("app6", "ipv6", "2001:db8:101::250", "443", "tcp", "snat",
                FarmJson.Backend("bck0", "2001:db8:1::10"), FarmJson.Backend("bck1", "2001:db8:1::11")),
            tl.Input, tl.Expected);
    }

    private static CaptureScenario NdpAnswer()
    {
        const string Name = "ndp-answer";
        var c1 = new Host("client1", "02:aa:00:00:01:01", "2001:db8:101::1", 0);
        var other = new Host("other", "02:aa:00:00:01:99", "::", 0);
        var vipGroup = Frames.SolicitedNode(Vip6);
        var allNodes = Frames.Ip("ff02::1");
        var tl = new Timeline();
        // Address resolution: NS to the VIP's solicited-node group with the client's link-layer address.
        tl.Step(Frames.NeighborSolicitation(new Link(c1.Mac, Frames.MulticastMac(vipGroup)), c1.Ip, vipGroup, Vip6, c1.Mac),
            Frames.NeighborAdvertisement(new Link(LbMac, c1.Mac), Vip6, c1.Ip, Vip6, LbMac, router: true, solicited: true, overrideFlag: true));
        // Duplicate address detection of the VIP by another node (source ::, no option): defended to all-nodes, not solicited.
        tl.Step(Frames.NeighborSolicitationDad(new Link(other.Mac, Frames.MulticastMac(vipGroup)), vipGroup, Vip6),
            Frames.NeighborAdvertisement(new Link(LbMac, Frames.MulticastMac(allNodes)), Vip6, allNodes, Vip6, LbMac, router: true, solicited: false, overrideFlag: true));
        return new CaptureScenario(Name, Readme(Name,
                "The LB answers Neighbour Solicitations for its IPv6 VIP (farm [2001:db8:101::250]:443, snat) as " +
                "Linux does on a node with forwarding on, i.e. a router (ndisc_recv_ns → ndisc_send_na with is_router " +
                "= forwarding; RFC 4861 §7.2.4: a router MUST set the R flag). Client 2001:db8:101::1 solicits the VIP " +
                "at its solicited-node group ff02::1:ff00:250 with its link-layer address; the answer goes from the " +
                "VIP to the client's address and MAC with flags Router, Solicited and Override and the target " +
                "link-layer address option = the LB's MAC, hop limit 255. Another node then probes the VIP for " +
                "duplicate address detection (source ::, no option): the LB defends it with an advertisement to " +
                "all-nodes ff02::1 (33:33:00:00:00:01), flags Router and Override, not Solicited. Every frame in is multicast, " +
                "so the LB's MAC comes from the farm's ether-addr (replay takes it from there when no unicast frame names it)."),
            FarmJson.Write(
            [
                ("name", "app6"), ("family", "ipv6"), ("virtual-addr", "2001:db8:101::250"), ("virtual-ports", "443"),
                ("protocol", "tcp"), ("mode", "snat"), ("scheduler", "rr"), ("state", "up"), ("ether-addr", "02:aa:00:00:00:fe"),
            ], [FarmJson.Backend("bck0", "2001:db8:1::10"), FarmJson.Backend("bck1", "2001:db8:1::11")]),
            tl.Input, tl.Expected);
    }
}
