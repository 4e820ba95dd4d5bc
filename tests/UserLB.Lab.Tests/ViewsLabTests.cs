using System.Globalization;
using System.Text;

namespace UserLB.Lab.Tests;

/// <summary>
/// The views on a live instance (namespaces vw*, pcap engine, NAT mode, one backend so that every pick is known):
/// `userlb conntrack -E` follows while a held TCP connection opens and exchanges a line; `-L` with filters shows it
/// ESTABLISHED and ASSURED; `-D` deletes it, printing it (DESTROY, with its state); the next line is picked up mid-stream as a new entry (NEW) and
/// still answered; GET /status shows the farm. The CLI runs in the LB namespace against the API on its loopback (counts and
/// polls go over plain HTTP from python: the CLI takes seconds to start on a busy machine).
/// </summary>
[Collection("lab")]
public class ViewsLabTests
{
    private const string Prefix = "vw";

    [SkippableFact]
    public void Views_HeldConnection_ListDeleteEventsStatus()
    {
        LiveLab.SkipUnlessRoot();
        using var lab = new LabSession(Prefix);
        lab.Start("b0", "python3 lab/stream.py server bck0 90");
        lab.Exec("b0", "bash -c 'for i in $(seq 50); do ss -ltn | grep -q \":90 \" && exit 0; sleep 0.1; done; exit 1'");
        string farms = $$"""
            {"farms":[{"name":"kept","virtual-addr":"{{LiveLab.Vip}}","virtual-ports":"90","protocol":"tcp","mode":"snat","scheduler":"weight",{{LiveLab.IfacesOf("pcap")}},
              "backends":[{"name":"bck0","ip-addr":"192.168.1.10"}]}]}
            """;
        var userlb = lab.StartUserlb(farms, "--api 127.0.0.1:5555 --key vw-key");
        string dll = Path.Combine(AppContext.BaseDirectory, "userlb.dll");
        string Cli(string args) => lab.Exec("lb", $"env USERLB_KEY=vw-key dotnet {dll} {args} 2>&1");
        // Polls and counts over plain HTTP (python starts in milliseconds, the CLI in seconds on a busy machine).
        string Http(string path) => lab.Exec("lb", $"python3 -c \"import urllib.request as u; print(u.urlopen(u.Request('http://127.0.0.1:5555{path}', headers={{'Key': 'vw-key'}})).read().decode())\"");

        var events = new StringBuilder();
        lab.Start("lb", $"env USERLB_KEY=vw-key dotnet {dll} conntrack -E -p tcp --dport 90", events);
        WaitFor(() => Http("/metrics").Contains("userlb_conntrack_event_subscribers 1", StringComparison.Ordinal), "the event stream to be subscribed");

        var client = Connect(lab);
        string port = client.LocalPort.ToString(CultureInfo.InvariantCulture);
        var (reply, error) = client.Send("one");
        Assert.True(reply is not null, $"first line: {error}\n{userlb.Log}");

        string list = Cli($"conntrack -L -p tcp --state ESTABLISHED --sport {port}");
        var lines = list.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches($@"^tcp      6 43\d+ ESTABLISHED src=192\.168\.101\.1 dst={LiveLab.Vip.Replace(".", "\\.")} sport={port} dport=90 packets=\d+ bytes=\d+ src=192\.168\.1\.10 dst={LiveLab.Vip.Replace(".", "\\.")} sport=90 dport={port} packets=\d+ bytes=\d+ \[ASSURED\] mark=512 use=1$", lines[0]);
        Assert.Equal("userlb conntrack: 1 flow entries have been shown.", lines[1]);
        Assert.Equal("1", Http($"/conntrack/count?farm=kept&backend=bck0&sport={port}").Trim());

        // As conntrack -D: the entry it deletes, as it was, then the count.
        var deleted = Cli($"conntrack -D --sport {port}").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, deleted.Length);
        Assert.StartsWith("tcp      6 43", deleted[0], StringComparison.Ordinal);
        Assert.Contains($" ESTABLISHED src=192.168.101.1 dst={LiveLab.Vip} sport={port} dport=90 ", deleted[0], StringComparison.Ordinal);
        Assert.Equal("userlb conntrack: 1 flow entries have been deleted.", deleted[1]);
        Assert.Equal("0", Http($"/conntrack/count?sport={port}").Trim());
        (reply, error) = client.Send("two");
        Assert.True(reply is not null, $"line after the delete: {error}\n{userlb.Log}");
        Assert.Equal("1", Http($"/conntrack/count?sport={port}").Trim());

        WaitFor(() => Count(events, "[NEW]") >= 2, "the second NEW event");
        string ev = Snapshot(events);
        string[] kinds = [.. ev.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim().Split(' ')[0] + " " + State(l))];
        Assert.True(kinds.Length >= 5, ev);
        Assert.Equal(["[NEW] SYN_SENT", "[UPDATE] SYN_RECV", "[UPDATE] ESTABLISHED", "[DESTROY] ESTABLISHED", "[NEW] ESTABLISHED"], kinds[..5]);
        Assert.All(ev.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains($"sport={port} dport=90", l, StringComparison.Ordinal));

        string status = Http("/status");
        Assert.Contains("farm kept  " + LiveLab.Vip + " tcp:90  snat weight  up  level 1", status, StringComparison.Ordinal);
        Assert.Contains("table    1 / 262,144 entries", status, StringComparison.Ordinal);
        client.Close();
    }

    /// <summary>The held connection; a second try when the first gets no answer in time (python starting slowly on a loaded machine).</summary>
    private static LabSession.StreamClient Connect(LabSession lab)
    {
        try
        {
            return new LabSession.StreamClient(lab, LiveLab.Vip, 90);
        }
        catch (TimeoutException)
        {
            return new LabSession.StreamClient(lab, LiveLab.Vip, 90);
        }
    }

    /// <summary>The TCP state of an event line: "[EVENT] tcp 6 TIMEOUT STATE src=…", DESTROY without the timeout; "-" when none.</summary>
    private static string State(string line)
    {
        var parts = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 3; i < parts.Length && !parts[i].StartsWith("src=", StringComparison.Ordinal); i++)
            if (!char.IsDigit(parts[i][0])) return parts[i];
        return "-";
    }

    private static string Snapshot(StringBuilder sb)
    {
        lock (sb) return sb.ToString();
    }

    private static int Count(StringBuilder sb, string what) =>
        Snapshot(sb).Split('\n').Count(l => l.Contains(what, StringComparison.Ordinal));

    private static void WaitFor(Func<bool> condition, string what)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20)) throw new TimeoutException("waiting for " + what);
            Thread.Sleep(100);
        }
    }
}
