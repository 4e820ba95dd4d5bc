using System.Collections.Immutable;
using System.Net;

namespace UserLB.Engine.Config;

/// <summary>
/// One farm (virtual service) in nftlb's model. Immutable; the defaults of the properties are nftlb's
/// defaults. Equality is by value, including the backends, sessions and extras.
/// </summary>
public sealed record FarmConfig : ISharedConfig
{
    /// <summary>Default <see cref="PersistTtlSeconds"/>.</summary>
    public const int DefaultPersistTtlSeconds = 60;

    /// <summary>Default <see cref="LimitsTtlSeconds"/>.</summary>
    public const int DefaultLimitsTtlSeconds = 120;

    /// <summary>Default <see cref="Helper"/>.</summary>
    public const string DefaultHelper = "none";

    private readonly ImmutableArray<PortRange> virtualPorts = ImmutableArray<PortRange>.Empty;

    /// <summary><c>name</c>: unique within the configuration.</summary>
    public required string Name { get; init; }

    /// <summary><c>family</c> (default ipv4).</summary>
    public AddressFamilyKind Family { get; init; } = AddressFamilyKind.Ipv4;

    /// <summary><c>virtual-addr</c>: the virtual IP clients connect to.</summary>
    public required IPAddress VirtualAddress { get; init; }

    /// <summary>
    /// <c>virtual-ports</c>, sorted by <see cref="PortRange.First"/>, with overlapping and adjacent ranges
    /// merged (the parser normalises them). Empty = all ports.
    /// </summary>
    public ImmutableArray<PortRange> VirtualPorts
    {
        get => virtualPorts;
        init => virtualPorts = value.IsDefault ? ImmutableArray<PortRange>.Empty : value;
    }

    /// <summary><c>source-addr</c>: source address for SNAT; null = the LB's address on the output interface.</summary>
    public IPAddress? SourceAddress { get; init; }

    /// <summary><c>mode</c> (default snat).</summary>
    public FarmMode Mode { get; init; } = FarmMode.Snat;

    /// <summary><c>protocol</c> (default tcp).</summary>
    public FarmProtocol Protocol { get; init; } = FarmProtocol.Tcp;

    /// <summary><c>scheduler</c> (default rr).</summary>
    public SchedulerKind Scheduler { get; init; } = SchedulerKind.RoundRobin;

    /// <summary><c>sched-param</c>: fields hashed by the hash schedulers (the parser makes it srcip for hash/symhash when none is given).</summary>
    public HashFields SchedParam { get; init; }

    /// <summary><c>persistence</c>: fields identifying a client for session persistence; None = off.</summary>
    public HashFields Persistence { get; init; }

    /// <summary><c>persist-ttl</c> in seconds (default 60).</summary>
    public int PersistTtlSeconds { get; init; } = DefaultPersistTtlSeconds;

    /// <summary><c>state</c> (default up).</summary>
    public ObjectState State { get; init; } = ObjectState.Up;

    /// <summary><c>priority</c> (default 1): backends with a priority above the farm's effective level get no traffic.</summary>
    public int Priority { get; init; } = 1;

    /// <summary><c>iface</c>: input interface.</summary>
    public string? Iface { get; init; }

    /// <summary><c>oface</c>: output interface.</summary>
    public string? Oface { get; init; }

    /// <summary><c>ether-addr</c>: the farm's MAC address (DSR / stateless modes).</summary>
    public string? EtherAddr { get; init; }

    /// <summary><c>mark</c>: packet mark of the farm (hex in nftlb); 0 = none.</summary>
    public uint Mark { get; init; }

    /// <summary><c>new-rtlimit</c>: new connections per second per client; 0 = no limit.</summary>
    public int NewRateLimit { get; init; }

    /// <summary><c>new-rtlimit-burst</c>.</summary>
    public int NewRateLimitBurst { get; init; }

    /// <summary><c>rst-rtlimit</c>: TCP resets per second per client; 0 = no limit.</summary>
    public int RstRateLimit { get; init; }

    /// <summary><c>rst-rtlimit-burst</c>.</summary>
    public int RstRateLimitBurst { get; init; }

    /// <summary><c>est-connlimit</c>: established connections per client; 0 = no limit.</summary>
    public int EstConnLimit { get; init; }

    /// <summary><c>tcp-strict</c>: drop TCP packets that conntrack finds invalid.</summary>
    public bool TcpStrict { get; init; }

    /// <summary><c>limits-ttl</c> in seconds (default 120): how long rate-limit state is kept.</summary>
    public int LimitsTtlSeconds { get; init; } = DefaultLimitsTtlSeconds;

    /// <summary><c>helper</c>: conntrack helper, one of none, ftp, pptp, sip, snmp, tftp (default none).</summary>
    public string Helper { get; init; } = DefaultHelper;

    /// <summary><c>log</c>: where new connections are logged (default none).</summary>
    public LogTargets Log { get; init; }

    /// <summary><c>health-check</c>: the check of every backend that has none of its own; null = none.</summary>
    public HealthCheckConfig? HealthCheck { get; init; }

    /// <summary>The farm's backends, in configuration order.</summary>
    public ImmutableArray<BackendConfig> Backends { get; init; } = ImmutableArray<BackendConfig>.Empty;

    /// <summary><c>sessions</c>: static persistence sessions.</summary>
    public ImmutableArray<StaticSession> Sessions { get; init; } = ImmutableArray<StaticSession>.Empty;

    /// <summary><c>policies</c>: the names of the policies the farm checks a client's packets against, in order.</summary>
    public ImmutableArray<string> Policies { get; init; } = ImmutableArray<string>.Empty;

    /// <summary>
    /// Other keys nftlb accepts on a farm that UserLB does not act on (e.g. <c>fqdn</c>, <c>log-prefix</c>,
    /// <c>queue</c>, <c>flow-offload</c>, <c>verdict</c>), kept verbatim so that they round-trip.
    /// </summary>
    public ImmutableSortedDictionary<string, string> Extras { get; init; } = ConfigEquality.EmptyExtras;

    /// <summary>Whether a packet to destination port <paramref name="port"/> belongs to this farm's ports.</summary>
    public bool MatchesPort(ushort port)
    {
        var ranges = virtualPorts.AsSpan();
        if (ranges.IsEmpty)
        {
            return true;
        }

        // Ranges are sorted and disjoint when built by the parser; binary search for the last range with First <= port.
        int lo = 0, hi = ranges.Length - 1, found = -1;
        while (lo <= hi)
        {
            var mid = lo + ((hi - lo) >> 1);
            if (ranges[mid].First <= port)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        if (found >= 0 && ranges[found].Contains(port))
        {
            return true;
        }

        // Not normalised (constructed by hand)? Fall back to a linear scan.
        foreach (var r in ranges)
        {
            if (r.Contains(port))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The backend named <paramref name="name"/>, or null.</summary>
    public BackendConfig? FindBackend(string name)
    {
        foreach (var b in Backends)
        {
            if (string.Equals(b.Name, name, StringComparison.Ordinal))
            {
                return b;
            }
        }

        return null;
    }

    /// <inheritdoc/>
    public bool Equals(FarmConfig? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || (Name == other.Name
                && Family == other.Family
                && VirtualAddress.Equals(other.VirtualAddress)
                && ConfigEquality.SequenceEqual(VirtualPorts, other.VirtualPorts)
                && Equals(SourceAddress, other.SourceAddress)
                && Mode == other.Mode
                && Protocol == other.Protocol
                && Scheduler == other.Scheduler
                && SchedParam == other.SchedParam
                && Persistence == other.Persistence
                && PersistTtlSeconds == other.PersistTtlSeconds
                && State == other.State
                && Priority == other.Priority
                && Iface == other.Iface
                && Oface == other.Oface
                && EtherAddr == other.EtherAddr
                && Mark == other.Mark
                && NewRateLimit == other.NewRateLimit
                && NewRateLimitBurst == other.NewRateLimitBurst
                && RstRateLimit == other.RstRateLimit
                && RstRateLimitBurst == other.RstRateLimitBurst
                && EstConnLimit == other.EstConnLimit
                && TcpStrict == other.TcpStrict
                && LimitsTtlSeconds == other.LimitsTtlSeconds
                && Helper == other.Helper
                && Log == other.Log
                && Equals(HealthCheck, other.HealthCheck)
                && ConfigEquality.SequenceEqual(Backends, other.Backends)
                && ConfigEquality.SequenceEqual(Sessions, other.Sessions)
                && ConfigEquality.SequenceEqual(Policies, other.Policies)
                && ConfigEquality.ExtrasEqual(Extras, other.Extras)));

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Name);
        h.Add(Family);
        h.Add(VirtualAddress);
        h.Add(ConfigEquality.SequenceHash(VirtualPorts));
        h.Add(SourceAddress);
        h.Add(Mode);
        h.Add(Protocol);
        h.Add(Scheduler);
        h.Add(SchedParam);
        h.Add(Persistence);
        h.Add(State);
        h.Add(Priority);
        h.Add(Mark);
        h.Add(Helper);
        h.Add(Log);
        h.Add(HealthCheck);
        h.Add(ConfigEquality.SequenceHash(Backends));
        h.Add(ConfigEquality.SequenceHash(Sessions));
        h.Add(ConfigEquality.ExtrasHash(Extras));
        return h.ToHashCode();
    }
}
