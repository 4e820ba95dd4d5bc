using BenchmarkDotNet.Attributes;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>
/// Cost per packet of parse + verify + conntrack lookup + NAT rewrite + checksum update + send on an established flow.
/// Each iteration copies the template frame into the work buffer first (the engine rewrites in place); that copy is
/// measured separately by <see cref="CopyOnly"/>.
/// </summary>
[MemoryDiagnoser]
public class EstablishedFlowBenchmarks
{
    private static readonly MacAddress Lb = MacAddress.Parse("02:00:00:00:00:fe");
    private static readonly MacAddress Client = MacAddress.Parse("02:00:00:00:00:01");
    private static readonly MacAddress Backend = MacAddress.Parse("02:00:00:00:00:10");
    private PacketEngine _engine = null!;
    private byte[] _original = null!, _reply = null!, _work = null!;

    [Params(false, true)]
    public bool Ipv6 { get; set; }

    private sealed class NullSink : IFrameSink
    {
        public void Send(ReadOnlySpan<byte> frame, int port) { }
    }

    [GlobalSetup]
    public void Setup()
    {
        string vip = Ipv6 ? "2001:db8:101::250" : "192.168.101.250";
        string b = Ipv6 ? "2001:db8:1::10" : "192.168.1.10";
        string c = Ipv6 ? "2001:db8:101::1" : "192.168.101.1";
        string fam = Ipv6 ? "ipv6" : "ipv4";
        var config = ConfigParser.Parse($$"""{"farms":[{"name":"app","family":"{{fam}}","virtual-addr":"{{vip}}","virtual-ports":"443","mode":"snat","scheduler":"weight","backends":[{"name":"b0","ip-addr":"{{b}}"}]}]}""");
        _engine = new PacketEngine(new EngineOptions { Seed = 1, PortMacs = [Lb], SweepPerFrame = 0 }, new NullSink());
        _engine.Apply(EngineSnapshot.Build(config, new IdRegistry(), null, 1));
        _engine.Neighbors.Learn(IpAddr.Parse(b), Backend, 0, 0);
        _engine.Neighbors.Learn(IpAddr.Parse(c), Client, 0, 0);
        var syn = FrameBuilder.Tcp(Client, Lb, IpAddr.Parse(c), IpAddr.Parse(vip), 40000, 443, TcpFlags.Syn);
        _engine.Process(syn, 0, 1);
        var synAck = FrameBuilder.Tcp(Backend, Lb, IpAddr.Parse(b), IpAddr.Parse(vip), 443, 40000, TcpFlags.Syn | TcpFlags.Ack);
        _engine.Process(synAck, 0, 2);
        _original = FrameBuilder.Tcp(Client, Lb, IpAddr.Parse(c), IpAddr.Parse(vip), 40000, 443, TcpFlags.Ack, 64);
        _reply = FrameBuilder.Tcp(Backend, Lb, IpAddr.Parse(b), IpAddr.Parse(vip), 443, 40000, TcpFlags.Ack, 64);
        _work = new byte[_original.Length];
        _engine.Process((byte[])_original.Clone(), 0, 3);
        if (_engine.Counters.Forwarded != 3) throw new InvalidOperationException("setup did not establish the flow");
    }

    [Benchmark]
    public void CopyOnly() => _original.CopyTo(_work, 0);

    [Benchmark]
    public void OriginalDirection()
    {
        _original.CopyTo(_work, 0);
        _engine.Process(_work, 0, 10);
    }

    [Benchmark]
    public void ReplyDirection()
    {
        _reply.CopyTo(_work, 0);
        _engine.Process(_work, 0, 10);
    }
}
