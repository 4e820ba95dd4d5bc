using System.Globalization;
using BenchmarkDotNet.Attributes;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>A policy's per-packet lookup (<see cref="PolicyRuntime.Find"/>): bisection over its compiled intervals,
/// for sources it holds and sources it does not, IPv4 (/24 networks) or IPv6 (/64 networks).</summary>
[MemoryDiagnoser]
public class PolicyBenchmarks
{
    private const int Probes = 1024;
    private PolicyRuntime _policy = null!;
    private readonly IpAddr[] _hits = new IpAddr[Probes];
    private readonly IpAddr[] _misses = new IpAddr[Probes];
    private int _k;

    [Params(10, 1_000, 100_000)]
    public int Elements { get; set; }

    [Params(false, true)]
    public bool V6 { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        var elements = new List<PolicyElement>();
        var networks = new List<int>();
        // Every other network is listed, so a miss lands between two elements (the bisection's whole depth).
        for (int i = 0; i < Elements; i++)
        {
            int n = 2 * i;
            networks.Add(n);
            string text = Network(n) + (V6 ? "::/64" : ".0/24");
            PolicyElement.AddTo(elements, PolicyElement.TryParse(text, out var e) ? e : throw new InvalidOperationException(text));
        }
        _policy = PolicyRuntime.Build(new PolicyConfig { Name = "bench", Elements = [.. elements] }, new IdRegistry());
        for (int i = 0; i < Probes; i++)
        {
            int n = networks[random.Next(networks.Count)];
            _hits[i] = IpAddr.Parse(Network(n) + (V6 ? "::9" : ".9"));
            _misses[i] = IpAddr.Parse(Network(n + 1) + (V6 ? "::9" : ".9"));
        }
    }

    /// <summary>Network number <paramref name="n"/>: 2001:db8:X:Y (a /64) or A.B.C (a /24).</summary>
    private string Network(int n) => V6
        ? string.Create(CultureInfo.InvariantCulture, $"2001:db8:{n >> 16:x}:{n & 0xffff:x}")
        : string.Create(CultureInfo.InvariantCulture, $"{10 + (n >> 16)}.{(n >> 8) & 0xff}.{n & 0xff}");

    [Benchmark]
    public int Hit() => _policy.Find(_hits[_k++ & (Probes - 1)]);

    [Benchmark]
    public int Miss() => _policy.Find(_misses[_k++ & (Probes - 1)]);
}
