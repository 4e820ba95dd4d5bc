using UserLB.IO.Routes;
using UserLB.Packets;

namespace UserLB.IO.Tests.Routes;

/// <summary>Routes written as <c>ip route</c> reads them, for tables in tests (also linked into the Cli tests).</summary>
internal static class TestRoutes
{
    /// <summary>"10.0.0.0/8" out of <paramref name="dev"/>, through <paramref name="via"/> when given.</summary>
    public static RouteEntry R(string cidr, string dev, string? via = null, uint metric = 0)
    {
        var parts = cidr.Split('/');
        return new RouteEntry(IpAddr.Parse(parts[0]), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), dev, via is null ? null : IpAddr.Parse(via), metric);
    }
}
