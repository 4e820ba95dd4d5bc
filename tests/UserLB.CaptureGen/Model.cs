using System.Net;
using System.Net.NetworkInformation;
using UserLB.Packets;

namespace UserLB.CaptureGen;

/// <summary>One frame of a capture and its time (nanoseconds since the Unix epoch), with its offload state (a partial
/// checksum, a GSO super-frame; plain by default), which only pcapng files carry (a "vnet: …" comment line).</summary>
public sealed record TimedFrame(long TimestampNs, byte[] Data, VnetHeader Offload = default);

/// <summary>An expected frame whose SNAT source port the engine picks at random (get_unique_tuple): it is written with
/// source port <see cref="CaptureScenario.PortPlaceholder"/> and the checksum that goes with it.</summary>
public sealed record RemappedPort(int ExpectedFrameIndex, ushort OriginalPort);

/// <summary>Frames to append to a scenario's input once the randomly chosen port is known, and the frames they should give.</summary>
public sealed record FollowUp(IReadOnlyList<TimedFrame> Input, IReadOnlyList<TimedFrame> Expected);

/// <summary>A generated scenario: what goes into <c>captures/&lt;Name&gt;/</c> plus what the tests need to judge the replay.</summary>
public sealed record CaptureScenario(string Name, string Readme, string FarmsJson, IReadOnlyList<TimedFrame> Input, IReadOnlyList<TimedFrame> Expected)
{
    /// <summary>The source port written in expected frames whose real port is chosen at random by the engine.</summary>
    public const ushort PortPlaceholder = 0;

    /// <summary>Drop counters the replay must end with (reasons not listed must stay 0).</summary>
    public IReadOnlyDictionary<DropReason, long> ExpectedDrops { get; init; } = new Dictionary<DropReason, long>();

    /// <summary>Expected frames with a placeholder source port (compared by properties, not bytes).</summary>
    public IReadOnlyList<RemappedPort> RemappedPorts { get; init; } = [];

    /// <summary>Given the port the engine chose, more input (replies to that port) and the frames it should produce.</summary>
    public Func<ushort, FollowUp>? FollowUp { get; init; }

    /// <summary>
    /// For scenarios whose input has offloads: every frame the LB sends as it sends it (a super-frame whole, a partial
    /// checksum still partial, with its offload state), what a pcapng output holds; <see cref="Expected"/> holds them as
    /// the wire carries them (completed and segmented in software). Null: the same as <see cref="Expected"/>.
    /// </summary>
    public IReadOnlyList<TimedFrame>? ExpectedAsSent { get; init; }

    /// <summary>True when some input frame has offloads: the input is then in.pcapng, whose comments carry them.</summary>
    public bool HasOffloads => Input.Any(f => !f.Offload.IsPlain);

    /// <summary>The input file's name: in.pcapng when frames have offloads (classic pcap cannot carry them), else in.pcap.</summary>
    public string InputFileName => HasOffloads ? "in.pcapng" : "in.pcap";
}

/// <summary>A host on the wire: its MAC, its address and its IPv4 identification counter.</summary>
public sealed class Host(string name, string mac, string ip, ushort firstIpId)
{
    private ushort _nextId = firstIpId;

    /// <summary>A host with the same addresses whose identification counter continues from this one's.</summary>
    public Host Copy() => new(Name, mac, ip, _nextId);

    public string Name { get; } = name;
    public PhysicalAddress Mac { get; } = Frames.Mac(mac);
    public IPAddress Ip { get; } = Frames.Ip(ip);

    public ushort NextId() => _nextId++;
}

/// <summary>A farm as the model sees it: the VIP and port clients use, and the address backends see as the source.</summary>
public sealed record FarmModel(PhysicalAddress LbMac, IPAddress Vip, ushort Port, bool Snat, IPAddress? SourceAddress = null)
{
    public Flow Flow(Host client, ushort clientPort, Host backend, ushort? backendPort = null, ushort? natPort = null,
        uint clientIsn = 0x1000_0000, uint serverIsn = 0x5000_0000) =>
        new(this, client, clientPort, backend, backendPort ?? Port, Snat ? SourceAddress ?? Vip : client.Ip, natPort ?? clientPort, clientIsn, serverIsn);
}

/// <summary>
/// One connection through the LB, in the model of the engine's documented behaviour: a packet from the client (to
/// VIP:port) leaves towards the backend with the destination rewritten to backend:port (DNAT) and, in snat mode, the
/// source to the VIP (SNAT); a packet from the backend leaves towards the client from VIP:port. Forwarded frames get
/// src MAC = LB, dst MAC = next hop, TTL/hop limit − 1; the IPv4 identification and everything else is kept.
/// Each method returns the frame arriving at the LB and the frame the LB must send.
/// </summary>
public sealed class Flow(FarmModel farm, Host client, ushort clientPort, Host backend, ushort backendPort,
    IPAddress backendSeesAddress, ushort backendSeesPort, uint clientIsn, uint serverIsn)
{
    public const int Ttl = 64;
    private const ushort ClientWindow = 64240;
    private const ushort ServerWindow = 65160;

    private uint _clientNext = clientIsn;
    private uint _serverNext = serverIsn;
    private (ushort Id, byte[] Payload)? _lastClientDatagram;

    public Host Client => client;
    public Host Backend => backend;
    public ushort BackendSeesPort => backendSeesPort;

    private Link ClientToLb => new(client.Mac, farm.LbMac);
    private Link LbToBackend => new(farm.LbMac, backend.Mac);
    private Link BackendToLb => new(backend.Mac, farm.LbMac);
    private Link LbToClient => new(farm.LbMac, client.Mac);

    private ushort Id(Host h) => h.Ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? h.NextId() : (ushort)0;

    public (byte[] In, byte[] Out) ClientTcp(TcpFlags flags, byte[]? payload = null)
    {
        payload ??= [];
        ushort id = Id(client);
        uint seq = _clientNext, ack = (flags & TcpFlags.Ack) != 0 ? _serverNext : 0;
        _clientNext += (uint)payload.Length + ((flags & TcpFlags.Syn) != 0 ? 1u : 0) + ((flags & TcpFlags.Fin) != 0 ? 1u : 0);
        var inFrame = Frames.Tcp(ClientToLb, new IpFields(client.Ip, farm.Vip, Ttl, id), clientPort, farm.Port, seq, ack, flags, ClientWindow, payload);
        var outFrame = Frames.Tcp(LbToBackend, new IpFields(backendSeesAddress, backend.Ip, Ttl - 1, id), backendSeesPort, backendPort, seq, ack, flags, ClientWindow, payload);
        return (inFrame, outFrame);
    }

    public (byte[] In, byte[] Out) BackendTcp(TcpFlags flags, byte[]? payload = null)
    {
        payload ??= [];
        ushort id = Id(backend);
        uint seq = _serverNext, ack = (flags & TcpFlags.Ack) != 0 ? _clientNext : 0;
        _serverNext += (uint)payload.Length + ((flags & TcpFlags.Syn) != 0 ? 1u : 0) + ((flags & TcpFlags.Fin) != 0 ? 1u : 0);
        var inFrame = Frames.Tcp(BackendToLb, new IpFields(backend.Ip, backendSeesAddress, Ttl, id), backendPort, backendSeesPort, seq, ack, flags, ServerWindow, payload);
        var outFrame = Frames.Tcp(LbToClient, new IpFields(farm.Vip, client.Ip, Ttl - 1, id), farm.Port, clientPort, seq, ack, flags, ServerWindow, payload);
        return (inFrame, outFrame);
    }

    public (byte[] In, byte[] Out) ClientUdp(byte[] payload)
    {
        ushort id = Id(client);
        _lastClientDatagram = (id, payload);
        var inFrame = Frames.Udp(ClientToLb, new IpFields(client.Ip, farm.Vip, Ttl, id), clientPort, farm.Port, payload);
        var outFrame = Frames.Udp(LbToBackend, new IpFields(backendSeesAddress, backend.Ip, Ttl - 1, id), backendSeesPort, backendPort, payload);
        return (inFrame, outFrame);
    }

    public (byte[] In, byte[] Out) BackendUdp(byte[] payload)
    {
        ushort id = Id(backend);
        var inFrame = Frames.Udp(BackendToLb, new IpFields(backend.Ip, backendSeesAddress, Ttl, id), backendPort, backendSeesPort, payload);
        var outFrame = Frames.Udp(LbToClient, new IpFields(farm.Vip, client.Ip, Ttl - 1, id), farm.Port, clientPort, payload);
        return (inFrame, outFrame);
    }

    /// <summary>
    /// The backend answers the client's last datagram with ICMP destination unreachable (code 3, port unreachable),
    /// quoting that datagram as it received it. The LB relays it to the client from the VIP, with the quoted datagram
    /// translated back to what the client sent (client:port → VIP:port; the quoted TTL stays the one the backend saw).
    /// </summary>
    public (byte[] In, byte[] Out) BackendPortUnreachable()
    {
        var (quotedId, payload) = _lastClientDatagram ?? throw new InvalidOperationException("no datagram to answer");
        ushort id = Id(backend);
        var quotedIn = Frames.UdpIpBytes(new IpFields(backendSeesAddress, backend.Ip, Ttl - 1, quotedId), backendSeesPort, backendPort, payload);
        var quotedOut = Frames.UdpIpBytes(new IpFields(client.Ip, farm.Vip, Ttl - 1, quotedId), clientPort, farm.Port, payload);
        var inFrame = Frames.IcmpUnreachable(BackendToLb, new IpFields(backend.Ip, backendSeesAddress, Ttl, id, DontFragment: false), 3, quotedIn);
        var outFrame = Frames.IcmpUnreachable(LbToClient, new IpFields(farm.Vip, client.Ip, Ttl - 1, id, DontFragment: false), 3, quotedOut);
        return (inFrame, outFrame);
    }

    /// <summary>
    /// A client segment sent with a partial checksum (CHECKSUM_PARTIAL: the TCP checksum field holds the pseudo-header
    /// sum, the offload completes it), as a local sender's frame arrives through a veth with offloads on. Returns the
    /// frame arriving (partial), its offload state, the frame as the LB sends it (translated, still partial) and as the
    /// wire carries it (completed: the frame a plain sender would have sent).
    /// </summary>
    public (byte[] In, VnetHeader Offload, byte[] AsSent, byte[] Wire) ClientTcpPartial(TcpFlags flags, byte[] payload)
    {
        var (inFrame, outFrame) = ClientTcp(flags, payload);
        var partialIn = Frames.PartialChecksum(inFrame, out var offload);
        return (partialIn, offload, Frames.PartialChecksum(outFrame, out _), outFrame);
    }

    /// <summary>
    /// The backend sends <paramref name="payload"/> as one GSO super-frame (TCP segmentation offload, gso_size
    /// <paramref name="mss"/>, with a partial checksum). Returns the super-frame arriving, its offload state, the
    /// super-frame as the LB sends it (translated, TTL − 1, still partial) and the segments the wire carries (software
    /// GSO as the kernel does it: payload cut at <paramref name="mss"/>, sequence numbers advanced, IPv4 id + 1 per
    /// segment, PSH and FIN on the last segment only, full checksums).
    /// </summary>
    public (byte[] In, VnetHeader Offload, byte[] AsSent, List<byte[]> Wire) BackendTcpSuperFrame(TcpFlags flags, byte[] payload, ushort mss)
    {
        ushort id = Id(backend);
        uint seq = _serverNext, ack = (flags & TcpFlags.Ack) != 0 ? _clientNext : 0;
        _serverNext += (uint)payload.Length;
        var inFrame = Frames.Tcp(BackendToLb, new IpFields(backend.Ip, backendSeesAddress, Ttl, id), backendPort, backendSeesPort, seq, ack, flags, ServerWindow, payload);
        var asSent = Frames.Tcp(LbToClient, new IpFields(farm.Vip, client.Ip, Ttl - 1, id), farm.Port, clientPort, seq, ack, flags, ServerWindow, payload);
        var wire = new List<byte[]>();
        for (int at = 0, i = 0; at < payload.Length; at += mss, i++)
        {
            int end = Math.Min(at + mss, payload.Length);
            var f = end == payload.Length ? flags : flags & ~(TcpFlags.Psh | TcpFlags.Fin);
            wire.Add(Frames.Tcp(LbToClient, new IpFields(farm.Vip, client.Ip, Ttl - 1, (ushort)(id + i)), farm.Port, clientPort,
                seq + (uint)at, ack, f, ServerWindow, payload[at..end]));
        }
        var partialIn = Frames.PartialChecksum(inFrame, out var partial);
        var offload = partial with { GsoType = VnetHeader.GsoTcpV4, GsoSize = mss, HdrLen = (ushort)(partial.CsumStart + 20) };
        return (partialIn, offload, Frames.PartialChecksum(asSent, out _), wire);
    }

    /// <summary>A short HTTP-like exchange: handshake, request, response, and a four-way FIN close started by the client.</summary>
    public IEnumerable<(bool FromClient, TcpFlags Flags, byte[] Payload)> HttpScript(string path)
    {
        var request = System.Text.Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: app\r\n\r\n");
        var response = System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello from {backend.Name[^1]}\n");
        yield return (true, TcpFlags.Syn, []);
        yield return (false, TcpFlags.Syn | TcpFlags.Ack, []);
        yield return (true, TcpFlags.Ack, []);
        yield return (true, TcpFlags.Psh | TcpFlags.Ack, request);
        yield return (false, TcpFlags.Ack, []);
        yield return (false, TcpFlags.Psh | TcpFlags.Ack, response);
        yield return (true, TcpFlags.Ack, []);
        yield return (true, TcpFlags.Fin | TcpFlags.Ack, []);
        yield return (false, TcpFlags.Ack, []);
        yield return (false, TcpFlags.Fin | TcpFlags.Ack, []);
        yield return (true, TcpFlags.Ack, []);
    }

    /// <summary>The frames of <see cref="HttpScript"/>, built lazily so several flows can be interleaved.</summary>
    public IEnumerable<(byte[] In, byte[] Out)> HttpExchange(string path = "/")
    {
        foreach (var (fromClient, flags, payload) in HttpScript(path))
            yield return fromClient ? ClientTcp(flags, payload) : BackendTcp(flags, payload);
    }
}

/// <summary>
/// Builds a capture pair: input frames (padded to the Ethernet minimum, as on the wire) and the frames the LB must send
/// (not padded: the engine sends 14 + IP total length bytes), each stamped with the time of the input frame that caused it.
/// </summary>
public sealed class Timeline
{
    /// <summary>2023-11-14 22:13:20 UTC.</summary>
    public const long StartNs = 1_700_000_000L * 1_000_000_000L;
    public const long StepNs = 1_000_000;

    public Timeline(long startNs = StartNs) => NowNs = startNs;

    public long NowNs { get; private set; }
    public List<TimedFrame> Input { get; } = [];
    public List<TimedFrame> Expected { get; } = [];

    /// <summary>A frame the LB takes in without sending anything (ARP reply, neighbour advertisement, dropped frame).</summary>
    public void Absorbed(byte[] frame, bool pad = true)
    {
        Input.Add(new TimedFrame(NowNs, pad ? Frames.Pad(frame) : frame));
        NowNs += StepNs;
    }

    /// <summary>A frame the LB forwards as <paramref name="frames"/>.Out.</summary>
    public void Forwarded((byte[] In, byte[] Out) frames)
    {
        Input.Add(new TimedFrame(NowNs, Frames.Pad(frames.In)));
        Expected.Add(new TimedFrame(NowNs, frames.Out));
        AsSent.Add(new TimedFrame(NowNs, frames.Out));
        NowNs += StepNs;
    }

    /// <summary>A frame that makes the LB send <paramref name="sent"/> (none, an answer, a solicitation, frames it had queued).</summary>
    public void Step(byte[] received, params byte[][] sent)
    {
        Input.Add(new TimedFrame(NowNs, Frames.Pad(received)));
        foreach (var f in sent)
        {
            Expected.Add(new TimedFrame(NowNs, f));
            AsSent.Add(new TimedFrame(NowNs, f));
        }
        NowNs += StepNs;
    }

    public void Wait(TimeSpan span) => NowNs += span.Ticks * 100;

    /// <summary>Every frame the LB sends as it sends it (see <see cref="CaptureScenario.ExpectedAsSent"/>): plain frames as in
    /// <see cref="Expected"/>, frames with offloads whole and with their offload state.</summary>
    public List<TimedFrame> AsSent { get; } = [];

    /// <summary>A frame arriving with offloads, which the LB forwards as <paramref name="asSent"/> (offloads kept, for the
    /// kernel or a pcapng file) and the wire carries as <paramref name="wire"/> (completed, segmented).</summary>
    public void ForwardedWithOffloads(byte[] received, VnetHeader offload, byte[] asSent, IEnumerable<byte[]> wire)
    {
        ArgumentNullException.ThrowIfNull(wire);
        Input.Add(new TimedFrame(NowNs, received, offload));
        AsSent.Add(new TimedFrame(NowNs, asSent, offload.ForTransmit()));
        foreach (var f in wire) Expected.Add(new TimedFrame(NowNs, f));
        NowNs += StepNs;
    }

    /// <summary>Takes one step of each exchange in turn until all are done.</summary>
    public void Interleave(params IEnumerable<(byte[] In, byte[] Out)>[] exchanges)
    {
        var enumerators = exchanges.Select(e => e.GetEnumerator()).ToList();
        try
        {
            bool any = true;
            while (any)
            {
                any = false;
                foreach (var e in enumerators)
                {
                    if (!e.MoveNext()) continue;
                    Forwarded(e.Current);
                    any = true;
                }
            }
        }
        finally
        {
            foreach (var e in enumerators) e.Dispose();
        }
    }
}
