using BenchmarkDotNet.Attributes;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>
/// Checksum work alone: the RFC 1624 incremental updates a NAT rewrite does (one port, one IPv4 address in the L4 and IP
/// checksums, one IPv6 address), and the full verification on arrival over a small and a full-size TCP segment.
/// </summary>
public class ChecksumBenchmarks
{
    private readonly byte[] _small = new byte[20 + 64];
    private readonly byte[] _full = new byte[20 + 1448];

    public byte[] Small => _small;
    public byte[] Full => _full;
    private ushort _check = 0x1234, _port = 40000;
    private IpAddr _a4 = IpAddr.Parse("192.168.101.1"), _b4 = IpAddr.Parse("192.168.1.10");
    private IpAddr _a6 = IpAddr.Parse("2001:db8:101::1"), _b6 = IpAddr.Parse("2001:db8:1::10");

    [GlobalSetup]
    public void Setup()
    {
        new Random(3).NextBytes(_small);
        new Random(4).NextBytes(_full);
    }

    [Benchmark]
    public ushort UpdatePort()
    {
        _check = Checksum.Update16(_check, _port, (ushort)(_port + 1));
        _port++;
        return _check;
    }

    [Benchmark]
    public ushort UpdateIpv4Address()
    {
        (_a4, _b4) = (_b4, _a4);
        uint oldSum = _a4.WordSum(true), newSum = _b4.WordSum(true);
        ushort l4 = Checksum.UpdateSum(_check, oldSum, newSum);
        _check = Checksum.UpdateSum(l4, oldSum, newSum);
        return _check;
    }

    [Benchmark]
    public ushort UpdateIpv6Address()
    {
        (_a6, _b6) = (_b6, _a6);
        _check = Checksum.UpdateSum(_check, _a6.WordSum(false), _b6.WordSum(false));
        return _check;
    }

    [Benchmark]
    public bool VerifySegment84Bytes() => Checksum.Verifies(Checksum.Sum(_small, 0x1_2345));

    [Benchmark]
    public bool VerifySegment1468Bytes() => Checksum.Verifies(Checksum.Sum(_full, 0x1_2345));
}
