using System.Globalization;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Benchmarks;

/// <summary>`profile parts [v6]`: CPU time of each step of the established path alone, to see where the time goes.</summary>
internal static class Parts
{
    public static void Run(bool v6, long n)
    {
        var s = new EngineScenario(v6);
        var (original, _) = s.Establish(40000, 64, 1);
        var table = s.Engine.Table;
        PacketParser.Parse(original, out var info);
        var tuple = FlowTuple.From(info);
        long sink = 0;
        Time("parse", n, () => { sink += (int)PacketParser.Parse(original, out var p) + p.SrcPort; });
        Time("verify ip header", n, () => { if (ChecksumVerifier.Ipv4HeaderValid(original, info)) sink++; });
        Time("verify l4", n, () => { sink += (int)ChecksumVerifier.VerifyL4(original, info); });
        Time("tuple+hash", n, () => { sink += (long)FlowTuple.From(info).Hash(12345); });
        Time("lookup", n, () => { sink += table.Lookup(tuple, 10, out _); });
        var work = new byte[original.Length];
        Time("copy", n, () => FrameCopy.Copy(original, work));
        s.Sink.Inspect = false;
        long now = 10;
        Time("whole", n, () => { FrameCopy.Copy(original, work); s.Engine.Process(work, 0, ++now); });
        GC.KeepAlive(sink);
    }

    private static void Time(string what, long n, Action body)
    {
        var (min, median) = MinTimer.Measure(body, n);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what,-20} {min,7:F1} ns/op fastest batch, {median,7:F1} median"));
    }
}
