using BenchmarkDotNet.Attributes;
using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>Each scheduler's pick over 10 backends with weights 1..10 (weight: random draw; rr: smooth weighted round
/// robin; hash: Maglev over srcip; symhash: Maglev over both endpoints).</summary>
public class SchedulerBenchmarks
{
    private IScheduler _scheduler = null!;
    private readonly Random _random = new(5);
    private SchedInput _input;
    private uint _i;

    [Params(SchedulerKind.Weight, SchedulerKind.RoundRobin, SchedulerKind.Hash, SchedulerKind.SymHash)]
    public SchedulerKind Kind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var weights = new int[10];
        var keys = new ulong[10];
        for (int i = 0; i < 10; i++)
        {
            weights[i] = i + 1;
            keys[i] = Schedulers.KeyOf("bck" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        _scheduler = Schedulers.Create(Kind, HashFields.None, weights, keys);
        _input = new SchedInput(IpAddr.Parse("192.168.101.1"), IpAddr.Parse("192.168.101.250"), 40000, 443,
            MacAddress.Parse("02:00:00:00:00:01"), MacAddress.Parse("02:00:00:00:00:fe"));
    }

    [Benchmark]
    public int Pick()
    {
        // A different client each time (address and port), as new flows are.
        _i++;
        var input = _input with { Src = IpAddr.FromV4(0x0A00_0000u + _i), SrcPort = (ushort)_i };
        return _scheduler.Pick(input, _random, out _);
    }
}
