using Microsoft.Extensions.Logging;

namespace UserLB.IO.Routes;

/// <summary>
/// This namespace's routing table, followed: read over rtnetlink (an RTM_GETROUTE dump) and read again whenever the
/// kernel announces a route or link change (groups RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE; links too,
/// because the kernel drops an interface's IPv4 routes without a message per route when it goes down). Without
/// netlink, <c>/proc/net/route</c> and <c>/proc/net/ipv6_route</c> are read every <see cref="ProcInterval"/>.
/// <see cref="Changed"/> fires on the watcher's thread with each table that differs from the last.
/// </summary>
public sealed partial class RouteWatcher : IDisposable
{
    /// <summary>How often the /proc files are read again when netlink is not available.</summary>
    public static readonly TimeSpan ProcInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long the watcher waits after a change for the ones that come with it (one re-read for a burst).</summary>
    private const int SettleMs = 50;

    /// <summary>The least time between two reads of the table, so that a churning table (a routing daemon's) is not
    /// dumped back to back: changes during it are read at its end.</summary>
    private const int MinIntervalMs = 500;

    private readonly NetlinkSocket? _events;
    private readonly ILogger _log;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private RouteTable _current;

    private RouteWatcher(NetlinkSocket? events, RouteTable first, ILogger log)
    {
        _events = events;
        _current = first;
        _log = log;
        _thread = new Thread(Loop) { IsBackground = true, Name = "userlb routes" };
    }

    /// <summary>The table as last read.</summary>
    public RouteTable Current => Volatile.Read(ref _current);

    /// <summary>True when the table is followed over netlink, false when read from /proc periodically.</summary>
    public bool UsesNetlink => _events is not null;

    /// <summary>Raised on the watcher's thread with the new table after a change.</summary>
    public event Action<RouteTable>? Changed;

    /// <summary>Reads the table now and starts following it (call <see cref="Start"/> once the handlers are set).</summary>
    public static RouteWatcher Open(ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        // Subscribe before the first dump, so that a change between the two is not missed.
        var events = NetlinkSocket.Open(NetlinkSocket.RTMGRP_LINK | NetlinkSocket.RTMGRP_IPV4_ROUTE | NetlinkSocket.RTMGRP_IPV6_ROUTE, out string? why);
        RouteTable? first = events is null ? null : Dump(out why);
        if (first is null)
        {
            events?.Dispose();
            Log.ProcFallback(logger, why ?? "unknown", ProcInterval.TotalSeconds);
            return new RouteWatcher(null, ProcRoutes.Read(), logger);
        }
        return new RouteWatcher(events, first, logger);
    }

    /// <summary>Starts the watcher's thread.</summary>
    public void Start() => _thread.Start();

    /// <summary>The main table now, over netlink; null (with the reason) when netlink cannot be used.</summary>
    public static RouteTable? Dump(out string? why)
    {
        var routes = new List<RouteEntry>();
        return NetlinkSocket.Dump(RouteMessages.RTM_GETROUTE, (ReadOnlySpan<byte> datagram, out int error) => RouteMessages.Parse(datagram, NetlinkSocket.NameOf, routes, out error), out why)
            ? new RouteTable(routes)
            : null;
    }

    private void Loop()
    {
        var buffer = new byte[1 << 16];
        long lastDump = Environment.TickCount64;
        while (!_stopping)
        {
            if (_events is null)
            {
                Thread.Sleep(ProcInterval);
                if (!_stopping) Publish(ProcRoutes.Read());
                continue;
            }
            int n = _events.Receive(buffer, 250, out int errno);
            if (n == 0) continue;
            if (n < 0 && errno != 105) // ENOBUFS: notifications were lost; read the table again
            {
                Log.WatchFailed(_log, errno);
                return;
            }
            if (n > 0 && !RouteMessages.IsChange(buffer.AsSpan(0, n))) continue;
            Thread.Sleep((int)Math.Max(SettleMs, MinIntervalMs - (Environment.TickCount64 - lastDump)));
            while (_events.Receive(buffer, 0, out _) > 0) { } // the rest of the burst: one re-read covers it
            lastDump = Environment.TickCount64;
            if (Dump(out string? why) is { } table) Publish(table);
            else Log.DumpFailed(_log, why ?? "unknown");
        }
    }

    private void Publish(RouteTable table)
    {
        if (table.SameAs(Current)) return;
        Volatile.Write(ref _current, table);
        Changed?.Invoke(table);
    }

    public void Dispose()
    {
        _stopping = true;
        if (_thread.IsAlive) _thread.Join(TimeSpan.FromSeconds(2));
        _events?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "routes: netlink unavailable ({Why}): /proc/net/route and /proc/net/ipv6_route read every {Seconds} s")]
        public static partial void ProcFallback(ILogger logger, string why, double seconds);

        [LoggerMessage(EventId = 301, Level = LogLevel.Error, Message = "routes: watching for changes failed (errno {Errno}): the table is no longer followed")]
        public static partial void WatchFailed(ILogger logger, int errno);

        [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "routes: the table could not be read again after a change ({Why})")]
        public static partial void DumpFailed(ILogger logger, string why);
    }
}
