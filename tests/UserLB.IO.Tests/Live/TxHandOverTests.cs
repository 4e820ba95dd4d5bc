using UserLB.IO.Live;

namespace UserLB.IO.Tests.Live;

/// <summary>
/// The TX ring's hand-over, one thread at a time: a second thread's flush leaves its frames to the thread already
/// handing over, which passes them on before it lets go; nothing marked is ever left pending.
/// </summary>
public sealed class TxHandOverTests
{
    [Fact]
    public void Flush_NothingPending_DoesNotKick()
    {
        int kicks = 0;
        var h = new TxHandOver(() => kicks++);
        h.Flush();
        Assert.Equal(0, kicks);
        Assert.Equal(1, h.Add());
        Assert.Equal(2, h.Add());
        h.Flush();
        Assert.Equal(1, kicks); // one hand-over for the batch
        Assert.False(h.Pending);
    }

    [Fact]
    public async Task Flush_WhileAnotherThreadHandsOver_ReturnsAtOnceAndTheFlusherTakesTheFrames()
    {
        using var inKick = new ManualResetEventSlim(false);
        using var release = new ManualResetEventSlim(false);
        int kicks = 0;
        var h = new TxHandOver(() =>
        {
            if (Interlocked.Increment(ref kicks) == 1)
            {
                inKick.Set();
                release.Wait(TimeSpan.FromSeconds(10)); // the first hand-over takes long (a receiving stack runs in it)
            }
        });
        h.Add();
        var flusher = Task.Run(h.Flush);
        Assert.True(inKick.Wait(TimeSpan.FromSeconds(10)));
        h.Add(); // another thread writes a frame meanwhile and flushes
        var second = Task.Run(h.Flush);
        await second.WaitAsync(TimeSpan.FromSeconds(10)); // (a TimeoutException if it waited for the first)
        Assert.Equal(1, kicks);
        Assert.True(h.Pending);
        release.Set();
        await flusher.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, kicks); // the first flusher handed the second thread's frame over too
        Assert.False(h.Pending);
    }

    [Fact]
    public async Task Flush_ManyThreadsAddingAndFlushing_OneKickAtATimeAndNothingLeftPending()
    {
        int inside = 0, most = 0;
        long kicked = 0;
        var h = new TxHandOver(() =>
        {
            int now = Interlocked.Increment(ref inside);
            int seen;
            while (now > (seen = Volatile.Read(ref most)) && Interlocked.CompareExchange(ref most, now, seen) != seen) { }
            Thread.SpinWait(50);
            Interlocked.Increment(ref kicked);
            Interlocked.Decrement(ref inside);
        });
        const int Threads = 4, PerThread = 20_000;
        var tasks = new Task[Threads];
        for (int t = 0; t < Threads; t++)
        {
            tasks[t] = Task.Factory.StartNew(() =>
            {
                for (int i = 0; i < PerThread; i++)
                {
                    h.Add();
                    if (i % 3 == 0) h.Flush();
                }
                h.Flush();
            }, TaskCreationOptions.LongRunning);
        }

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(h.Pending); // every thread's last flush either handed over or left it to one that did
        Assert.Equal(1, most);
        Assert.InRange(kicked, 1, Threads * PerThread);
    }
}
