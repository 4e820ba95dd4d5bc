using UserLB.IO.Routes;
using UserLB.Packets;

namespace UserLB.Cli.Api.Nftlb;

/// <summary>Where a farm runs: its client-side and backend-side interfaces; or why it cannot run.</summary>
/// <param name="Iface">The client-side interface (null when not placed).</param>
/// <param name="Oface">The backend-side interface (null when not placed).</param>
/// <param name="Reason">Why the farm is not placed; null when it is.</param>
internal readonly record struct FarmPorts(string? Iface, string? Oface, string? Reason)
{
    public static FarmPorts Unplaced(string reason) => new(null, null, reason);
}

/// <summary>
/// Places a farm on interfaces when its <c>iface</c> or <c>oface</c> is not given, from the namespace's routing table
/// (<see cref="RouteTable"/>), as the kernel would send its packets:
/// <list type="bullet">
/// <item><c>oface</c>: the interface of the route to its backends. Every backend must be routed out of the same
/// interface, on the link or through a gateway (<c>userlb run</c> gives the engines the gateway's MAC for it).
/// Without a route table or backends, <c>oface</c> is <c>iface</c>, as before; with an <c>iface</c> given, routes that do not
/// give one owned interface leave <c>oface</c> = <c>iface</c> (given, or <c>--iface</c>'s), as before.</item>
/// <item><c>iface</c>: <c>userlb run --iface</c>'s first when given; else the interface of the route to the virtual
/// address (the network clients reach it from, or the default route); else <c>oface</c> (one-armed).</item>
/// </list>
/// </summary>
internal static class RoutePlacement
{
    /// <param name="iface">The farm's <c>iface</c> (null or empty: not given).</param>
    /// <param name="oface">The farm's <c>oface</c> (null or empty: not given).</param>
    /// <param name="vip">The farm's virtual address, when it parses.</param>
    /// <param name="backends">The farm's backends: name and address.</param>
    /// <param name="routes">The routing table; null when placement by route is off (the farm's keys and <paramref name="defaultIface"/> only).</param>
    /// <param name="ports">The interfaces this <c>userlb run</c> owns; null: any (what to open at start).</param>
    /// <param name="defaultIface">The first <c>--iface</c>, if any.</param>
    public static FarmPorts Place(string? iface, string? oface, IpAddr? vip, IReadOnlyList<(string Name, IpAddr Address)> backends,
        RouteTable? routes, IReadOnlyList<string>? ports, string? defaultIface)
    {
        ArgumentNullException.ThrowIfNull(backends);
        string? client = string.IsNullOrEmpty(iface) ? defaultIface : iface;
        if (string.IsNullOrEmpty(oface) && routes is not null && backends.Count > 0)
        {
            var (routed, why) = BackendInterface(backends, routes, ports);
            if (routed is not null) oface = routed;
            else if (string.IsNullOrEmpty(client)) return FarmPorts.Unplaced(why!);
        }
        if (string.IsNullOrEmpty(client) && routes is not null && vip is { } v && routes.Lookup(v) is { } toVip && Owned(toVip.Interface, ports))
            client = toVip.Interface;
        if (string.IsNullOrEmpty(client)) client = oface;
        if (string.IsNullOrEmpty(client))
            return FarmPorts.Unplaced(routes is null ? "no iface (the client-side interface) given, and no --iface" : "no iface given, no --iface, no backends, and its virtual address is not routed out of an interface this userlb run owns");
        if (!Owned(client, ports)) return FarmPorts.Unplaced($"iface \"{client}\" is not an interface this userlb run owns ({string.Join(", ", ports!)})");
        if (string.IsNullOrEmpty(oface)) oface = client;
        if (!Owned(oface, ports)) return FarmPorts.Unplaced($"oface \"{oface}\" is not an interface this userlb run owns ({string.Join(", ", ports!)})");
        return new FarmPorts(client, oface, null);
    }

    /// <summary>The one owned interface every backend is routed out of; else null and why.</summary>
    private static (string? Interface, string? Why) BackendInterface(IReadOnlyList<(string Name, IpAddr Address)> backends, RouteTable routes, IReadOnlyList<string>? ports)
    {
        var byInterface = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var order = new List<string>();
        var unrouted = new List<string>();
        foreach (var (name, address) in backends)
        {
            var route = routes.Lookup(address);
            if (route is null)
            {
                unrouted.Add($"{name} ({address})");
                continue;
            }
            if (!byInterface.TryGetValue(route.Interface, out var list))
            {
                byInterface[route.Interface] = list = [];
                order.Add(route.Interface);
            }
            list.Add(name);
        }
        if (unrouted.Count > 0) return (null, $"no route to backend {string.Join(", ", unrouted)}");
        if (order.Count > 1)
            return (null, "backends are routed out of different interfaces: " + string.Join("; ", order.Select(i => $"{i} ({string.Join(", ", byInterface[i])})")));
        string one = order[0];
        if (!Owned(one, ports))
            return (null, $"backends are routed out of {one}, not an interface this userlb run owns ({string.Join(", ", ports!)}; interfaces are opened at start: name it in --iface)");
        return (one, null);
    }

    private static bool Owned(string name, IReadOnlyList<string>? ports) => ports is null || ports.Contains(name);
}
