namespace UserLB.IO.PcapFiles;

/// <summary>
/// Link-layer header types (LINKTYPE_* values from tcpdump.org/linktypes.html) as stored in
/// classic pcap file headers and pcapng Interface Description Blocks.
/// </summary>
public static class LinkTypes
{
    /// <summary>Link type is not known (e.g. a pcapng file with no Interface Description Block).</summary>
    public const int Unknown = -1;

    /// <summary>BSD loopback: 4-byte host-order address family, then the packet.</summary>
    public const int Null = 0;

    /// <summary>Ethernet II / IEEE 802.3 (DLT_EN10MB).</summary>
    public const int Ethernet = 1;

    /// <summary>PPP (RFC 1661).</summary>
    public const int Ppp = 9;

    /// <summary>Raw IP, version taken from the first nibble (DLT_RAW on most platforms).</summary>
    public const int Raw = 101;

    /// <summary>IEEE 802.11 wireless LAN.</summary>
    public const int Ieee80211 = 105;

    /// <summary>OpenBSD loopback: 4-byte network-order address family, then the packet.</summary>
    public const int Loop = 108;

    /// <summary>Linux "cooked" capture, version 1 (DLT_LINUX_SLL, 16-byte header).</summary>
    public const int LinuxSll = 113;

    /// <summary>Radiotap header followed by an 802.11 frame.</summary>
    public const int Ieee80211Radiotap = 127;

    /// <summary>Raw IPv4 packets.</summary>
    public const int IPv4 = 228;

    /// <summary>Raw IPv6 packets.</summary>
    public const int IPv6 = 229;

    /// <summary>Linux netlink (nlmon).</summary>
    public const int Netlink = 253;

    /// <summary>Linux "cooked" capture, version 2 (DLT_LINUX_SLL2, 20-byte header).</summary>
    public const int LinuxSll2 = 276;

    /// <summary>
    /// Human-readable description of a link type, e.g. <c>"Ethernet (1)"</c> or
    /// <c>"unknown link type 4242"</c>. Intended for error messages and logs.
    /// </summary>
    public static string Describe(int linkType)
    {
        string? name = Name(linkType);
        return name is null
            ? $"unknown link type {linkType}"
            : $"{name} ({linkType})";
    }

    /// <summary>Short name of a known link type, or null.</summary>
    public static string? Name(int linkType) => linkType switch
    {
        Unknown => "Unknown",
        Null => "BSD loopback (NULL)",
        Ethernet => "Ethernet",
        Ppp => "PPP",
        Raw => "Raw IP",
        Ieee80211 => "IEEE 802.11",
        Loop => "OpenBSD loopback (LOOP)",
        LinuxSll => "Linux cooked v1 (SLL)",
        Ieee80211Radiotap => "IEEE 802.11 + radiotap",
        IPv4 => "Raw IPv4",
        IPv6 => "Raw IPv6",
        Netlink => "Linux netlink",
        LinuxSll2 => "Linux cooked v2 (SLL2)",
        _ => null,
    };
}
