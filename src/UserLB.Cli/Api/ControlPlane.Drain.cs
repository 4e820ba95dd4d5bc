using Microsoft.Extensions.Logging;

namespace UserLB.Cli.Api;

/// <summary>
/// Draining: the instance reports itself not ready (GET <c>/ready</c> answers 503) so the routing speaker beside it
/// withdraws the VIP, while the engine keeps forwarding every frame that still arrives, so tracked flows finish. Nothing
/// in the data path changes; undoing the drain makes the instance ready again.
/// </summary>
internal sealed partial class ControlPlane
{
    private long _drainingSinceUnixMs; // 0: serving

    /// <summary>Whether a drain was asked for (and not undone).</summary>
    public bool Draining => Interlocked.Read(ref _drainingSinceUnixMs) != 0;

    /// <summary>When the drain began; null when serving.</summary>
    public DateTimeOffset? DrainingSince
    {
        get
        {
            long ms = Interlocked.Read(ref _drainingSinceUnixMs);
            return ms == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }
    }

    /// <summary>Starts draining at <paramref name="now"/>; false when it already drains (the first start is kept).</summary>
    public bool StartDrain(DateTimeOffset now)
    {
        long ms = Math.Max(1, now.ToUnixTimeMilliseconds());
        if (Interlocked.CompareExchange(ref _drainingSinceUnixMs, ms, 0) != 0) return false;
        Log.DrainStarted(_log);
        return true;
    }

    /// <summary>Stops draining; false when it was not draining.</summary>
    public bool StopDrain()
    {
        if (Interlocked.Exchange(ref _drainingSinceUnixMs, 0) == 0) return false;
        Log.DrainStopped(_log);
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 207, Level = LogLevel.Warning, Message = "draining: GET /ready answers 503 so the VIP's announcement is withdrawn; frames that still arrive are forwarded")]
        public static partial void DrainStarted(ILogger logger);

        [LoggerMessage(EventId = 208, Level = LogLevel.Warning, Message = "drain undone: GET /ready answers 200 again")]
        public static partial void DrainStopped(ILogger logger);
    }
}
