using System.Diagnostics;

namespace UserLB.Benchmarks;

/// <summary>
/// Times a body in batches and keeps the fastest batch: on a shared, busy machine the fastest batch is the one that
/// ran undisturbed, so it approximates the figure of a quiet machine far better than a mean (wall or CPU time) does.
/// The body runs for <see cref="WarmUp"/> first: tiered compilation replaces a method's first code only after a delay,
/// so a short body timed straight away would be timed unoptimized.
/// </summary>
internal static class MinTimer
{
    /// <summary>How long the body runs before it is timed (longer than the tier-up delay and background compilation).</summary>
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(1);

    public static (double MinNs, double MedianNs) Measure(Action body, long totalOps, int batchOps = 2_000)
    {
        long warm = Stopwatch.GetTimestamp();
        do Run(body, 10_000);
        while (Stopwatch.GetElapsedTime(warm) < WarmUp);
        int batches = (int)Math.Max(1, totalOps / batchOps);
        var perOp = new double[batches];
        for (int b = 0; b < batches; b++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Run(body, batchOps);
            perOp[b] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / batchOps;
        }
        Array.Sort(perOp);
        return (perOp[0], perOp[batches / 2]);
    }

    private static void Run(Action body, int ops)
    {
        for (int i = 0; i < ops; i++) body();
    }
}
