using Microsoft.Extensions.Logging;
using UserLB.Engine;
using UserLB.IO.State;

namespace UserLB.Cli.Commands;

/// <summary><c>userlb run --state-file</c>: the connection table saved on a clean stop and loaded at the next start.</summary>
internal static partial class RunState
{
    /// <summary>Loads PATH into the engine (after the configuration is applied). A missing or damaged file is a warning.</summary>
    public static void Load(string path, PacketEngine engine, long nowNs, ILogger log)
    {
        var load = StateFile.Load(path);
        switch (load.Status)
        {
            case StateLoadStatus.Missing:
                Log.NoState(log, path);
                return;
            case StateLoadStatus.Invalid:
                Log.Unreadable(log, load.Message ?? path);
                return;
        }
        if (load.Message is not null) Log.Damaged(log, load.BadLines, load.Message);
        var r = engine.ImportConnections(load.Entries, nowNs);
        Log.Loaded(log, r.Imported, path, r.Skipped, r.UnknownFarmOrBackend, r.Changed, r.Clashing, r.TableFull);
    }

    /// <summary>Saves the engine's table to PATH (the worker must be stopped). A failure is logged, not thrown.</summary>
    public static bool Save(string path, PacketEngine engine, long nowNs, ILogger log)
    {
        var entries = engine.ExportConnections(nowNs);
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

        [LoggerMessage(Level = LogLevel.Information, Message = "saved {Count} connection(s) to {Path}")]
        public static partial void Saved(ILogger logger, int count, string path);

        [LoggerMessage(Level = LogLevel.Error, Message = "could not save the connection table to {Path}: {Problem}")]
        public static partial void SaveFailed(ILogger logger, string path, string problem);
    }
}
