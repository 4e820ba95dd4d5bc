using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using UserLB.Packets;

namespace UserLB.IO.Routes;

/// <summary>A neighbour the namespace's kernel has resolved: its address, link-layer address and interface index.</summary>
public readonly record struct KernelNeighbor(IpAddr Address, MacAddress Mac, int InterfaceIndex);

/// <summary>
/// The namespace's kernel neighbour table (ARP and NDP) over rtnetlink: an RTM_GETNEIGH dump, for the MAC of a route's
/// gateway (the engines send a backend behind it to that MAC), and a datagram that makes the kernel resolve a gateway
/// it does not know yet.
/// </summary>
public static class KernelNeighbors
{
    private const ushort RTM_NEWNEIGH = 28, RTM_GETNEIGH = 30, NDA_DST = 1, NDA_LLADDR = 2;
    private const int NdmsgLength = 12;

    /// <summary>Neighbour states whose link-layer address can be used: reachable, stale, delay, probe, permanent.</summary>
    private const ushort Usable = 0x02 | 0x04 | 0x08 | 0x10 | 0x80;

    /// <summary>Adds the usable neighbours of the RTM_NEWNEIGH messages in <paramref name="buffer"/> to <paramref name="into"/>;
    /// returns whether the dump ended (<see cref="RouteMessages.Parse"/>'s statuses).</summary>
    public static NetlinkStatus Parse(ReadOnlySpan<byte> buffer, List<KernelNeighbor> into, out int error)
    {
        ArgumentNullException.ThrowIfNull(into);
        NetlinkStatus status;
        while (RouteMessages.TryNext(ref buffer, out ushort type, out var body, out status, out error))
            if (type == RTM_NEWNEIGH && ParseOne(body) is { } n) into.Add(n);
        return status;
    }

    private static KernelNeighbor? ParseOne(ReadOnlySpan<byte> body)
    {
        // struct ndmsg { u8 family; u8 pad1; u16 pad2; s32 ifindex; u16 state; u8 flags; u8 type; } then attributes
        if (body.Length < NdmsgLength) return null;
        byte family = body[0];
        int ifindex = MemoryMarshal.Read<int>(body[4..]);
        ushort state = MemoryMarshal.Read<ushort>(body[8..]);
        if (family is not (RouteMessages.AF_INET or RouteMessages.AF_INET6) || (state & Usable) == 0) return null;
        int addressLength = family == RouteMessages.AF_INET ? 4 : 16;
        IpAddr? address = null;
        MacAddress? mac = null;
        var attrs = body[NdmsgLength..];
        while (attrs.Length >= 4)
        {
            int alen = MemoryMarshal.Read<ushort>(attrs);
            if (alen < 4 || alen > attrs.Length) break;
            var data = attrs[4..alen];
            ushort type = MemoryMarshal.Read<ushort>(attrs[2..]);
            if (type == NDA_DST && data.Length == addressLength) address = addressLength == 4 ? IpAddr.ReadV4(data) : IpAddr.ReadV6(data);
            else if (type == NDA_LLADDR && data.Length == 6) mac = MacAddress.Read(data);
            attrs = attrs[Math.Min((alen + 3) & ~3, attrs.Length)..];
        }
        return address is { } a && mac is { } m && !m.IsZero ? new KernelNeighbor(a, m, ifindex) : null;
    }

    /// <summary>The kernel's usable neighbours now; null (with the reason) when netlink cannot be used.</summary>
    public static List<KernelNeighbor>? Dump(out string? why)
    {
        var into = new List<KernelNeighbor>();
        return NetlinkSocket.Dump(RTM_GETNEIGH, (ReadOnlySpan<byte> datagram, out int error) => Parse(datagram, into, out error), out why) ? into : null;
    }

    /// <summary>The name of the interface with index <paramref name="index"/> in this namespace; null when there is none.</summary>
    public static string? InterfaceName(int index) => NetlinkSocket.NameOf(index);

    /// <summary>
    /// Makes the kernel resolve <paramref name="gateway"/> on interface <paramref name="interfaceIndex"/>: an empty UDP
    /// datagram to its discard port (9), which it sends once the neighbour answers. Returns false when it cannot be sent.
    /// </summary>
    public static bool Solicit(IpAddr gateway, int interfaceIndex)
    {
        var address = gateway.ToIPAddress();
        if (address.IsIPv6LinkLocal) address.ScopeId = interfaceIndex;
        try
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            socket.SendTo([], new IPEndPoint(address, 9));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
