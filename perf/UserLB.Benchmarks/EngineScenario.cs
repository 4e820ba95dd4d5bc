using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>
/// One engine with one NAT-mode farm (VIP:443, backends .10 and .11) and its neighbours known, as the benchmarks and
/// the smoke test share it. <see cref="Establish"/> runs a three-way handshake so the flow is ESTABLISHED and ASSURED.
/// </summary>
public sealed class EngineScenario
{
    public static readonly MacAddress Lb = MacAddress.Parse("02:00:00:00:00:fe");
    public static readonly MacAddress Client = MacAddress.Parse("02:00:00:00:00:01");
    public static readonly MacAddress Backend0 = MacAddress.Parse("02:00:00:00:00:10");
    public static readonly MacAddress Backend1 = MacAddress.Parse("02:00:00:00:00:11");

    public EngineScenario(bool ipv6, string mode = "snat", string scheduler = "weight", int maxConnections = 262_144, int sweepPerFrame = 0, bool udp = false,
        Func<EngineOptions, EngineOptions>? options = null, string farmKeys = "")
    {
        Ipv6 = ipv6;
        Vip = IpAddr.Parse(ipv6 ? "2001:db8:101::250" : "192.168.101.250");
        ClientIp = IpAddr.Parse(ipv6 ? "2001:db8:101::1" : "192.168.101.1");
        BackendIps = [IpAddr.Parse(ipv6 ? "2001:db8:1::10" : "192.168.1.10"), IpAddr.Parse(ipv6 ? "2001:db8:1::11" : "192.168.1.11")];
        string fam = ipv6 ? "ipv6" : "ipv4";
        var config = ConfigParser.Parse($$"""
            {"farms":[{"name":"app","family":"{{fam}}","virtual-addr":"{{Vip}}","virtual-ports":"443","protocol":"{{(udp ? "udp" : "tcp")}}","mode":"{{mode}}",
              "scheduler":"{{scheduler}}",{{farmKeys}}"backends":[{"name":"b0","ip-addr":"{{BackendIps[0]}}"},{"name":"b1","ip-addr":"{{BackendIps[1]}}"}]}]}
            """);
        Sink = new CountingSink();
        var engineOptions = new EngineOptions { Seed = 1, PortMacs = [Lb], SweepPerFrame = sweepPerFrame, MaxConnections = maxConnections };
        Engine = new PacketEngine(options is null ? engineOptions : options(engineOptions), Sink);
        Engine.Apply(EngineSnapshot.Build(config, new IdRegistry(), null, 1));
        Engine.Neighbors.Learn(BackendIps[0], Backend0, 0, 0);
        Engine.Neighbors.Learn(BackendIps[1], Backend1, 0, 0);
        Engine.Neighbors.Learn(ClientIp, Client, 0, 0);
    }

    public bool Ipv6 { get; }
    public IpAddr Vip { get; }
    public IpAddr ClientIp { get; }
    public IpAddr[] BackendIps { get; }
    public PacketEngine Engine { get; }
    public CountingSink Sink { get; }

    /// <summary>Handshake for client port <paramref name="clientPort"/>; returns the frames of the established flow in
    /// both directions (client → VIP and backend → LB), each carrying <paramref name="payload"/> bytes.</summary>
    public (byte[] Original, byte[] Reply) Establish(ushort clientPort, int payload, long nowNs)
    {
        var syn = FrameBuilder.Tcp(Client, Lb, ClientIp, Vip, clientPort, 443, TcpFlags.Syn);
        long before = Engine.Counters.Forwarded;
        Engine.Process(syn, 0, nowNs);
        // The SYN went to the backend the scheduler chose; the sink saw its destination address.
        var backend = Sink.LastDestination;
        var backendMac = backend.Equals(BackendIps[0]) ? Backend0 : Backend1;
        var synAck = FrameBuilder.Tcp(backendMac, Lb, backend, Vip, 443, clientPort, TcpFlags.Syn | TcpFlags.Ack);
        Engine.Process(synAck, 0, nowNs + 1);
        var original = FrameBuilder.Tcp(Client, Lb, ClientIp, Vip, clientPort, 443, TcpFlags.Ack, payload);
        var reply = FrameBuilder.Tcp(backendMac, Lb, backend, Vip, 443, clientPort, TcpFlags.Ack, payload);
        Engine.Process((byte[])original.Clone(), 0, nowNs + 2);
        if (Engine.Counters.Forwarded != before + 3) throw new InvalidOperationException("the handshake was not forwarded");
        return (original, reply);
    }

    /// <summary>For a scenario built with <c>mode: "dsr"</c>: SYN and ACK from client port <paramref name="clientPort"/>, so
    /// the flow is ESTABLISHED and ASSURED in the client's direction; returns its client → VIP frame with
    /// <paramref name="payload"/> bytes (the backend answers past the LB, so there is no reply frame).</summary>
    public byte[] EstablishDsr(ushort clientPort, int payload, long nowNs)
    {
        long before = Engine.Counters.Forwarded;
        Engine.Process(FrameBuilder.Tcp(Client, Lb, ClientIp, Vip, clientPort, 443, TcpFlags.Syn), 0, nowNs);
        Engine.Process(FrameBuilder.Tcp(Client, Lb, ClientIp, Vip, clientPort, 443, TcpFlags.Ack), 0, nowNs + 1);
        var original = FrameBuilder.Tcp(Client, Lb, ClientIp, Vip, clientPort, 443, TcpFlags.Ack, payload);
        Engine.Process((byte[])original.Clone(), 0, nowNs + 2);
        if (Engine.Counters.Forwarded != before + 3) throw new InvalidOperationException("the dsr flow was not forwarded");
        return original;
    }

    /// <summary>A UDP flow from client port <paramref name="clientPort"/> that has seen its reply; returns its datagrams in
    /// both directions (client → VIP and backend → LB), each carrying <paramref name="payload"/> bytes. The scenario must
    /// have been built with <c>udp: true</c>.</summary>
    public (byte[] Original, byte[] Reply) EstablishUdp(ushort clientPort, int payload, long nowNs)
    {
        var original = FrameBuilder.Udp(Client, Lb, ClientIp, Vip, clientPort, 443, payload);
        long before = Engine.Counters.Forwarded;
        Engine.Process((byte[])original.Clone(), 0, nowNs);
        var backend = Sink.LastDestination;
        var backendMac = backend.Equals(BackendIps[0]) ? Backend0 : Backend1;
        var reply = FrameBuilder.Udp(backendMac, Lb, backend, Vip, 443, clientPort, payload);
        Engine.Process((byte[])reply.Clone(), 0, nowNs + 1);
        Engine.Process((byte[])original.Clone(), 0, nowNs + 2);
        if (Engine.Counters.Forwarded != before + 3) throw new InvalidOperationException("the UDP exchange was not forwarded");
        return (original, reply);
    }

    /// <summary>Counts what the engine transmits and remembers the last IP destination (to find the chosen backend).</summary>
    public sealed class CountingSink : IFrameSink
    {
        public long Frames;
        public IpAddr LastDestination;
        /// <summary>Parse what is sent (setup only: off while measuring).</summary>
        public bool Inspect = true;

        public long OffloadFrames;

        public void Send(ReadOnlySpan<byte> frame, int port)
        {
            Frames++;
            if (Inspect && PacketParser.Parse(frame, out var p) == DropReason.None && p.Kind == FrameKind.Ip) LastDestination = p.Dst;
        }

        /// <summary>A frame with offloads leaves as it is (the AF_PACKET port's way), counted.</summary>
        public void Send(ReadOnlySpan<byte> frame, int port, in VnetHeader offload)
        {
            Frames++;
            if (!offload.IsPlain) OffloadFrames++;
        }
    }
}
