using System.Globalization;
using UserLB.Packets;

namespace UserLB.IO.Routes;

/// <summary>One unicast route of the main table: <see cref="Destination"/>/<see cref="PrefixLength"/> out of
/// <see cref="Interface"/>, through <see cref="Gateway"/> when it is not on the link.</summary>
/// <param name="Destination">The network (an IPv4 route's address is IPv4-mapped, as <see cref="IpAddr"/> keeps it).</param>
/// <param name="PrefixLength">Bits of <see cref="Destination"/> that count: 0 to 32 for IPv4, 0 to 128 for IPv6.</param>
/// <param name="Interface">The egress interface's name.</param>
/// <param name="Gateway">The next hop; null when the destination is on the link.</param>
/// <param name="Metric">The route's priority: of two equally long prefixes the lower wins.</param>
public sealed record RouteEntry(IpAddr Destination, int PrefixLength, string Interface, IpAddr? Gateway = null, uint Metric = 0)
{
    /// <summary>An IPv4 route (as opposed to IPv6).</summary>
    public bool IsV4 => Destination.IsV4;

    /// <summary>True when <paramref name="address"/> is of this route's family and inside its prefix.</summary>
    public bool Covers(IpAddr address)
    {
        if (address.IsV4 != IsV4) return false;
        if (Bits == 0) return true;
        var mask = UInt128.MaxValue << (128 - Bits);
        return (Value(address) & mask) == (Value(Destination) & mask);
    }

    /// <summary>IPv6's link-local network (fe80::/10 and longer).</summary>
    public bool IsLinkLocal => !IsV4 && PrefixLength >= 10 && (Destination.Hi >> 54) == 0x3FA;

    /// <summary>The prefix's length over the 128-bit address (an IPv4 route's counts the IPv4-mapped prefix's 96 bits).</summary>
    internal int Bits => IsV4 ? 96 + PrefixLength : PrefixLength;

    internal static UInt128 Value(IpAddr a) => new(a.Hi, a.Lo);

    /// <summary>As <c>ip route</c> prints it: "192.168.1.0/24 dev eth1", "default via 10.0.0.1 dev eth0 metric 100".</summary>
    public override string ToString()
    {
        string dst = PrefixLength == 0 ? "default" : string.Create(CultureInfo.InvariantCulture, $"{Destination}/{PrefixLength}");
        string via = Gateway is { } g ? $" via {g}" : "";
        string metric = Metric != 0 ? string.Create(CultureInfo.InvariantCulture, $" metric {Metric}") : "";
        return $"{dst}{via} dev {Interface}{metric}";
    }
}

/// <summary>
/// A namespace's main routing table (IPv4 and IPv6 unicast routes), immutable: <see cref="Lookup"/> picks the route the
/// kernel would (longest prefix, then the lowest metric), with one hash probe per prefix length in use, so that a large
/// table stays cheap. Built by <see cref="RouteWatcher.Dump"/> or <see cref="ProcRoutes"/>.
/// </summary>
public sealed class RouteTable
{
    private readonly RouteEntry[] _routes;

    /// <summary>Per prefix length in use, longest first (IPv4 lengths counted from the IPv4-mapped address, 96 + n): the
    /// best route of each network, keyed by the masked destination.</summary>
    private readonly (int Bits, Dictionary<UInt128, RouteEntry> Networks)[] _byLength;

    /// <summary>A table of <paramref name="routes"/> (any order).</summary>
    public RouteTable(IEnumerable<RouteEntry> routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        _routes = [.. routes];
        var byBits = new SortedDictionary<int, Dictionary<UInt128, RouteEntry>>(Comparer<int>.Create((a, b) => b.CompareTo(a)));
        foreach (var r in _routes)
        {
            int bits = r.Bits;
            if (!byBits.TryGetValue(bits, out var networks)) byBits[bits] = networks = [];
            var key = Mask(RouteEntry.Value(r.Destination), bits);
            if (!networks.TryGetValue(key, out var best) || r.Metric < best.Metric) networks[key] = r;
        }
        _byLength = [.. byBits.Select(kv => (kv.Key, kv.Value))];
    }

    /// <summary>A table without routes: every lookup fails.</summary>
    public static RouteTable Empty { get; } = new([]);

    /// <summary>The routes, in the order they were read.</summary>
    public IReadOnlyList<RouteEntry> Routes => _routes;

    /// <summary>The route to <paramref name="address"/>: the longest prefix that covers it, of those the lowest metric
    /// (the first read on a tie); null when none does.</summary>
    public RouteEntry? Lookup(IpAddr address)
    {
        var value = RouteEntry.Value(address);
        foreach (var (bits, networks) in _byLength)
        {
            if (networks.TryGetValue(Mask(value, bits), out var route) && route.IsV4 == address.IsV4) return route;
        }
        return null;
    }

    private static UInt128 Mask(UInt128 value, int bits) => bits == 0 ? UInt128.Zero : value & (UInt128.MaxValue << (128 - bits));

    /// <summary>The interfaces that at least one route leaves through, in the order first seen; not counting IPv6's
    /// link-local route (fe80::/64), which every interface with IPv6 has.</summary>
    public IReadOnlyList<string> Interfaces()
    {
        var names = new List<string>();
        foreach (var r in _routes)
            if (!r.IsLinkLocal && !names.Contains(r.Interface)) names.Add(r.Interface);
        return names;
    }

    /// <summary>True when both tables hold the same routes in the same order.</summary>
    public bool SameAs(RouteTable other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._routes.Length != _routes.Length) return false;
        for (int i = 0; i < _routes.Length; i++)
            if (_routes[i] != other._routes[i]) return false;
        return true;
    }
}
