using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>
/// Cost of a new flow: a SYN from a client port not seen before → farm match, scheduler pick, SNAT tuple check,
/// conntrack insert, rewrite, send. The clock moves 10 ms per SYN, so entries (SYN_SENT: 120 s) expire after ~12,000
/// SYNs and the steady state includes their removal by the engine's incremental sweep — as in a real table.
/// Client ports cycle fastest (1024–60999) over 64 client addresses, so live reply tuples never clash.
/// </summary>
public class NewFlowBenchmarks
{
    private const long StepNs = 10_000_000;
    private EngineScenario _s = null!;
    private byte[] _syn = null!, _work = null!;
    private int _l3, _portAt, _ipAt;
    private uint _i;
    private long _now;

    [Params(false, true)]
    public bool Ipv6 { get; set; }

    [Params("weight", "hash")]
    public string Scheduler { get; set; } = "weight";

    [GlobalSetup]
    public void Setup()
    {
        _s = new EngineScenario(Ipv6, "snat", Scheduler, maxConnections: 1 << 20, sweepPerFrame: 4);
        _s.Sink.Inspect = false;
        // 64 client addresses behind one router MAC (the neighbour table learns each once).
        for (int k = 0; k < 64; k++) _s.Engine.Neighbors.Learn(ClientAddress(k), EngineScenario.Client, 0, 0);
        _syn = FrameBuilder.Tcp(EngineScenario.Client, EngineScenario.Lb, _s.ClientIp, _s.Vip, 1024, 443, TcpFlags.Syn);
        _work = new byte[_syn.Length];
        _l3 = 14;
        _ipAt = _l3 + (Ipv6 ? 8 + 15 : 12 + 3); // last byte of the source address
        _portAt = _l3 + (Ipv6 ? 40 : 20);
        _now = 1;
    }

    private IpAddr ClientAddress(int k) => Ipv6 ? new IpAddr(_s.ClientIp.Hi, (_s.ClientIp.Lo & ~0xFFUL) | (uint)k) : IpAddr.FromV4((_s.ClientIp.V4 & ~0xFFu) | (uint)k);

    /// <summary>Writes client port and address for SYN number <paramref name="i"/>, fixing both checksums incrementally.</summary>
    private void Vary(Span<byte> f, uint i)
    {
        ushort port = (ushort)(1024 + i % 60_000);
        byte host = (byte)((i / 60_000) % 64);
        var tcp = f[_portAt..];
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(tcp[16..]);
        check = Checksum.Update16(check, 1024, port);
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(f[(_ipAt - 1)..]);
        ushort newWord = (ushort)((oldWord & 0xFF00) | host);
        check = Checksum.Update16(check, oldWord, newWord);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, port);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], check);
        f[_ipAt] = host;
        if (!Ipv6)
        {
            var ip = f[_l3..];
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(ip[10..]), oldWord, newWord));
        }
    }

    [Benchmark]
    public void NewTcpFlow()
    {
        FrameCopy.Copy(_syn, _work);
        Vary(_work, _i++);
        _now += StepNs;
        _s.Engine.Process(_work, 0, _now);
    }

    public long NewFlows => _s.Engine.Counters.NewFlows;
    public long Dropped => _s.Engine.Counters.Dropped;
}
