using PacketDotNet;
using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine.Tests.Engine;

/// <summary>
/// One engine fed frames by a test: records what it sends, keeps one <see cref="IdRegistry"/> across configuration
/// changes (as the real control plane does), and checks the accounting invariant after every frame.
/// </summary>
internal sealed class EngineHarness
{
    public const long S = 1_000_000_000L;
    public const long Ms = 1_000_000L;

    private readonly ListSink _sink = new();
    private readonly IdRegistry _ids = new();
    private long _generation;

    public EngineHarness(string json, EngineOptions? options = null)
    {
        Engine = new PacketEngine((options ?? new EngineOptions { Seed = 1 }) with { PortMacs = [MacAddress.Parse(TestFrames.LbMac)] }, _sink);
        Apply(json);
    }

    public PacketEngine Engine { get; }
    public List<byte[]> Sent => _sink.Frames;

    /// <summary>The offload state each frame in <see cref="Sent"/> left with (plain for frames sent without).</summary>
    public List<VnetHeader> SentOffloads => _sink.Offloads;
    public EngineCounters Counters => Engine.Counters;

    public void Apply(string json, IReadOnlySet<string>? unhealthy = null) =>
        Engine.Apply(EngineSnapshot.Build(ConfigParser.Parse(json), _ids, unhealthy, ++_generation));

    public int BackendId(string farm, string backend) => _ids.BackendId(farm, backend);

    /// <summary>Processes a frame (a copy: the engine rewrites in place) and returns what the engine sent because of it.</summary>
    public List<byte[]> Process(byte[] frame, long nowNs, VnetHeader offload = default, int port = 0)
    {
        int before = Sent.Count;
        Engine.Process(frame.AsSpan().ToArray(), port, nowNs, offload);
        AssertInvariant();
        return Sent.GetRange(before, Sent.Count - before);
    }

    /// <summary>Processes a frame that must be forwarded as exactly one frame; returns it, checksums verified.</summary>
    public byte[] Forward(byte[] frame, long nowNs)
    {
        var sent = Process(frame, nowNs);
        Assert.True(sent.Count == 1, $"expected one frame out, got {sent.Count}; drops: {DropSummary()}");
        TestFrames.AssertChecksumsValid(sent[0]);
        return sent[0];
    }

    /// <summary>rx = forwarded + answered + dropped + waiting for a neighbour.</summary>
    public void AssertInvariant()
    {
        var c = Engine.Counters;
        Assert.Equal(c.RxFrames, c.Forwarded + c.Consumed + c.Dropped + Engine.Neighbors.PendingFrames);
    }

    /// <summary>Teaches the engine a neighbour with an ARP reply.</summary>
    public void Learn(string mac, string ip, long nowNs = 0) => Assert.Empty(Process(TestFrames.ArpReply(mac, ip), nowNs));

    public void LearnBackends(long nowNs = 0)
    {
        Learn(TestFrames.Bck0Mac, "192.168.1.10", nowNs);
        Learn(TestFrames.Bck1Mac, "192.168.1.11", nowNs);
    }

    public List<int> LiveEntries()
    {
        var list = new List<int>();
        for (int i = 0; i < Engine.Table.HighWater; i++)
            if (Engine.Table[i].InUse) list.Add(i);
        return list;
    }

    public ConnEntry SingleEntry()
    {
        var live = LiveEntries();
        Assert.True(live.Count == 1, $"expected one connection, found {live.Count}");
        return Engine.Table[live[0]];
    }

    /// <summary>The one live entry whose original source is <paramref name="client"/>.</summary>
    public ConnEntry SingleEntryOf(string client)
    {
        var matches = LiveEntries().Where(i => Engine.Table[i].Original.Src == IpAddr.Parse(client)).ToList();
        Assert.True(matches.Count == 1, $"expected one connection from {client}, found {matches.Count}");
        return Engine.Table[matches[0]];
    }

    public string DropSummary() =>
        string.Join(", ", Enumerable.Range(0, (int)DropReason.Count).Where(i => Engine.Counters.Drops[i] > 0)
            .Select(i => $"{((DropReason)i).Name()}={Engine.Counters.Drops[i]}"));

    public static IPPacket Ip(byte[] frame) => Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<IPPacket>();

    public static TcpPacket Tcp(byte[] frame) => Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<TcpPacket>();

    public static UdpPacket Udp(byte[] frame) => Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<UdpPacket>();

    public static string Dst(byte[] frame) => Ip(frame).DestinationAddress.ToString();

    public static string Src(byte[] frame) => Ip(frame).SourceAddress.ToString();

    public static string EthDst(byte[] frame) => MacAddress.Read(frame).ToString();

    private sealed class ListSink : IFrameSink
    {
        public List<byte[]> Frames { get; } = [];
        public List<VnetHeader> Offloads { get; } = [];

        public void Send(ReadOnlySpan<byte> frame, int port) => Send(frame, port, default);

        public void Send(ReadOnlySpan<byte> frame, int port, in VnetHeader offload)
        {
            Frames.Add(frame.ToArray());
            Offloads.Add(offload);
        }
    }
}
