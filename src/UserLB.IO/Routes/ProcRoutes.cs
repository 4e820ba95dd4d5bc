using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using UserLB.Packets;

namespace UserLB.IO.Routes;

/// <summary>
/// The routing table from <c>/proc/net/route</c> (IPv4, the main table) and <c>/proc/net/ipv6_route</c>: what
/// <see cref="RouteWatcher"/> reads when rtnetlink is not available. Lines that do not parse are skipped.
/// </summary>
public static class ProcRoutes
{
    private const uint RTF_UP = 0x1, RTF_GATEWAY = 0x2, RTF_REJECT = 0x200, RTF_CACHE = 0x0100_0000, RTF_LOCAL = 0x8000_0000;

    /// <summary>Reads both files of this namespace; a missing one adds no routes.</summary>
    public static RouteTable Read()
    {
        var routes = new List<RouteEntry>();
        if (File.Exists("/proc/net/route")) ParseV4(File.ReadAllText("/proc/net/route"), routes);
        if (File.Exists("/proc/net/ipv6_route")) ParseV6(File.ReadAllText("/proc/net/ipv6_route"), routes);
        return new RouteTable(routes);
    }

    /// <summary>
    /// Adds the routes of <c>/proc/net/route</c>'s <paramref name="text"/>: "Iface Destination Gateway Flags RefCnt Use
    /// Metric Mask ..." with addresses as hex of the host-order word (on little-endian hosts the bytes reversed).
    /// </summary>
    public static void ParseV4(string text, List<RouteEntry> into)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(into);
        foreach (var line in text.Split('\n'))
        {
            var f = line.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 8 || f[0] == "Iface" || f[0] == "lo") continue;
            if (!Hex(f[1], out uint dst) || !Hex(f[2], out uint gw) || !Hex(f[3], out uint flags) || !Hex(f[7], out uint mask)) continue;
            if (!uint.TryParse(f[6], NumberStyles.None, CultureInfo.InvariantCulture, out uint metric)) continue;
            if ((flags & RTF_UP) == 0 || (flags & RTF_REJECT) != 0) continue;
            uint netMask = NetworkOrder(mask);
            int prefix = BitOperations.PopCount(netMask);
            if (netMask != (prefix == 0 ? 0 : uint.MaxValue << (32 - prefix))) continue; // not a contiguous mask
            IpAddr? gateway = (flags & RTF_GATEWAY) != 0 ? IpAddr.FromV4(NetworkOrder(gw)) : null;
            into.Add(new RouteEntry(IpAddr.FromV4(NetworkOrder(dst)), prefix, f[0], gateway, metric));
        }
    }

    /// <summary>
    /// Adds the routes of <c>/proc/net/ipv6_route</c>'s <paramref name="text"/>: "dest plen src plen nexthop metric
    /// refcnt use flags device", addresses as 32 hex digits in network order. Local, cached, rejecting and multicast
    /// routes are left out.
    /// </summary>
    public static void ParseV6(string text, List<RouteEntry> into)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(into);
        foreach (var line in text.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 10 || f[9] == "lo") continue;
            if (!Address6(f[0], out var dst) || !Address6(f[4], out var hop)) continue;
            if (!Hex(f[1], out uint prefix) || prefix > 128 || !Hex(f[5], out uint metric) || !Hex(f[8], out uint flags)) continue;
            if ((flags & RTF_UP) == 0 || (flags & (RTF_REJECT | RTF_CACHE | RTF_LOCAL)) != 0 || f[0].StartsWith("ff", StringComparison.OrdinalIgnoreCase)) continue;
            IpAddr? gateway = (flags & RTF_GATEWAY) != 0 && !hop.IsZero ? hop : null;
            into.Add(new RouteEntry(dst, (int)prefix, f[9], gateway, metric));
        }
    }

    private static bool Hex(string s, out uint value) => uint.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);

    /// <summary>/proc/net/route prints the address word as the host holds it: the network-order value of its bytes.</summary>
    private static uint NetworkOrder(uint printed) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(printed) : printed;

    private static bool Address6(string s, out IpAddr address)
    {
        address = default;
        if (s.Length != 32) return false;
        Span<byte> b = stackalloc byte[16];
        for (int i = 0; i < 16; i++)
            if (!byte.TryParse(s.AsSpan(2 * i, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out b[i])) return false;
        address = IpAddr.ReadV6(b);
        return true;
    }
}
