using System.Collections.Immutable;
using System.Net;

namespace UserLB.Engine.Config;

/// <summary>A mutable farm being built by <see cref="ConfigParser.Apply"/>; <see cref="Build"/> checks it and freezes it.</summary>
internal sealed class FarmDraft : ISharedDraft
{
    public FarmDraft(string name) => Name = name;

    public FarmConfig? Original { get; private init; }

    public bool Dirty { get; set; }

    public string Name { get; }

    public AddressFamilyKind Family { get; set; } = AddressFamilyKind.Ipv4;

    public IPAddress? VirtualAddress { get; set; }

    public ImmutableArray<PortRange> VirtualPorts { get; set; } = ImmutableArray<PortRange>.Empty;

    public IPAddress? SourceAddress { get; set; }

    public FarmMode Mode { get; set; }

    public FarmProtocol Protocol { get; set; }

    public SchedulerKind Scheduler { get; set; }

    public HashFields SchedParam { get; set; }

    public HashFields Persistence { get; set; }

    public int PersistTtlSeconds { get; set; } = FarmConfig.DefaultPersistTtlSeconds;

    public ObjectState State { get; set; }

    public int Priority { get; set; } = 1;

    public string? Iface { get; set; }

    public string? Oface { get; set; }

    public string? EtherAddr { get; set; }

    public uint Mark { get; set; }

    public int NewRateLimit { get; set; }

    public int NewRateLimitBurst { get; set; }

    public int RstRateLimit { get; set; }

    public int RstRateLimitBurst { get; set; }

    public int EstConnLimit { get; set; }

    public bool TcpStrict { get; set; }

    public int LimitsTtlSeconds { get; set; } = FarmConfig.DefaultLimitsTtlSeconds;

    public string Helper { get; set; } = FarmConfig.DefaultHelper;

    public LogTargets Log { get; set; }

    public HealthCheckConfig? HealthCheck { get; set; }

    public List<BackendDraft> Backends { get; } = [];

    public List<StaticSession> Sessions { get; } = [];

    public List<string> Policies { get; } = [];

    public SortedDictionary<string, string> Extras { get; } = new(StringComparer.Ordinal);

    public static FarmDraft From(FarmConfig f)
    {
        var d = new FarmDraft(f.Name)
        {
            Original = f,
            Family = f.Family,
            VirtualAddress = f.VirtualAddress,
            VirtualPorts = f.VirtualPorts,
            SourceAddress = f.SourceAddress,
            Mode = f.Mode,
            Protocol = f.Protocol,
            Scheduler = f.Scheduler,
            SchedParam = f.SchedParam,
            Persistence = f.Persistence,
            PersistTtlSeconds = f.PersistTtlSeconds,
            State = f.State,
            Priority = f.Priority,
            Iface = f.Iface,
            Oface = f.Oface,
            EtherAddr = f.EtherAddr,
            Mark = f.Mark,
            NewRateLimit = f.NewRateLimit,
            NewRateLimitBurst = f.NewRateLimitBurst,
            RstRateLimit = f.RstRateLimit,
            RstRateLimitBurst = f.RstRateLimitBurst,
            EstConnLimit = f.EstConnLimit,
            TcpStrict = f.TcpStrict,
            LimitsTtlSeconds = f.LimitsTtlSeconds,
            Helper = f.Helper,
            Log = f.Log,
            HealthCheck = f.HealthCheck,
        };
        foreach (var b in f.Backends)
        {
            d.Backends.Add(BackendDraft.From(b));
        }

        d.Sessions.AddRange(f.Sessions);
        d.Policies.AddRange(f.Policies);
        foreach (var (k, v) in f.Extras)
        {
            d.Extras[k] = v;
        }

        return d;
    }

    public int FindBackend(string name) => Backends.FindIndex(b => string.Equals(b.Name, name, StringComparison.Ordinal));

    public int FindSession(string client) => Sessions.FindIndex(s => string.Equals(s.Client, client, StringComparison.Ordinal));

    /// <summary>Checks completeness and consistency; returns the original object when nothing changed.</summary>
    public FarmConfig Build(Where w)
    {
        if (VirtualAddress is null)
        {
            throw w.Error("missing key \"virtual-addr\" (a new farm needs one)");
        }

        CheckFamily(Family, VirtualAddress, w.WithKey("virtual-addr"));
        if (SourceAddress is not null)
        {
            CheckFamily(Family, SourceAddress, w.WithKey("source-addr"));
        }

        if (!ConfigValues.HelperFitsProtocol(Helper, Protocol))
        {
            throw w.WithKey("helper").Error(
                Where.Quote(Helper) + " cannot be used with protocol " + Where.Quote(ConfigValues.Text(ConfigValues.Protocols, Protocol)));
        }

        if (Scheduler is SchedulerKind.Hash or SchedulerKind.SymHash && SchedParam == HashFields.None)
        {
            SchedParam = HashFields.SrcIp;
        }

        var backends = ImmutableArray.CreateBuilder<BackendConfig>(Backends.Count);
        for (var i = 0; i < Backends.Count; i++)
        {
            backends.Add(Backends[i].Build(this, w.ForBackend(Backends[i].Name, i)));
        }

        for (var i = 0; i < Sessions.Count; i++)
        {
            var s = Sessions[i];
            if (FindBackend(s.Backend) < 0)
            {
                throw w.ForSession(s.Client, i).WithKey("backend").Error("no backend named " + Where.Quote(s.Backend) + " in this farm");
            }
        }

        if (!Dirty && Original is not null && !Backends.Exists(b => b.Dirty))
        {
            return Original;
        }

        return new FarmConfig
        {
            Name = Name,
            Family = Family,
            VirtualAddress = VirtualAddress,
            VirtualPorts = VirtualPorts,
            SourceAddress = SourceAddress,
            Mode = Mode,
            Protocol = Protocol,
            Scheduler = Scheduler,
            SchedParam = SchedParam,
            Persistence = Persistence,
            PersistTtlSeconds = PersistTtlSeconds,
            State = State,
            Priority = Priority,
            Iface = Iface,
            Oface = Oface,
            EtherAddr = EtherAddr,
            Mark = Mark,
            NewRateLimit = NewRateLimit,
            NewRateLimitBurst = NewRateLimitBurst,
            RstRateLimit = RstRateLimit,
            RstRateLimitBurst = RstRateLimitBurst,
            EstConnLimit = EstConnLimit,
            TcpStrict = TcpStrict,
            LimitsTtlSeconds = LimitsTtlSeconds,
            Helper = Helper,
            Log = Log,
            HealthCheck = HealthCheck,
            Backends = backends.MoveToImmutable(),
            Sessions = [.. Sessions],
            Policies = [.. Policies],
            Extras = Extras.ToImmutableSortedDictionary(StringComparer.Ordinal),
        };
    }

    public static void CheckFamily(AddressFamilyKind family, IPAddress ip, Where w)
    {
        if (!ConfigValues.FamilyAllows(family, ip))
        {
            throw w.Error(ip + " is an " + ConfigValues.FamilyName(ip) + " address, but the farm's family is "
                + Where.Quote(ConfigValues.Text(ConfigValues.Families, family)));
        }
    }
}

/// <summary>A mutable backend being built by <see cref="ConfigParser.Apply"/>.</summary>
internal sealed class BackendDraft : ISharedDraft
{
    public BackendDraft(string name) => Name = name;

    public BackendConfig? Original { get; private init; }

    public bool Dirty { get; set; }

    public string Name { get; }

    public IPAddress? Address { get; set; }

    public ushort Port { get; set; }

    public int Weight { get; set; } = 1;

    public int Priority { get; set; } = 1;

    public ObjectState State { get; set; }

    public IPAddress? SourceAddress { get; set; }

    public uint Mark { get; set; }

    public int EstConnLimit { get; set; }

    public string? EtherAddr { get; set; }

    public HealthCheckConfig? HealthCheck { get; set; }

    public SortedDictionary<string, string> Extras { get; } = new(StringComparer.Ordinal);

    public static BackendDraft From(BackendConfig b)
    {
        var d = new BackendDraft(b.Name)
        {
            Original = b,
            Address = b.Address,
            Port = b.Port,
            Weight = b.Weight,
            Priority = b.Priority,
            State = b.State,
            SourceAddress = b.SourceAddress,
            Mark = b.Mark,
            EstConnLimit = b.EstConnLimit,
            EtherAddr = b.EtherAddr,
            HealthCheck = b.HealthCheck,
        };
        foreach (var (k, v) in b.Extras)
        {
            d.Extras[k] = v;
        }

        return d;
    }

    public BackendConfig Build(FarmDraft farm, Where w)
    {
        if (Address is null)
        {
            throw w.Error("missing key \"ip-addr\" (a new backend needs one)");
        }

        FarmDraft.CheckFamily(farm.Family, Address, w.WithKey("ip-addr"));
        var check = HealthCheck ?? farm.HealthCheck;
        if (check is { Type: HealthCheckType.Tcp or HealthCheckType.Http } && check.Port == 0 && Port == 0 && farm.VirtualPorts.IsDefaultOrEmpty)
        {
            throw w.WithKey(HealthCheck is null ? "port" : HealthCheckValues.Key + ".port").Error(
                "nothing to probe: the " + (HealthCheck is null ? "farm's" : "backend's") + " health check needs a port (the farm takes every port and the backend has no \"port\")");
        }

        if (SourceAddress is not null && SourceAddress.AddressFamily != Address.AddressFamily)
        {
            throw w.WithKey("source-addr").Error(SourceAddress + " is an " + ConfigValues.FamilyName(SourceAddress)
                + " address, but the backend's ip-addr " + Address + " is " + ConfigValues.FamilyName(Address));
        }

        if (!Dirty && Original is not null)
        {
            return Original;
        }

        return new BackendConfig
        {
            Name = Name,
            Address = Address,
            Port = Port,
            Weight = Weight,
            Priority = Priority,
            State = State,
            SourceAddress = SourceAddress,
            Mark = Mark,
            EstConnLimit = EstConnLimit,
            EtherAddr = EtherAddr,
            HealthCheck = HealthCheck,
            Extras = Extras.ToImmutableSortedDictionary(StringComparer.Ordinal),
        };
    }
}
