using System.Globalization;
using System.Text;
using UserLB.Engine;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Cli.Commands;

/// <summary>
/// A plain-text snapshot of a running load balancer: counters, per-backend figures and the table in conntrack -L format.
/// With several workers, each worker copies its engine's part on its own thread (<see cref="OnPeriodic"/>, the
/// forwarder's once-a-second callback) and worker 0 writes the file from the latest part of every worker (the others'
/// at most about a second old): counters and table figures summed, the tables one after the other.
/// </summary>
internal sealed class StatusFile(string path, int workers, Func<long> queueDrops)
{
    /// <summary>Table lines each worker writes at most: the capture runs on the worker's thread, between frames, and
    /// formatting a flood's table of half-open entries every second stalled forwarding (perf/RESULTS.md).</summary>
    public const int MaxLines = 10_000;

    private readonly Part?[] _parts = new Part?[workers];

    /// <summary>One engine's figures and table lines, copied on its worker's thread.</summary>
    internal sealed record Part(EngineCounters Counters, EngineSnapshot Snapshot, int Active, int Max, long EarlyDrops,
        int Neighbours, long NeighbourEvictions, string Lines);

    /// <summary>The forwarder's <c>Periodic</c>: on each worker's thread about once a second.</summary>
    public void OnPeriodic(PacketEngine engine, long nowNs)
    {
        ArgumentNullException.ThrowIfNull(engine);
        Volatile.Write(ref _parts[engine.ShardIndex], Capture(engine, nowNs));
        if (engine.ShardIndex != 0) return;
        var parts = new Part[_parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (Volatile.Read(ref _parts[i]) is not { } p) return; // a worker has not reported yet
            parts[i] = p;
        }
        Write(path, parts, queueDrops());
    }

    public static Part Capture(PacketEngine engine, long nowNs)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var sb = new StringBuilder();
        var table = engine.Table;
        int lines = 0;
        for (int i = 0; i < table.HighWater && lines < MaxLines; i++)
        {
            ref var e = ref table[i];
            if (e.InUse && e.ExpiresNs > nowNs)
            {
                sb.Append(ConntrackFormatter.Line(e, nowNs)).Append('\n');
                lines++;
            }
        }
        if (lines == MaxLines && table.Count > MaxLines)
            sb.Append(CultureInfo.InvariantCulture, $"# … and {table.Count - MaxLines} more entries (userlb conntrack -L lists them all)\n");
        return new Part(engine.Counters.Clone(), engine.Snapshot, table.Count, table.Max, table.EarlyDrops,
            engine.Neighbors.Count, engine.Neighbors.Evictions, sb.ToString());
    }

    /// <summary>Writes the parts of every worker (worker 0's first; its configuration names the backends) to PATH.</summary>
    public static void Write(string path, IReadOnlyList<Part> parts, long queueDrops)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var c = new EngineCounters();
        int active = 0, max = 0, neighbours = 0;
        long earlyDrops = 0, evictions = 0;
        foreach (var p in parts)
        {
            c.Add(p.Counters);
            active += p.Active;
            max += p.Max;
            earlyDrops += p.EarlyDrops;
            neighbours = Math.Max(neighbours, p.Neighbours); // each worker learns the same neighbours (ARP/NDP reach all)
            evictions += p.NeighbourEvictions;
        }
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"# rx={c.RxFrames} forwarded={c.Forwarded} answered={c.Consumed} dropped={c.Dropped} connections={c.NewFlows} active={active} queue_drops={queueDrops}\n");
        sb.Append(CultureInfo.InvariantCulture, $"# table max={max} early_drops={earlyDrops} nat_port_evictions={c.NatPortEvictions} neighbours={neighbours} neighbour_evictions={evictions}\n");
        if (c.SynProxySyns > 0)
            sb.Append(CultureInfo.InvariantCulture, $"# synproxy syns={c.SynProxySyns} cookies_valid={c.SynProxyCookiesValid} retransmits={c.SynProxyRetransmits} handshakes={c.SynProxyHandshakes}\n");
        if (c.RxPartialChecksum + c.RxGsoFrames > 0) // frames that came with offloads (virtio-net headers)
            sb.Append(CultureInfo.InvariantCulture, $"# offloads rx_partial_checksum={c.RxPartialChecksum} rx_gso_frames={c.RxGsoFrames} rx_gso_segments={c.RxGsoSegments}\n");
        if (parts.Count > 1) // how the flows spread over the workers
        {
            for (int w = 0; w < parts.Count; w++)
                sb.Append(CultureInfo.InvariantCulture, $"# worker {w} rx={parts[w].Counters.RxFrames} forwarded={parts[w].Counters.Forwarded} connections={parts[w].Counters.NewFlows} active={parts[w].Active}\n");
        }

        for (int i = 1; i < c.Drops.Length; i++)
            if (c.Drops[i] > 0) sb.Append(CultureInfo.InvariantCulture, $"# drop {((DropReason)i).Name()}={c.Drops[i]}\n");
        var snap = parts[0].Snapshot;
        foreach (var f in snap.Farms)
        {
            foreach (var b in f.Backends)
            {
                var bc = (uint)b.Id < (uint)c.Backends.Length ? c.Backends[b.Id] : default;
                sb.Append(CultureInfo.InvariantCulture, $"# backend {f.Name}/{b.Name} {b.Address} connections={bc.Connections} packets={bc.Packets} bytes={bc.Bytes}\n");
            }
        }

        foreach (var p in parts) sb.Append(p.Lines);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, sb.ToString());
        File.Move(tmp, path, overwrite: true);
    }
}
