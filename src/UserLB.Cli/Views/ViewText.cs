using System.Globalization;
using System.Text;

namespace UserLB.Cli.Views;

/// <summary>The human-readable views: <c>userlb status</c> (one screen) and <c>userlb stats</c> (every counter).</summary>
internal static class ViewText
{
    private static readonly string[] BackendHeader = ["  backend", "address", "state", "health", "weight", "share", "got", "active", "conns"];
    private static readonly string[] StatsHeader = ["farm/backend", "state", "health", "active", "conns", "packets", "bytes", "drops", "drop reasons"];

    /// <summary>The one-screen summary: traffic rates, table fill, queue, and per farm its backends with state and share.</summary>
    public static string Status(StatsSnapshot s, Rates? rates)
    {
        ArgumentNullException.ThrowIfNull(s);
        var sb = new StringBuilder();
        var e = s.Engine;
        sb.Append(Inv($"userlb: up {Duration(s.UptimeSeconds)}, config generation {s.Generation}, {s.Farms.Count} farm(s)"));
        sb.Append(rates is null ? "; rates: not yet (ask again in a second)\n" : Inv($"; rates over the last {rates.Seconds:0.0} s\n"));
        if (rates is not null)
            sb.Append(Inv($"traffic  rx {rates.RxPps:N0} pps ({Bits(rates.RxBitsPerSecond)})  tx {rates.TxPps:N0} pps ({Bits(rates.TxBitsPerSecond)})  new {rates.ConnectionsPerSecond:N1} conn/s  drops {rates.DropsPerSecond:N0}/s\n"));
        sb.Append(Inv($"totals   rx {e.RxFrames:N0}  forwarded {e.Forwarded:N0}  answered {e.Answered:N0}  dropped {e.Dropped:N0}  connections {e.Connections:N0}\n"));
        sb.Append(Inv($"table    {s.Table.Entries:N0} / {s.Table.Max:N0} entries ({s.Table.Fill * 100:0.0}%)  early drops {s.Table.EarlyDrops:N0}\n"));
        sb.Append(s.Queue switch
        {
            { Receive: { } one } => Inv($"workers  {s.Queue.Workers}, inline dispatch on one receive thread for every interface{BusyPoll(one)}{Auto(one)}\n"),
            { Dispatch: "inline" } => Inv($"workers  {s.Queue.Workers}, inline dispatch (the receive threads run the engine: no queue)\n"),
            _ => Inv($"workers  {s.Queue.Workers}, queue {s.Queue.Depth:N0} / {s.Queue.Capacity:N0}  drops {s.Queue.Drops:N0}\n"),
        });
        if (s.Queue.RxDelay is { Samples: > 0 } delay)
            sb.Append(Inv($"rx delay p50 ≤ {delay.P50Us:0} µs  p99 ≤ {delay.P99Us:0} µs (kernel → userlb, sampled)\n"));
        if (s.Drops.Count > 0) sb.Append("drops    ").Append(Reasons(s.Drops)).Append('\n');
        foreach (var f in s.Farms)
        {
            string ports = f.VirtualPorts.Length == 0 ? "*" : f.VirtualPorts;
            sb.Append(Inv($"\nfarm {f.Name}  {f.VirtualAddr} {f.Protocol}:{ports}  {f.Mode} {f.Scheduler}  {f.State}  level {f.Level}  active {f.Active:N0}  conns {f.Connections:N0}"));
            if (rates is not null && rates.FarmConnectionsPerSecond.TryGetValue(f.Name, out double r)) sb.Append(Inv($"  new {r:N1}/s"));
            sb.Append(Inv($"  drops {f.Drops:N0}\n"));
            var rows = new List<string[]> { BackendHeader };
            foreach (var b in f.Backends)
            {
                rows.Add([
                    "  " + b.Name, b.Port != 0 ? Inv($"{b.Address}:{b.Port}") : b.Address, b.State, b.Health, Inv($"{b.Weight}"),
                    b.Candidate ? Inv($"{b.Share * 100:0.0}%") : "-",
                    f.Connections > 0 ? Inv($"{100.0 * b.Connections / f.Connections:0.0}%") : "-",
                    Inv($"{b.Active:N0}"), Inv($"{b.Connections:N0}"),
                ]);
            }
            Table(sb, rows);
        }
        return sb.ToString();
    }

    /// <summary>Every counter: engine totals, drops by reason, table, queue, events, and a table of farms and backends.</summary>
    public static string Stats(StatsSnapshot s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var sb = new StringBuilder();
        var e = s.Engine;
        sb.Append(Inv($"engine   rx {e.RxFrames} frames {e.RxBytes} bytes  tx {e.TxFrames} frames {e.TxBytes} bytes\n"));
        sb.Append(Inv($"         forwarded {e.Forwarded}  answered {e.Answered}  dropped {e.Dropped}  waiting for a neighbour {e.PendingNeighbor}\n"));
        sb.Append(Inv($"         connections {e.Connections}  nat port remaps {e.NatPortRemaps}  nat port evictions {e.NatPortEvictions}  icmp errors relayed {e.IcmpErrorsRelayed}\n"));
        sb.Append("drops    ").Append(s.Drops.Count == 0 ? "none" : Reasons(s.Drops)).Append('\n');
        sb.Append(Inv($"table    {s.Table.Entries} / {s.Table.Max} entries  early drops {s.Table.EarlyDrops}\n"));
        if (e.NewFlowBudgetRetries > 0 || s.Drops.Any(d => d.Reason == "new_flow_budget"))
            sb.Append(Inv($"budget   new flows over the budget admitted as retries {e.NewFlowBudgetRetries}\n"));
        if (e.SynProxy.SynsAnswered > 0)
            sb.Append(Inv($"synproxy SYNs answered with a cookie {e.SynProxy.SynsAnswered}  valid cookies {e.SynProxy.CookiesValid}  SYNs sent again {e.SynProxy.Retransmits}  handshakes completed {e.SynProxy.Handshakes}\n"));
        sb.Append(Inv($"workers  {s.Queue.Workers}  dispatch {s.Queue.Dispatch}  queue depth {s.Queue.Depth} / {s.Queue.Capacity}  drops {s.Queue.Drops}  oversize {s.Queue.Oversize}\n"));
        foreach (var p in s.Queue.Ports)
            sb.Append(Inv($"port     {p.Port}  kernel drops {p.KernelDrops}  handshake ring drops {p.HandshakeDrops}  tx drops {p.TxDrops}  rx truncated {p.RxTruncated}\n"));
        if (s.Queue.Receive is { } r)
            sb.Append(Inv($"receive  one thread for every interface{Auto(r)}  busy-poll ≤ {r.BusyPollUs} µs (now {r.WindowUs} µs)  slept {r.Sleeps} times in poll(){Polled(r)}\n"));
        if (s.Queue.RxDelay is { } d)
            sb.Append(Inv($"rx delay kernel → userlb, {d.Samples} sampled frames: p50 ≤ {d.P50Us:0} µs  p99 ≤ {d.P99Us:0} µs  max ≤ {d.MaxBucketUs:0} µs\n"));
        sb.Append(Inv($"events   {s.Events.Subscribers} subscriber(s)  delivered {s.Events.Delivered}  dropped {s.Events.Dropped}\n"));
        foreach (var p in s.Policies ?? [])
            sb.Append(Inv($"policy   {p.Name}  {p.Type}  {p.Elements} element(s)  matched {p.Packets} packets {p.Bytes} bytes\n"));
        var rows = new List<string[]> { StatsHeader };
        foreach (var f in s.Farms)
        {
            rows.Add([f.Name, f.State, "-", Inv($"{f.Active}"), Inv($"{f.Connections}"), Inv($"{f.Packets}"), Inv($"{f.Bytes}"), Inv($"{f.Drops}"), Reasons(f.DropReasons)]);
            foreach (var b in f.Backends)
                rows.Add(["  " + b.Name, b.State, b.Health, Inv($"{b.Active}"), Inv($"{b.Connections}"), Inv($"{b.Packets}"), Inv($"{b.Bytes}"), Inv($"{b.Drops}"), Reasons(b.DropReasons)]);
        }
        sb.Append('\n');
        Table(sb, rows);
        return sb.ToString();
    }

    private static string Reasons(IReadOnlyList<DropCount> drops)
    {
        var sb = new StringBuilder();
        foreach (var d in drops) sb.Append(sb.Length > 0 ? " " : "").Append(Inv($"{d.Reason}={d.Count}"));
        return sb.ToString();
    }

    private static void Table(StringBuilder sb, List<string[]> rows)
    {
        int cols = rows[0].Length;
        var width = new int[cols];
        foreach (var r in rows)
            for (int i = 0; i < cols; i++) width[i] = Math.Max(width[i], r[i].Length);
        foreach (var r in rows)
        {
            var line = new StringBuilder();
            for (int i = 0; i < cols; i++)
            {
                line.Append(r[i]);
                if (i < cols - 1) line.Append(' ', width[i] - r[i].Length + 2);
            }
            sb.Append(line.ToString().TrimEnd()).Append('\n');
        }
    }

    internal static string Duration(double seconds)
    {
        long s = (long)seconds;
        if (s < 60) return Inv($"{s}s");
        if (s < 3600) return Inv($"{s / 60}m{s % 60:00}s");
        if (s < 86400) return Inv($"{s / 3600}h{s / 60 % 60:00}m");
        return Inv($"{s / 86400}d{s / 3600 % 24:00}h");
    }

    internal static string Bits(double bps) => bps switch
    {
        >= 1e9 => Inv($"{bps / 1e9:0.00} Gbit/s"),
        >= 1e6 => Inv($"{bps / 1e6:0.00} Mbit/s"),
        >= 1e3 => Inv($"{bps / 1e3:0.0} kbit/s"),
        _ => Inv($"{bps:0} bit/s"),
    };

    private static string Auto(ReceiveStats r) => r.Threads != "auto" ? ""
        : Inv($", a thread per interface while it is saturated ({(r.Engaged ? "engaged now" : "not now")}; engaged {r.Engagements} times)");

    private static string Polled(ReceiveStats r) => r.BusyPollUs > 0 ? Inv($"  polled {r.PolledSeconds:0.000} s, held back {r.HeldBack} times (CPUs busy)") : "";

    private static string BusyPoll(ReceiveStats r) => r.BusyPollUs > 0 ? Inv($" (busy-poll ≤ {r.BusyPollUs} µs, now {r.WindowUs} µs)") : "";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
