using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>
/// A SYN flood's packet: a SYN from a source never seen before (a random address in 198.18.0.0/15 and a random port
/// ≥ 1024, as <c>hping3 -S --flood --rand-source</c> sends) to the NAT farm's VIP, one every microsecond of the engine's
/// clock (1 Mpps). Setup sends 400,000 of them first, so the measurement is the flood's steady state: both backends'
/// SNAT port spaces full of unreplied entries and the engine under pressure. Cases: <c>admitted</c> — no budget, every
/// SYN a new connection (port search, eviction of the oldest unassured entry, insert, rewrite, send); <c>over-budget</c>
/// — a global budget of 10,000 new flows a second, so nearly every SYN is dropped before scheduling (and its tuple
/// remembered, for a retry); <c>synproxy</c> — the farm has "synproxy": "on", so every SYN is answered with a cookie
/// SYN-ACK and nothing is kept.
/// </summary>
public class FloodBenchmarks
{
    private const long StepNs = 1_000;
    private const int Prefill = 400_000;
    private EngineScenario _s = null!;
    private byte[] _syn = null!, _work = null!;
    private ulong _rng = 0x9E37_79B9_7F4A_7C15UL;
    private long _now;

    [Params("admitted", "over-budget", "synproxy")]
    public string Case { get; set; } = "admitted";

    [GlobalSetup]
    public void Setup()
    {
        int budget = Case == "over-budget" ? 10_000 : 0;
        _s = new EngineScenario(false, "snat", "weight", sweepPerFrame: 4, options: o => o with { NewFlowBudget = budget },
            farmKeys: Case == "synproxy" ? "\"synproxy\":\"on\"," : "");
        _s.Sink.Inspect = false;
        // The backends carry established flows (pinned next hops): the flood's senders are the neighbours evicted.
        foreach (var b in _s.BackendIps) _s.Engine.Neighbors.Pin(b);
        _syn = FrameBuilder.Tcp(EngineScenario.Client, EngineScenario.Lb, IpAddr.Parse("198.18.0.1"), _s.Vip, 1024, 443, TcpFlags.Syn);
        _work = new byte[_syn.Length];
        _now = 1;
        for (int i = 0; i < Prefill; i++) FloodSyn();
    }

    /// <summary>Writes a random source address (198.18.0.0/15) and port (≥ 1024), fixing both checksums incrementally.</summary>
    private void Vary(Span<byte> f)
    {
        _rng ^= _rng << 13;
        _rng ^= _rng >> 7;
        _rng ^= _rng << 17;
        uint src = 0xC612_0000u | (uint)(_rng & 0x1_FFFF);
        ushort port = (ushort)(1024 + (_rng >> 17) % 64_512);
        var ip = f[14..];
        var tcp = ip[20..];
        ushort hi = BinaryPrimitives.ReadUInt16BigEndian(ip[12..]), lo = BinaryPrimitives.ReadUInt16BigEndian(ip[14..]);
        ushort oldPort = BinaryPrimitives.ReadUInt16BigEndian(tcp);
        ushort newHi = (ushort)(src >> 16), newLo = (ushort)src;
        ushort ipCheck = Checksum.Update16(Checksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(ip[10..]), hi, newHi), lo, newLo);
        ushort tcpCheck = Checksum.Update16(Checksum.Update16(Checksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(tcp[16..]), hi, newHi), lo, newLo), oldPort, port);
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], src);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], ipCheck);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, port);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], tcpCheck);
    }

    [Benchmark]
    public void FloodSyn()
    {
        FrameCopy.Copy(_syn, _work);
        Vary(_work);
        _now += StepNs;
        _s.Engine.Process(_work, 0, _now);
    }

    public long NewFlows => _s.Engine.Counters.NewFlows;
    public long Dropped => _s.Engine.Counters.Dropped;
    public long Forwarded => _s.Engine.Counters.Forwarded;
    public long Evictions => _s.Engine.Counters.NatPortEvictions;
    public long SynProxySyns => _s.Engine.Counters.SynProxySyns;
    public int Entries => _s.Engine.Table.Count;
    public bool UnderPressure => _s.Engine.UnderPressure(_now);
    public EngineScenario Scenario => _s;
}
