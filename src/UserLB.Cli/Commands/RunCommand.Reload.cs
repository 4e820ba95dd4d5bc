using System.Text.Json;
using Microsoft.Extensions.Logging;
using UserLB.Cli.Api;
using UserLB.Cli.Api.Nftlb;
using UserLB.Cli.Service;
using UserLB.Engine.Config;

namespace UserLB.Cli.Commands;

/// <summary>SIGHUP: <c>userlb run</c> reads its configuration file again and makes it the running one, atomically.</summary>
internal static partial class RunCommand
{
    /// <summary>
    /// Reads <paramref name="path"/> as at start and replaces every farm with the file's (<see cref="ControlPlane.ReplaceAsync"/>):
    /// farms dropped from the file are removed, unchanged farms keep their connections. A file that cannot be read,
    /// parsed or run changes nothing; the log says why. Returns whether the file was applied.
    /// </summary>
    internal static async Task<bool> ReloadAsync(ControlPlane control, string path, ILogger log, SdNotify? notify = null)
    {
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(log);
        notify?.Reloading();
        try
        {
            var file = ConfigLoader.LoadFile(path);
            await control.ReplaceAsync(file.Objects()).ConfigureAwait(false);
            ReloadLog.Reloaded(log, path, file.Config.Farms.Length + file.StoredNames.Count, control.Unplaced.Count, control.Generation);
            return true;
        }
        catch (Exception ex) when (ex is UsageException or ConfigException or NftlbException or JsonException or IOException)
        {
            ReloadLog.Rejected(log, path, ex.Message);
            return false;
        }
        finally
        {
            notify?.Ready($"forwarding; configuration generation {control.Generation}");
        }
    }

    private static partial class ReloadLog
    {
        [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "SIGHUP: reloaded {Path}: {Farms} farm(s), {Unplaced} not placed; generation {Generation}")]
        public static partial void Reloaded(ILogger logger, string path, int farms, int unplaced, long generation);

        [LoggerMessage(EventId = 121, Level = LogLevel.Error, Message = "SIGHUP: {Path} not reloaded, nothing changed: {Reason}")]
        public static partial void Rejected(ILogger logger, string path, string reason);
    }
}
