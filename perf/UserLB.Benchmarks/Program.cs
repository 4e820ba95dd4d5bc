using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;
using UserLB.Benchmarks;
using UserLB.Packets;

// `profile <established|reply|dsr|udp|udpreply|superframe|superframe-copy|newflow|flood|parts|lookup|policy|memory> [v6] [iterations]`: runs one body in a loop, for `perf record` (with
// DOTNET_PerfMapEnabled=1) or dotnet-trace; prints ns per operation. Anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "profile")
{
    string what = args.Length > 1 ? args[1] : "established";
    bool v6 = args.Contains("v6");
    long n = args.Length > 2 && long.TryParse(args[^1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long x) ? x : 20_000_000;
    Action body;
    if (what == "memory")
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var fillTime = Stopwatch.StartNew();
        var table = ConnTableBenchmarks.Fill(1_000_000);
        fillTime.Stop();
        long after = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"connection table, {table.Count} entries: {(after - before) / 1048576.0:F1} MB managed ({(after - before) / table.Count} bytes per entry), filled in {fillTime.ElapsedMilliseconds} ms"));
        return;
    }
    if (what == "lookup")
    {
        foreach (int entries in new[] { 1_000, 100_000, 1_000_000 })
        {
            var t = new ConnTableBenchmarks { Entries = entries };
            t.Setup();
            var (hit, _) = MinTimer.Measure(() => t.LookupHit(), n);
            var (miss, _) = MinTimer.Measure(() => t.LookupMiss(), n);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"lookup at {entries,9} entries: hit {hit:F1} ns, miss {miss:F1} ns (fastest batch)"));
        }
        return;
    }
    if (what == "policy")
    {
        foreach (int elements in new[] { 10, 1_000, 100_000 })
        {
            var p = new PolicyBenchmarks { Elements = elements, V6 = v6 };
            p.Setup();
            var (hit, _) = MinTimer.Measure(() => p.Hit(), n);
            var (miss, _) = MinTimer.Measure(() => p.Miss(), n);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"policy lookup ({(v6 ? "IPv6" : "IPv4")}) at {elements,7} elements: hit {hit:F1} ns, miss {miss:F1} ns (fastest batch)"));
        }
        return;
    }
    if (what == "parts")
    {
        Parts.Run(v6, n);
        return;
    }
    if (what == "flood")
    {
        foreach (var c in new[] { "admitted", "over-budget", "synproxy" })
        {
            var f = new FloodBenchmarks { Case = c };
            f.Setup();
            var (fmin, fmedian) = MinTimer.Measure(f.FloodSyn, n);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"flood SYN, {c}: {fmin:F1} ns/packet (fastest batch of 2,000), median batch {fmedian:F1} ns; {f.Entries} entries, {f.Evictions} evictions, under pressure: {f.UnderPressure}"));
        }
        return;
    }
    if (what == "newflow")
    {
        var b = new NewFlowBenchmarks { Ipv6 = v6 };
        b.Setup();
        body = b.NewTcpFlow;
    }
    else if (what is "udp" or "udpreply")
    {
        // An established UDP flow (reply seen), 64-byte payload: the UDP side of the established path.
        var s = new EngineScenario(v6, udp: true);
        var (original, reply) = s.EstablishUdp(40000, 64, 1);
        var template = what == "udp" ? original : reply;
        var work = new byte[template.Length];
        s.Sink.Inspect = false;
        long now = 10;
        body = () =>
        {
            FrameCopy.Copy(template, work);
            s.Engine.Process(work, 0, ++now);
        };
    }
    else if (what is "superframe" or "superframe-copy")
    {
        // A 64 KB TCP super-frame with a partial checksum on an established flow; -copy: the template copy alone.
        var b = new SuperFrameBenchmarks { Ipv6 = v6, Payload = 64000 };
        b.Setup();
        body = what == "superframe" ? b.OriginalDirection : b.CopyOnly;
    }
    else
    {
        var b = new EstablishedFlowBenchmarks { Ipv6 = v6, Payload = 64 };
        b.Setup();
        body = what switch
        {
            "reply" => b.ReplyDirection,
            "dsr" => b.DsrClientDirection,
            _ => b.OriginalDirection,
        };
    }
    var (min, median) = MinTimer.Measure(body, n);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{what} {(v6 ? "ipv6" : "ipv4")}: {min:F1} ns/op (fastest batch of 2,000), median batch {median:F1} ns/op, {n} ops"));
    return;
}

var config = DefaultConfig.Instance.AddDiagnoser(MemoryDiagnoser.Default);
BenchmarkSwitcher.FromAssembly(typeof(EngineScenario).Assembly).Run(args, config);
