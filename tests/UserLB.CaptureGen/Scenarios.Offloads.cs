using System.Text;
using UserLB.Packets;

namespace UserLB.CaptureGen;

public static partial class Scenarios
{
    // ------------------------------------------------------------------ 14: offloads (partial checksum, GSO super-frame)

    private static CaptureScenario Offloads()
    {
        const string Name = "offloads";
        const ushort Mss = 1448;
        var farm = new FarmModel(LbMac, Vip4, 443, Snat: true);
        Host c1 = Client1(), b0 = Bck0(), b1 = Bck1();
        var tl = new Timeline();
        ArpReplies(tl, Vip4, b0, b1, c1);
        var flow = farm.Flow(c1, 40300, b0, clientIsn: 0x30300000, serverIsn: 0xc0300000);
        tl.Forwarded(flow.ClientTcp(TcpFlags.Syn));
        tl.Forwarded(flow.BackendTcp(TcpFlags.Syn | TcpFlags.Ack));
        tl.Forwarded(flow.ClientTcp(TcpFlags.Ack));
        var request = Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: app\r\n\r\n");
        var partial = flow.ClientTcpPartial(TcpFlags.Psh | TcpFlags.Ack, request);
        tl.ForwardedWithOffloads(partial.In, partial.Offload, partial.AsSent, [partial.Wire]);
        var body = new byte[3000];
        for (int i = 0; i < body.Length; i++) body[i] = (byte)('a' + (i % 26));
        var big = flow.BackendTcpSuperFrame(TcpFlags.Psh | TcpFlags.Ack, body, Mss);
        tl.ForwardedWithOffloads(big.In, big.Offload, big.AsSent, big.Wire);
        tl.Forwarded(flow.ClientTcp(TcpFlags.Ack));

        return new CaptureScenario(Name, Readme(Name,
                "Frames with offloads, as they arrive through a veth with TX checksum offload and TSO on: their offload " +
                "state (struct virtio_net_hdr) comes with them, and since classic pcap cannot carry it the input is " +
                "`in.pcapng`, where a frame's comment line `vnet: …` gives it (the format of `VnetHeader.ToString`). " +
                "The farm is the reference one (192.168.101.250:443, snat, rr). Client 192.168.101.1:40300 opens a " +
                "connection to bck0 (192.168.1.10) with plain frames; then its request (PSH|ACK, 33 bytes) arrives with " +
                $"a partial checksum (`vnet: {partial.Offload}`: the TCP checksum field holds only the pseudo-header " +
                "sum), and bck0's 3000-byte response arrives as one GSO super-frame " +
                $"(`vnet: {big.Offload}`); the client's ACK closes the capture. The engine translates both and keeps " +
                "their offloads (the partial checksum's pseudo-header sum adjusted for the new addresses). " +
                "`expected.pcap` holds the frames as the wire carries them: classic pcap output completes the " +
                $"request's checksum and cuts the response into segments of {Mss}, {Mss} and {body.Length - (2 * Mss)} bytes " +
                "(sequence numbers advanced, IPv4 id + 1 per segment, PSH on the last only, full checksums), all " +
                "stamped with the super-frame's time. `expected-sent.pcapng` holds them as the LB sends them, which is " +
                "what a pcapng output holds: the request still partial and the response one super-frame, each with " +
                "its `vnet: …` line."),
            Farm("app", "ipv4", "192.168.101.250", "443", "tcp", "snat",
                FarmJson.Backend("bck0", "192.168.1.10"), FarmJson.Backend("bck1", "192.168.1.11")),
            tl.Input, tl.Expected)
        {
            ExpectedAsSent = tl.AsSent,
        };
    }
}
