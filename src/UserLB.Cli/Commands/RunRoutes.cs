using Microsoft.Extensions.Logging;
using UserLB.Cli.Api;
using UserLB.Cli.Api.Nftlb;
using UserLB.Engine.Config;
using UserLB.IO.Live;
using UserLB.IO.Routes;
using UserLB.Packets;

namespace UserLB.Cli.Commands;

/// <summary>
/// <c>userlb run</c>'s farms without <c>iface</c> or <c>oface</c>: the interfaces to open at start for them (those the
/// routes to their backends and virtual addresses leave through; ports cannot be added while running), and the route
/// watcher's changes handed to <see cref="ControlPlane.RoutesChangedAsync"/>.
/// </summary>
internal static partial class RunRoutes
{
    /// <summary>The word of <c>--iface</c> that stands for every interface with a route.</summary>
    public const string Routed = "routed";

    /// <summary>
    /// <c>--iface</c>'s interfaces, in order and once each, with <see cref="Routed"/> replaced by every interface the main
    /// table has a route out of (those with an Ethernet address: the engines need one); and the first named one, where
    /// farms without <c>iface</c> run.
    /// </summary>
    /// <exception cref="UsageException"><see cref="Routed"/> with the tap engine (which creates the devices it names).</exception>
    public static (List<string> Names, string? Default) Owned(string? ifaceOption, RouteTable routes, string engineKind)
    {
        ArgumentNullException.ThrowIfNull(routes);
        var names = new List<string>();
        string? first = null;
        foreach (var n in (ifaceOption ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (n != Routed)
            {
                first ??= n;
                if (!names.Contains(n)) names.Add(n);
                continue;
            }
            if (engineKind == "tap") throw new UsageException($"option --iface: \"{Routed}\" owns the interfaces routes leave through; the tap engine owns TAP devices (name them)");
            foreach (var r in routes.Interfaces())
                if (!names.Contains(r) && HasEthernetAddress(r)) names.Add(r);
        }
        return (names, first);
    }

    /// <summary>
    /// The interfaces <c>userlb run</c> opens, in order and once each: <see cref="Owned"/>'s, those the farms name (a farm
    /// without iface only by route), and, but for the tap engine (a TAP device sits behind the kernel's routing: farms name
    /// it), those the routes place farms without iface or oface on; and where farms without iface run.
    /// </summary>
    /// <exception cref="UsageException">As <see cref="Owned"/>.</exception>
    public static (List<string> Names, string? Default) Opened(string? ifaceOption, LoadBalancerConfig config, RouteTable routes, string engineKind)
    {
        ArgumentNullException.ThrowIfNull(config);
        var (names, defaultIface) = Owned(ifaceOption, routes, engineKind);
        foreach (var f in config.Farms)
        {
            if (string.IsNullOrEmpty(f.Iface)) continue; // stored and reported by name, not placed (as the API stores such farms)
            foreach (var n in new[] { f.Iface, f.Oface ?? f.Iface })
                if (!names.Contains(n)) names.Add(n);
        }
        foreach (var n in engineKind != "tap" ? InterfacesFor(config, routes, defaultIface) : [])
            if (!names.Contains(n)) names.Add(n);
        return (names, defaultIface);
    }

    private static bool HasEthernetAddress(string name)
    {
        try
        {
            Interfaces.MacOf(name);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // a tunnel or other device without one
        }
    }

    /// <summary>The interfaces <paramref name="config"/>'s farms without <c>iface</c> or <c>oface</c> are placed on by <paramref name="routes"/>.</summary>
    public static IReadOnlyList<string> InterfacesFor(LoadBalancerConfig config, RouteTable routes, string? defaultIface)
    {
        ArgumentNullException.ThrowIfNull(config);
        var names = new List<string>();
        foreach (var f in config.Farms)
        {
            if (!string.IsNullOrEmpty(f.Iface) && !string.IsNullOrEmpty(f.Oface)) continue;
            var backends = new List<(string, IpAddr)>(f.Backends.Length);
            foreach (var b in f.Backends) backends.Add((b.Name, IpAddr.FromIPAddress(b.Address)));
            var placed = RoutePlacement.Place(f.Iface, f.Oface, IpAddr.FromIPAddress(f.VirtualAddress), backends, routes, ports: null, defaultIface);
            foreach (var n in (string?[])[placed.Iface, placed.Oface])
                if (n is not null && !names.Contains(n)) names.Add(n);
        }
        return names;
    }

    /// <summary>Logs where the farms without <c>iface</c> or <c>oface</c> run, then follows <paramref name="routes"/>' changes;
    /// returns what gives the engines the gateways' MACs for backends behind one (<see cref="GatewayNeighbors"/>).</summary>
    public static GatewayNeighbors Follow(RouteWatcher routes, ControlPlane control, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(routes);
        ArgumentNullException.ThrowIfNull(control);
        Log.Table(log, routes.Current.Routes.Count, routes.UsesNetlink ? "over netlink, followed" : "from /proc, read every second");
        foreach (var f in control.Objects.Farms)
        {
            if (f.Get("iface").Length > 0 && f.Get("oface").Length > 0) continue;
            if (control.Config.FindFarm(f.Name) is { } placed) Log.Placed(log, f.Name, placed.Iface ?? "", placed.Oface ?? placed.Iface ?? "");
        }
        routes.Changed += _ => Replace(control, log);
        routes.Start();
        return new GatewayNeighbors(routes, control, log);
    }

    /// <summary>Places the farms again, on the watcher's thread (one change at a time; the next waits).</summary>
    private static void Replace(ControlPlane control, ILogger log)
    {
        try
        {
            control.RoutesChangedAsync().GetAwaiter().GetResult();
        }
        catch (ConfigException ex)
        {
            Log.ReplaceFailed(log, ex.Message);
        }
        catch (ObjectDisposedException)
        {
            // stopping: the control plane is gone
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "routes: {Count} route(s) read {How}")]
        public static partial void Table(ILogger logger, int count, string how);

        [LoggerMessage(Level = LogLevel.Information, Message = "farm {Farm} placed by route: iface {Iface}, oface {Oface}")]
        public static partial void Placed(ILogger logger, string farm, string iface, string oface);

        [LoggerMessage(Level = LogLevel.Error, Message = "routes changed, but the farms could not be placed again (they run as before): {Problem}")]
        public static partial void ReplaceFailed(ILogger logger, string problem);
    }
}
