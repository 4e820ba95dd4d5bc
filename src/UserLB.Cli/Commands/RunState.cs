using Microsoft.Extensions.Logging;
using UserLB.Engine;
using UserLB.Engine.Conntrack;
using UserLB.IO.Live;
using UserLB.IO.State;

namespace UserLB.Cli.Commands;

/// <summary><c>userlb run --state-file</c>: the connection table saved on a clean stop and loaded at the next start.</summary>
internal static partial class RunState
{
    /// <summary>
    /// Loads PATH into the workers' engines (after the configuration is applied, before the forwarder starts), each saved
    /// connection into the engine of its shard (<see cref="ShardOf"/>). A missing or damaged file is a warning.
    /// </summary>
    public static void Load(string path, LiveForwarder forwarder, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(forwarder);
        int workers = forwarder.WorkerCount;
        var load = Read(path, log);
        if (load is null) return;
        var byShard = new List<SavedConnection>[workers];
        for (int i = 0; i < workers; i++) byShard[i] = [];
        int otherShard = 0;
        foreach (var s in load)
        {
            int shard = ShardOf(s, workers);
            if (shard < 0) otherShard++;
            else byShard[shard].Add(s);
        }
        var results = forwarder.InvokeAllAsync((engine, now) => engine.ImportConnections(byShard[engine.ShardIndex], now)).GetAwaiter().GetResult();
        var r = Sum(results);
        Log.Loaded(log, r.Imported, path, r.Skipped + otherShard, r.UnknownFarmOrBackend, r.Changed, r.Clashing, r.TableFull);
        if (otherShard > 0) Log.OtherShard(log, otherShard, workers);
    }

    /// <summary>
    /// The worker whose engine owns a saved connection among <paramref name="workers"/>: <see cref="FlowShard"/>'s shard of
    /// its client-side port, which the client's packets carry as their source port and the backend's replies as their
    /// destination port. -1 when those differ: a SNAT port picked for another number of workers, whose replies would
    /// reach another worker than the client's packets.
    /// </summary>
    public static int ShardOf(SavedConnection saved, int workers)
    {
        ArgumentNullException.ThrowIfNull(saved);
        if (workers <= 1) return 0;
        if (saved.Original.Protocol is not (Packets.IpProtocols.Tcp or Packets.IpProtocols.Udp or Packets.IpProtocols.Sctp)) return 0;
        int shard = FlowShard.OfPort(saved.Original.SrcPort, workers);
        return FlowShard.OfPort(saved.Reply.DstPort, workers) == shard ? shard : -1;
    }

    /// <summary>The workers' import results summed.</summary>
    public static ImportResult Sum(IEnumerable<ImportResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        int imported = 0, unknown = 0, changed = 0, clashing = 0, full = 0;
        foreach (var r in results)
        {
            imported += r.Imported;
            unknown += r.UnknownFarmOrBackend;
            changed += r.Changed;
            clashing += r.Clashing;
            full += r.TableFull;
        }
        return new ImportResult(imported, unknown, changed, clashing, full);
    }

    /// <summary>The saved connections of PATH, or null (logged) when there are none to load.</summary>
    private static IReadOnlyList<SavedConnection>? Read(string path, ILogger log)
    {
        var load = StateFile.Load(path);
        switch (load.Status)
        {
            case StateLoadStatus.Missing:
                Log.NoState(log, path);
                return null;
            case StateLoadStatus.Invalid:
                Log.Unreadable(log, load.Message ?? path);
                return null;
        }
        if (load.Message is not null) Log.Damaged(log, load.BadLines, load.Message);
        return load.Entries;
    }

    /// <summary>Saves every worker's table to PATH (the forwarder must be stopped). A failure is logged, not thrown.</summary>
    public static bool Save(string path, LiveForwarder forwarder, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(forwarder);
        var parts = forwarder.InvokeAllAsync((engine, now) => engine.ExportConnections(now)).GetAwaiter().GetResult();
        var entries = new List<SavedConnection>();
        foreach (var p in parts) entries.AddRange(p);
        return Save(path, entries, log);
    }

    private static bool Save(string path, List<SavedConnection> entries, ILogger log)
    {
        try
        {
            StateFile.Save(path, entries, DateTimeOffset.UtcNow);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.SaveFailed(log, path, ex.Message);
            return false;
        }
        Log.Saved(log, entries.Count, path);
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "state file {Path} does not exist yet: starting with an empty connection table")]
        public static partial void NoState(ILogger logger, string path);

        [LoggerMessage(Level = LogLevel.Warning, Message = "state file ignored, starting with an empty connection table: {Problem}")]
        public static partial void Unreadable(ILogger logger, string problem);

        [LoggerMessage(Level = LogLevel.Warning, Message = "state file damaged: {BadLines} unreadable line(s) skipped; {Problem}")]
        public static partial void Damaged(ILogger logger, int badLines, string problem);

        [LoggerMessage(Level = LogLevel.Information, Message = "loaded {Imported} connection(s) from {Path}; skipped {Skipped} (farm or backend gone {Unknown}, farm or backend changed {Changed}, clashing {Clashing}, table full {Full})")]
        public static partial void Loaded(ILogger logger, int imported, string path, int skipped, int unknown, int changed, int clashing, int full);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} saved connection(s) skipped: their SNAT port belongs to another of the {Workers} workers than their client's port (saved with another --workers)")]
        public static partial void OtherShard(ILogger logger, int count, int workers);

        [LoggerMessage(Level = LogLevel.Information, Message = "saved {Count} connection(s) to {Path}")]
        public static partial void Saved(ILogger logger, int count, string path);

        [LoggerMessage(Level = LogLevel.Error, Message = "could not save the connection table to {Path}: {Problem}")]
        public static partial void SaveFailed(ILogger logger, string path, string problem);
    }
}
