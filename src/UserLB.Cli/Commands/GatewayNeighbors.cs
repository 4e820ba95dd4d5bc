using Microsoft.Extensions.Logging;
using UserLB.Cli.Api;
using UserLB.Cli.Api.Nftlb;
using UserLB.Engine.Config;
using UserLB.IO.Live;
using UserLB.IO.Routes;
using UserLB.Packets;

namespace UserLB.Cli.Commands;

/// <summary>A backend behind a gateway: the engines send it to <see cref="Mac"/> (the gateway's) out of <see cref="Port"/>.</summary>
internal readonly record struct GatewaySeed(IpAddr Backend, IpAddr Gateway, MacAddress Mac, int Port);

/// <summary>
/// Backends that farms placed by route reach through a gateway (<see cref="RoutePlacement"/>): the engines resolve a
/// backend by ARP/NDP on the link, which a gateway does not answer for, so every <see cref="Interval"/> the gateway's MAC
/// is taken from the kernel's neighbour table (<see cref="KernelNeighbors"/>; the kernel is made to resolve a gateway it
/// does not know yet) and given to every engine's neighbour table as the backend's: frames to the backend go to the
/// gateway, as the kernel would send them. The backend's own frames come from the gateway's MAC too, so what the engines
/// learn from them agrees.
/// </summary>
internal sealed partial class GatewayNeighbors : IDisposable
{
    /// <summary>How often the gateways' MACs are read and given to the engines.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly RouteWatcher _routes;
    private readonly ControlPlane _control;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _task;
    private readonly HashSet<GatewaySeed> _said = [];
    private readonly HashSet<IpAddr> _unresolvedSaid = [];
    private readonly Dictionary<IpAddr, (IpAddr Gateway, string Interface)> _seeded = []; // what the engines were given
    private int _disposed;

    public GatewayNeighbors(RouteWatcher routes, ControlPlane control, ILogger log)
    {
        _routes = routes;
        _control = control;
        _log = log;
        _task = Task.Run(RunAsync);
    }

    /// <summary>
    /// The backends of <paramref name="config"/>'s farms whose <c>oface</c> was placed by route (not given in
    /// <paramref name="objects"/>) that <paramref name="table"/> routes through a gateway out of that <c>oface</c>.
    /// </summary>
    public static List<(IpAddr Backend, IpAddr Gateway, string Interface)> Wanted(LoadBalancerConfig config, NftlbState objects, RouteTable table)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(table);
        var wanted = new List<(IpAddr, IpAddr, string)>();
        foreach (var f in config.Farms)
        {
            if (objects.Farm(f.Name) is not { } stored || stored.Get("oface").Length > 0) continue;
            string oface = f.Oface ?? f.Iface ?? "";
            foreach (var b in f.Backends)
            {
                var address = IpAddr.FromIPAddress(b.Address);
                if (table.Lookup(address) is { Gateway: { } gw } route && route.Interface == oface) wanted.Add((address, gw, oface));
            }
        }
        return wanted;
    }

    /// <summary>
    /// What to give the engines for <paramref name="wanted"/>, from the kernel's <paramref name="neighbours"/> (their
    /// interfaces named by <paramref name="nameOf"/>) and the engines' <paramref name="ports"/>; the gateways the kernel
    /// has no MAC for yet go to <paramref name="unresolved"/> (with their interface).
    /// </summary>
    public static List<GatewaySeed> Seeds(IReadOnlyList<(IpAddr Backend, IpAddr Gateway, string Interface)> wanted, IReadOnlyList<KernelNeighbor> neighbours,
        Func<int, string?> nameOf, IReadOnlyList<string> ports, List<(IpAddr Gateway, string Interface)> unresolved)
    {
        ArgumentNullException.ThrowIfNull(wanted);
        ArgumentNullException.ThrowIfNull(neighbours);
        ArgumentNullException.ThrowIfNull(nameOf);
        ArgumentNullException.ThrowIfNull(ports);
        ArgumentNullException.ThrowIfNull(unresolved);
        var seeds = new List<GatewaySeed>();
        foreach (var (backend, gateway, iface) in wanted)
        {
            int port = IndexOf(ports, iface);
            if (port < 0) continue;
            MacAddress? mac = null;
            foreach (var n in neighbours)
                if (n.Address == gateway && nameOf(n.InterfaceIndex) == iface) mac = n.Mac;
            if (mac is { } m) seeds.Add(new GatewaySeed(backend, gateway, m, port));
            else if (!unresolved.Contains((gateway, iface))) unresolved.Add((gateway, iface));
        }
        return seeds;
    }

    private static int IndexOf(IReadOnlyList<string> ports, string name)
    {
        for (int i = 0; i < ports.Count; i++)
            if (ports[i] == name) return i;
        return -1;
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                await SeedAsync().ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
        catch (ObjectDisposedException)
        {
            // stopping: the control plane is gone
        }
    }

    private async Task SeedAsync()
    {
        var wanted = Wanted(_control.Config, _control.Objects, _routes.Current);
        await ForgetStaleAsync(wanted).ConfigureAwait(false);
        if (wanted.Count == 0) return;
        var neighbours = KernelNeighbors.Dump(out string? why);
        if (neighbours is null)
        {
            if (_unresolvedSaid.Add(default)) Log.NoNeighbours(_log, why ?? "unknown");
            return;
        }
        var unresolved = new List<(IpAddr, string)>();
        var seeds = Seeds(wanted, neighbours, KernelNeighbors.InterfaceName, _control.PortNames, unresolved);
        foreach (var (gateway, iface) in unresolved)
        {
            KernelNeighbors.Solicit(gateway, KernelIndexOf(iface));
            if (_unresolvedSaid.Add(gateway)) Log.Resolving(_log, gateway, iface);
        }
        if (seeds.Count == 0) return;
        await _control.Forwarder.InvokeAllAsync((engine, now) =>
        {
            foreach (var s in seeds) engine.Neighbors.Learn(s.Backend, s.Mac, s.Port, now);
            return true;
        }).ConfigureAwait(false);
        foreach (var s in seeds)
        {
            _seeded[s.Backend] = (s.Gateway, _control.PortNames[s.Port]);
            _unresolvedSaid.Remove(s.Gateway);
            if (_said.Add(s)) Log.Seeded(_log, s.Backend, s.Gateway, s.Mac, _control.PortNames[s.Port]);
        }
    }

    /// <summary>The backends of <paramref name="seeded"/> (backend: gateway, interface) that <paramref name="wanted"/> no longer has so.</summary>
    public static List<IpAddr> Stale(IReadOnlyDictionary<IpAddr, (IpAddr Gateway, string Interface)> seeded, List<(IpAddr Backend, IpAddr Gateway, string Interface)> wanted)
    {
        ArgumentNullException.ThrowIfNull(seeded);
        ArgumentNullException.ThrowIfNull(wanted);
        var stale = new List<IpAddr>();
        foreach (var (backend, was) in seeded)
            if (!wanted.Contains((backend, was.Gateway, was.Interface))) stale.Add(backend);
        return stale;
    }

    /// <summary>
    /// Forgets in the engines the backends given a gateway's MAC that are no longer behind that gateway on that interface
    /// (the route now reaches them on the link, through another gateway, or the farm went), so that they are resolved again.
    /// </summary>
    private async Task ForgetStaleAsync(List<(IpAddr Backend, IpAddr Gateway, string Interface)> wanted)
    {
        var stale = Stale(_seeded, wanted);
        if (stale.Count == 0) return;
        foreach (var b in stale) _seeded.Remove(b);
        _said.RemoveWhere(s => stale.Contains(s.Backend));
        await _control.Forwarder.InvokeAllAsync((engine, _) => stale.Count(engine.Neighbors.Forget)).ConfigureAwait(false);
    }

    /// <summary>The interface's index (a link-local IPv6 gateway's scope), 0 when it cannot be read.</summary>
    private static int KernelIndexOf(string iface)
    {
        try
        {
            return Interfaces.IndexOf(iface);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return 0;
        }
    }

    /// <summary>Stops (once; later calls do nothing).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        _task.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "backend {Backend} is reached through gateway {Gateway} ({Mac}) on {Interface}")]
        public static partial void Seeded(ILogger logger, IpAddr backend, IpAddr gateway, MacAddress mac, string @interface);

        [LoggerMessage(Level = LogLevel.Information, Message = "gateway {Gateway} on {Interface}: not in the kernel's neighbour table yet, resolving")]
        public static partial void Resolving(ILogger logger, IpAddr gateway, string @interface);

        [LoggerMessage(Level = LogLevel.Warning, Message = "the kernel's neighbour table cannot be read ({Why}): backends behind a gateway are not reached")]
        public static partial void NoNeighbours(ILogger logger, string why);
    }
}
