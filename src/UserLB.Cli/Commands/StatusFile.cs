using System.Globalization;
using System.Text;
using UserLB.Engine;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Cli.Commands;

/// <summary>A plain-text snapshot of a running engine: counters, per-backend figures and the table in conntrack -L format.</summary>
internal static class StatusFile
{
    public static void Write(string path, PacketEngine engine, long nowNs, long queueDrops)
    {
        var c = engine.Counters;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"# rx={c.RxFrames} forwarded={c.Forwarded} answered={c.Consumed} dropped={c.Dropped} connections={c.NewFlows} active={engine.Table.Count} queue_drops={queueDrops}\n");
        sb.Append(CultureInfo.InvariantCulture, $"# table max={engine.Table.Max} early_drops={engine.Table.EarlyDrops} neighbours={engine.Neighbors.Count} neighbour_evictions={engine.Neighbors.Evictions}\n");
        for (int i = 1; i < c.Drops.Length; i++)
            if (c.Drops[i] > 0) sb.Append(CultureInfo.InvariantCulture, $"# drop {((DropReason)i).Name()}={c.Drops[i]}\n");
        var snap = engine.Snapshot;
        foreach (var f in snap.Farms)
            foreach (var b in f.Backends)
            {
                var bc = (uint)b.Id < (uint)c.Backends.Length ? c.Backends[b.Id] : default;
                sb.Append(CultureInfo.InvariantCulture, $"# backend {f.Name}/{b.Name} {b.Address} connections={bc.Connections} packets={bc.Packets} bytes={bc.Bytes}\n");
            }
        var table = engine.Table;
        for (int i = 0; i < table.HighWater; i++)
        {
            ref var e = ref table[i];
            if (e.InUse && e.ExpiresNs > nowNs) sb.Append(ConntrackFormatter.Line(e, nowNs)).Append('\n');
        }
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, sb.ToString());
        File.Move(tmp, path, overwrite: true);
    }
}
