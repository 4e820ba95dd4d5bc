using System.Globalization;

namespace UserLB.Engine.Config;

/// <summary>An inclusive range of ports; a single port has <see cref="First"/> == <see cref="Last"/>.</summary>
public readonly record struct PortRange(ushort First, ushort Last)
{
    /// <summary>A range holding one port.</summary>
    public static PortRange Single(ushort port) => new(port, port);

    /// <summary>Whether <paramref name="port"/> lies in the range.</summary>
    public bool Contains(ushort port) => port >= First && port <= Last;

    /// <summary>nftlb notation: <c>80</c> or <c>8000-8010</c>.</summary>
    public override string ToString() => First == Last
        ? First.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");
}
