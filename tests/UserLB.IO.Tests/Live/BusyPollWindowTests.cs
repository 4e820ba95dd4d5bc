using UserLB.IO.Live;

namespace UserLB.IO.Tests.Live;

/// <summary>The adaptive busy-poll window: grows to cover short gaps between frames, halves on long gaps and idle timeouts.</summary>
public sealed class BusyPollWindowTests
{
    public static TheoryData<string, long, string, long> Cases => new()
    {
        // description, ceiling ns, events ("w:GAP" = woken by a frame GAP ns after the last work, "t" = timeout), window after
        { "starts closed", 100_000, "", 0 },
        { "a 30 us gap opens the window to twice it", 100_000, "w:30000", 60_000 },
        { "a gap near the ceiling opens it to the ceiling", 100_000, "w:80000", 100_000 },
        { "a tiny gap opens it to the 2 us floor", 100_000, "w:100", BusyPollWindow.MinNs },
        { "a gap over the ceiling leaves it closed", 100_000, "w:150000", 0 },
        { "a longer gap than before widens it", 100_000, "w:10000 w:40000", 80_000 },
        { "a gap over the ceiling halves it", 100_000, "w:40000 w:500000", 40_000 },
        { "timeouts halve it, to 0 below 2 us", 100_000, "w:40000 t t t t t t", 0 },
        { "two timeouts from 80 us: 20 us", 100_000, "w:40000 t t", 20_000 },
        { "an unknown (negative) gap counts as long", 100_000, "w:40000 w:-1", 40_000 },
        { "ceiling 0 never opens", 0, "w:0 w:10", 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Window_AfterEvents_Expected(string description, long ceilingNs, string events, long expectedNs)
    {
        var w = new BusyPollWindow(ceilingNs);
        foreach (var e in events.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (e == "t") w.OnTimeout();
            else w.OnWake(long.Parse(e[2..], System.Globalization.CultureInfo.InvariantCulture));
        }
        Assert.True(expectedNs == w.WindowNs, $"{description}: window {w.WindowNs} ns, expected {expectedNs}");
        Assert.InRange(w.WindowNs, 0, ceilingNs);
    }
}
