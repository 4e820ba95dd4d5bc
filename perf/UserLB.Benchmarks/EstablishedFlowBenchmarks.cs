using BenchmarkDotNet.Attributes;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>
/// Cost per packet of parse + verify (IPv4 header, full L4 checksum) + conntrack lookup + TCP state + NAT rewrite with
/// incremental checksums + TTL + next hop + send, on an established flow, in both directions. Each iteration copies the
/// template frame into the work buffer first (the engine rewrites in place); <see cref="CopyOnly"/> measures that copy.
/// <see cref="DsrClientDirection"/> is the same packet on a <c>dsr</c> farm's established flow (parse + verify + lookup +
/// IPVS input-only state + two MACs + send: no NAT, no TTL), measured in the same run for comparison.
/// </summary>
public class EstablishedFlowBenchmarks
{
    private EngineScenario _s = null!, _dsr = null!;
    private byte[] _original = null!, _reply = null!, _dsrOriginal = null!, _work = null!;
    private long _now;

    [Params(false, true)]
    public bool Ipv6 { get; set; }

    /// <summary>TCP payload bytes (64: a small packet; 1448: a full segment, where the checksum verification dominates).</summary>
    [Params(64, 1448)]
    public int Payload { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _s = new EngineScenario(Ipv6);
        (_original, _reply) = _s.Establish(40000, Payload, 1);
        _work = new byte[_original.Length];
        _s.Sink.Inspect = false;
        _dsr = new EngineScenario(Ipv6, mode: "dsr");
        _dsrOriginal = _dsr.EstablishDsr(40000, Payload, 1);
        _dsr.Sink.Inspect = false;
        _now = 10;
    }

    [Benchmark]
    public void CopyOnly() => FrameCopy.Copy(_original, _work);

    [Benchmark]
    public void OriginalDirection()
    {
        FrameCopy.Copy(_original, _work);
        _s.Engine.Process(_work, 0, ++_now);
    }

    [Benchmark]
    public void ReplyDirection()
    {
        FrameCopy.Copy(_reply, _work);
        _s.Engine.Process(_work, 0, ++_now);
    }

    [Benchmark]
    public void DsrClientDirection()
    {
        FrameCopy.Copy(_dsrOriginal, _work);
        _dsr.Engine.Process(_work, 0, ++_now);
    }

    /// <summary>Frames the dsr farm forwarded so far.</summary>
    public long DsrForwarded => _dsr.Engine.Counters.Forwarded;

    /// <summary>Frames forwarded so far (the smoke test checks the bodies really forward).</summary>
    public long Forwarded => _s.Engine.Counters.Forwarded;
}
