using System.Collections.Immutable;
using System.Net;

namespace UserLB.Engine.Config;

/// <summary>One backend of a farm. Immutable; build new values with <c>with</c> or through <see cref="ConfigParser"/>.</summary>
public sealed record BackendConfig : ISharedConfig
{
    /// <summary><c>name</c>: unique within its farm.</summary>
    public required string Name { get; init; }

    /// <summary><c>ip-addr</c>.</summary>
    public required IPAddress Address { get; init; }

    /// <summary><c>port</c>: 0 keeps the client's destination port.</summary>
    public ushort Port { get; init; }

    /// <summary><c>weight</c> (default 1); 0 means the backend is never chosen for new connections.</summary>
    public int Weight { get; init; } = 1;

    /// <summary><c>priority</c> (default 1, always ≥ 1).</summary>
    public int Priority { get; init; } = 1;

    /// <summary><c>state</c> (default up).</summary>
    public ObjectState State { get; init; } = ObjectState.Up;

    /// <summary><c>source-addr</c>: source address for packets to this backend, overriding the farm's.</summary>
    public IPAddress? SourceAddress { get; init; }

    /// <summary><c>mark</c>: packet mark (nftlb writes it in hex, e.g. <c>0x200</c>); 0 = none.</summary>
    public uint Mark { get; init; }

    /// <summary><c>est-connlimit</c>: maximum established connections; 0 = no limit.</summary>
    public int EstConnLimit { get; init; }

    /// <summary><c>ether-addr</c>: the backend's MAC address (needed for DSR), e.g. <c>02:02:02:02:02:02</c>.</summary>
    public string? EtherAddr { get; init; }

    /// <summary><c>health-check</c>: this backend's own check (overrides the farm's); null = the farm's.</summary>
    public HealthCheckConfig? HealthCheck { get; init; }

    /// <summary>
    /// Other keys nftlb accepts on a backend that UserLB does not act on (<c>fqdn</c>,
    /// <c>est-connlimit-log-prefix</c>, <c>oface</c>), kept verbatim so that they round-trip.
    /// </summary>
    public ImmutableSortedDictionary<string, string> Extras { get; init; } = ConfigEquality.EmptyExtras;

    /// <inheritdoc/>
    public bool Equals(BackendConfig? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || (Name == other.Name
                && Address.Equals(other.Address)
                && Port == other.Port
                && Weight == other.Weight
                && Priority == other.Priority
                && State == other.State
                && Equals(SourceAddress, other.SourceAddress)
                && Mark == other.Mark
                && EstConnLimit == other.EstConnLimit
                && EtherAddr == other.EtherAddr
                && Equals(HealthCheck, other.HealthCheck)
                && ConfigEquality.ExtrasEqual(Extras, other.Extras)));

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Name);
        h.Add(Address);
        h.Add(Port);
        h.Add(Weight);
        h.Add(Priority);
        h.Add(State);
        h.Add(SourceAddress);
        h.Add(Mark);
        h.Add(EstConnLimit);
        h.Add(EtherAddr);
        h.Add(HealthCheck);
        h.Add(ConfigEquality.ExtrasHash(Extras));
        return h.ToHashCode();
    }
}
