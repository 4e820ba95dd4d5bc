using System.Diagnostics;

namespace UserLB.Benchmarks;

/// <summary>
/// Times a body in batches and keeps the fastest batch: on a shared, busy machine the fastest batch is the one that
/// ran undisturbed, so it approximates the figure of a quiet machine far better than a mean (wall or CPU time) does.
/// </summary>
internal static class MinTimer
{
    public static (double MinNs, double MedianNs) Measure(Action body, long totalOps, int batchOps = 2_000)
    {
        for (int i = 0; i < 100_000; i++) body();
        int batches = (int)Math.Max(1, totalOps / batchOps);
        var perOp = new double[batches];
        for (int b = 0; b < batches; b++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < batchOps; i++) body();
            perOp[b] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / batchOps;
        }
        Array.Sort(perOp);
        return (perOp[0], perOp[batches / 2]);
    }
}
