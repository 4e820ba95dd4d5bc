using System.Globalization;
using System.Net;
using System.Text;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine.Conntrack;

/// <summary>
/// A selection of connection-table entries, as <c>conntrack -L/-D/-E</c> take it: every given field must match.
/// Built from key/value pairs (<see cref="Parse"/>; the API's query string and the CLI's options map onto the same keys),
/// written back with <see cref="ToQueryString"/>. Farm and backend names are resolved against a snapshot
/// (<see cref="Bind"/>) before <see cref="Matches"/> runs, which allocates nothing.
/// </summary>
public sealed class ConntrackFilter
{
    /// <summary>The keys, each with the CLI options that set it (conntrack's names first).</summary>
    public static readonly IReadOnlyList<(string Key, string[] Options, string Help)> Keys =
    [
        ("proto", ["-p", "--proto"], "protocol: tcp, udp, icmp, icmpv6, sctp or a number"),
        ("src", ["-s", "--src", "--orig-src"], "source address of the original direction (ADDR or ADDR/PREFIX)"),
        ("dst", ["-d", "--dst", "--orig-dst"], "destination address of the original direction (the VIP)"),
        ("reply-src", ["-r", "--reply-src"], "source address of the reply direction (the backend)"),
        ("reply-dst", ["-q", "--reply-dst"], "destination address of the reply direction (the SNAT address or the client)"),
        ("sport", ["--sport", "--orig-port-src"], "source port of the original direction"),
        ("dport", ["--dport", "--orig-port-dst"], "destination port of the original direction"),
        ("reply-port-src", ["--reply-port-src"], "source port of the reply direction"),
        ("reply-port-dst", ["--reply-port-dst"], "destination port of the reply direction"),
        ("state", ["--state"], "TCP state: SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2; SCTP state: CLOSED, COOKIE_WAIT, COOKIE_ECHOED, ESTABLISHED, SHUTDOWN_SENT, SHUTDOWN_RECD, SHUTDOWN_ACK_SENT, HEARTBEAT_SENT"),
        ("mark", ["-m", "--mark"], "connection mark, MARK or MARK/MASK (decimal or 0x hex)"),
        ("status", ["-u", "--status"], "comma-separated: ASSURED, SEEN_REPLY, UNREPLIED, SRC_NAT, DST_NAT"),
        ("family", ["-f", "--family"], "ipv4 or ipv6"),
        ("farm", ["--farm"], "farm name"),
        ("backend", ["--backend"], "backend name"),
    ];

    private readonly List<(string Key, string Value)> _given = [];
    /// <summary>The names resolved by <see cref="Bind"/> (null before), replaced whole: engines of several workers may
    /// bind one filter at once (to the same snapshot) while others match with it.</summary>
    private Binding? _binding;

    public byte? Protocol { get; private set; }
    public IpPrefix? Src { get; private set; }
    public IpPrefix? Dst { get; private set; }
    public IpPrefix? ReplySrc { get; private set; }
    public IpPrefix? ReplyDst { get; private set; }
    public ushort? SrcPort { get; private set; }
    public ushort? DstPort { get; private set; }
    public ushort? ReplySrcPort { get; private set; }
    public ushort? ReplyDstPort { get; private set; }
    public TcpState? State { get; private set; }
    /// <summary>The SCTP state asked for (a name may be both, ESTABLISHED: either protocol's entries in it match).</summary>
    public SctpState? SctpStateWanted { get; private set; }
    public uint? Mark { get; private set; }
    public uint MarkMask { get; private set; } = uint.MaxValue;
    public ConnStatus StatusSet { get; private set; }
    public bool Unreplied { get; private set; }
    /// <summary>4 or 6 when a family was given.</summary>
    public int? Family { get; private set; }
    public string? Farm { get; private set; }
    public string? Backend { get; private set; }

    /// <summary>True when no field was given (everything matches).</summary>
    public bool IsEmpty => _given.Count == 0;

    /// <summary>The empty filter.</summary>
    public static ConntrackFilter All => new();

    /// <summary>Builds a filter from key/value pairs (<see cref="Keys"/>). Unknown keys and bad values throw
    /// <see cref="ConntrackFilterException"/> with a message naming the key and the value.</summary>
    public static ConntrackFilter Parse(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var f = new ConntrackFilter();
        foreach (var (key, value) in pairs) f.Set(key, value);
        return f;
    }

    private void Set(string key, string value)
    {
        value = value.Trim();
        switch (key)
        {
            case "proto": Protocol = ParseProtocol(key, value); break;
            case "src" or "orig-src": key = "src"; Src = ParsePrefix(key, value); break;
            case "dst" or "orig-dst": key = "dst"; Dst = ParsePrefix(key, value); break;
            case "reply-src": ReplySrc = ParsePrefix(key, value); break;
            case "reply-dst": ReplyDst = ParsePrefix(key, value); break;
            case "sport" or "orig-port-src": key = "sport"; SrcPort = ParsePort(key, value); break;
            case "dport" or "orig-port-dst": key = "dport"; DstPort = ParsePort(key, value); break;
            case "reply-port-src": ReplySrcPort = ParsePort(key, value); break;
            case "reply-port-dst": ReplyDstPort = ParsePort(key, value); break;
            case "state": (State, SctpStateWanted) = ParseState(key, value); break;
            case "mark": ParseMark(key, value); break;
            case "status": ParseStatus(key, value); break;
            case "family": Family = value.ToLowerInvariant() switch
            {
                "ipv4" or "4" => 4,
                "ipv6" or "6" => 6,
                _ => throw Bad(key, value, "is not ipv4 or ipv6"),
            };
                break;
            case "farm": Farm = value.Length > 0 ? value : throw Bad(key, value, "is empty"); break;
            case "backend": Backend = value.Length > 0 ? value : throw Bad(key, value, "is empty"); break;
            default: throw new ConntrackFilterException($"unknown filter \"{key}\"");
        }
        _given.RemoveAll(g => g.Key == key);
        _given.Add((key, value));
    }

    private static ConntrackFilterException Bad(string key, string value, string why) =>
        new($"filter {key}: \"{value}\" {why}");

    private static byte ParseProtocol(string key, string value)
    {
        switch (value.ToLowerInvariant())
        {
            case "tcp": return IpProtocols.Tcp;
            case "udp": return IpProtocols.Udp;
            case "icmp": return IpProtocols.Icmp;
            case "icmpv6" or "ipv6-icmp": return IpProtocols.Icmpv6;
            case "sctp": return IpProtocols.Sctp;
        }
        if (byte.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out byte n)) return n;
        throw Bad(key, value, "is not a protocol (tcp, udp, icmp, icmpv6, sctp or 0-255)");
    }

    private static IpPrefix ParsePrefix(string key, string value)
    {
        string addr = value;
        int? length = null;
        int slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            addr = value[..slash];
            if (!int.TryParse(value.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int l))
                throw Bad(key, value, "has a bad prefix length");
            length = l;
        }
        if (!IPAddress.TryParse(addr, out var ip) || addr.Length == 0 || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && addr.Count(c => c == '.') != 3))
            throw Bad(key, value, "is not an IPv4 or IPv6 address");
        var a = IpAddr.FromIPAddress(ip);
        int max = a.IsV4 ? 32 : 128;
        int len = length ?? max;
        if (len < 0 || len > max) throw Bad(key, value, $"has a prefix length outside 0-{max}");
        return new IpPrefix(a, len);
    }

    private static ushort ParsePort(string key, string value)
    {
        if (ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ushort p)) return p;
        throw Bad(key, value, "is not a port (0-65535)");
    }

    private static (TcpState?, SctpState?) ParseState(string key, string value)
    {
        string v = value.ToUpperInvariant();
        TcpState? tcp = null;
        SctpState? sctp = null;
        for (var s = TcpState.SynSent; s <= TcpState.SynSent2; s++)
            if (s.ToConntrackName() == v) tcp = s;
        for (var s = SctpState.Closed; s <= SctpState.HeartbeatSent; s++)
            if (s.ToConntrackName() == v) sctp = s;
        if (tcp is null && sctp is null)
            throw Bad(key, value, "is not a TCP state (SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2) or an SCTP state (CLOSED, COOKIE_WAIT, COOKIE_ECHOED, SHUTDOWN_SENT, SHUTDOWN_RECD, SHUTDOWN_ACK_SENT, HEARTBEAT_SENT)");
        return (tcp, sctp);
    }

    private void ParseMark(string key, string value)
    {
        int slash = value.IndexOf('/', StringComparison.Ordinal);
        string m = slash >= 0 ? value[..slash] : value;
        if (!TryParseUInt(m, out uint mark)) throw Bad(key, value, "is not a mark (N or N/MASK, decimal or 0x hex)");
        uint mask = uint.MaxValue;
        if (slash >= 0 && !TryParseUInt(value[(slash + 1)..], out mask)) throw Bad(key, value, "has a bad mask (N/MASK, decimal or 0x hex)");
        Mark = mark & mask;
        MarkMask = mask;
    }

    private static bool TryParseUInt(string s, out uint v) =>
        s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v)
            : uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);

    private void ParseStatus(string key, string value)
    {
        var set = ConnStatus.None;
        bool unreplied = false;
        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            switch (part.ToUpperInvariant())
            {
                case "ASSURED": set |= ConnStatus.Assured; break;
                case "SEEN_REPLY": set |= ConnStatus.SeenReply; break;
                case "UNREPLIED": unreplied = true; break;
                case "SRC_NAT": set |= ConnStatus.SrcNat; break;
                case "DST_NAT": set |= ConnStatus.DstNat; break;
                default: throw Bad(key, value, "is not a list of ASSURED, SEEN_REPLY, UNREPLIED, SRC_NAT, DST_NAT");
            }
        }
        if (unreplied && (set & ConnStatus.SeenReply) != 0) throw Bad(key, value, "asks for SEEN_REPLY and UNREPLIED at once");
        if (set == ConnStatus.None && !unreplied) throw Bad(key, value, "is empty");
        StatusSet = set;
        Unreplied = unreplied;
    }

    /// <summary>Resolves the farm and backend names against <paramref name="snapshot"/> (unknown names match nothing).
    /// Call on the thread that owns the engine before <see cref="Matches"/>.</summary>
    public ConntrackFilter Bind(EngineSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        int farmId = -1;
        int[] backendIds = [];
        if (Farm is not null) farmId = snapshot.FindFarmByName(Farm)?.Id ?? -2;
        if (Backend is not null)
        {
            var ids = new List<int>();
            foreach (var f in snapshot.Farms)
            {
                if (Farm is not null && f.Name != Farm) continue;
                foreach (var b in f.Backends)
                    if (b.Name == Backend) ids.Add(b.Id);
            }
            backendIds = [.. ids];
        }
        Volatile.Write(ref _binding, new Binding(farmId, backendIds));
        return this;
    }

    private sealed record Binding(int FarmId, int[] BackendIds);

    /// <summary>True when <paramref name="e"/> (a live entry) matches every given field.</summary>
    public bool Matches(in ConnEntry e)
    {
        if (IsEmpty) return true;
        var binding = Volatile.Read(ref _binding);
        if ((Farm is not null || Backend is not null) && binding is null)
            throw new InvalidOperationException("ConntrackFilter.Bind must run before Matches when a farm or backend is given");
        var o = e.Original;
        if (Protocol is byte p && o.Protocol != p) return false;
        if (Family is int fam && (fam == 4) != o.Src.IsV4) return false;
        if (Src is { } s && !s.Contains(o.Src)) return false;
        if (Dst is { } d && !d.Contains(o.Dst)) return false;
        if (ReplySrc is { } rs && !rs.Contains(e.Reply.Src)) return false;
        if (ReplyDst is { } rd && !rd.Contains(e.Reply.Dst)) return false;
        bool ports = o.Protocol is not (IpProtocols.Icmp or IpProtocols.Icmpv6);
        if (SrcPort is ushort sp && (!ports || o.SrcPort != sp)) return false;
        if (DstPort is ushort dp && (!ports || o.DstPort != dp)) return false;
        if (ReplySrcPort is ushort rsp && (!ports || e.Reply.SrcPort != rsp)) return false;
        if (ReplyDstPort is ushort rdp && (!ports || e.Reply.DstPort != rdp)) return false;
        if ((State is not null || SctpStateWanted is not null)
            && !(o.Protocol == IpProtocols.Tcp && State == e.TcpState) && !(o.Protocol == IpProtocols.Sctp && SctpStateWanted == e.SctpState))
        {
            return false;
        }

        if (Mark is uint m && (e.Mark & MarkMask) != m) return false;
        if ((e.Status & StatusSet) != StatusSet) return false;
        if (Unreplied && e.SeenReply) return false;
        if (Farm is not null && e.FarmId != binding!.FarmId) return false;
        if (Backend is not null && Array.IndexOf(binding!.BackendIds, e.BackendId) < 0) return false;
        return true;
    }

    /// <summary>The filter as a query string ("" or "?key=value&amp;…"), in the order the fields were given.</summary>
    public string ToQueryString()
    {
        if (_given.Count == 0) return "";
        var sb = new StringBuilder();
        foreach (var (k, v) in _given)
            sb.Append(sb.Length == 0 ? '?' : '&').Append(k).Append('=').Append(Uri.EscapeDataString(v));
        return sb.ToString();
    }
}

/// <summary>An address prefix (IPv4 /0–32, IPv6 /0–128) on <see cref="IpAddr"/>'s 128-bit form.</summary>
public readonly record struct IpPrefix(IpAddr Address, int Length)
{
    public bool Contains(IpAddr a)
    {
        if (a.IsV4 != Address.IsV4) return false;
        int bits = (Address.IsV4 ? 96 : 0) + Length; // IPv4 lives in the low 32 bits of the mapped form
        ulong hiMask = bits >= 64 ? ulong.MaxValue : bits == 0 ? 0 : ulong.MaxValue << (64 - bits);
        int lowBits = bits - 64;
        ulong loMask = lowBits <= 0 ? 0 : lowBits >= 64 ? ulong.MaxValue : ulong.MaxValue << (64 - lowBits);
        return ((a.Hi ^ Address.Hi) & hiMask) == 0 && ((a.Lo ^ Address.Lo) & loMask) == 0;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Address}/{Length}");
}

/// <summary>A filter key or value that cannot be used; the message names both.</summary>
public sealed class ConntrackFilterException : Exception
{
    public ConntrackFilterException()
        : base("invalid conntrack filter")
    {
    }

    public ConntrackFilterException(string message)
        : base(message)
    {
    }

    public ConntrackFilterException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
