using BenchmarkDotNet.Attributes;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>
/// The connection table's lookup at 1 k, 100 k and 1 M entries: hits on random live tuples (either direction, so the
/// access pattern defeats the caches as real traffic does at large sizes) and misses (a new flow's first lookup).
/// </summary>
public class ConnTableBenchmarks
{
    private const int Probes = 4096;
    private ConnTable _table = null!;
    private FlowTuple[] _hits = null!, _misses = null!;
    private int _k;

    [Params(1_000, 100_000, 1_000_000)]
    public int Entries { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _table = Fill(Entries);
        var rng = new Random(7);
        _hits = new FlowTuple[Probes];
        _misses = new FlowTuple[Probes];
        for (int i = 0; i < Probes; i++)
        {
            int j = rng.Next(Entries);
            _hits[i] = (i & 1) == 0 ? Original(j) : Reply(j);
            _misses[i] = Original(Entries + 1 + rng.Next(1 << 24));
        }
    }

    /// <summary>A table of <paramref name="n"/> NAT-mode entries <see cref="Original"/>(i) / <see cref="Reply"/>(i).</summary>
    public static ConnTable Fill(int n)
    {
        var table = new ConnTable(n, 0x5EED_0000_1234_5678UL);
        var random = new Random(1);
        for (int i = 0; i < n; i++)
        {
            if (table.Insert(Original(i), Reply(i), 0, long.MaxValue / 2, ConnStatus.SrcNat | ConnStatus.DstNat, random) < 0)
                throw new InvalidOperationException("insert failed");
        }

        return table;
    }

    private static readonly IpAddr Vip = IpAddr.FromV4(0xC0A8_65FAu);

    /// <summary>Client 10.0.x.y:port → VIP:443.</summary>
    public static FlowTuple Original(int i) =>
        new(IpAddr.FromV4(0x0A00_0000u + (uint)(i / 50_000)), Vip, (ushort)(1024 + i % 50_000), 443, IpProtocols.Tcp);

    /// <summary>Backend .10/.11:443 → SNAT address 192.168.101.(i / 60000):(1024 + i % 60000), unique per entry.</summary>
    public static FlowTuple Reply(int i) =>
        new(IpAddr.FromV4(0xC0A8_010Au + (uint)(i & 1)), IpAddr.FromV4(0xC0A8_6500u + (uint)(i / 60_000)), 443, (ushort)(1024 + i % 60_000), IpProtocols.Tcp);

    [Benchmark]
    public int LookupHit()
    {
        var t = _hits[_k++ & (Probes - 1)];
        return _table.Lookup(t, 1, out _);
    }

    [Benchmark]
    public int LookupMiss()
    {
        var t = _misses[_k++ & (Probes - 1)];
        return _table.Lookup(t, 1, out _);
    }
}
