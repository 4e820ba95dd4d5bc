namespace UserLB.Engine.Config;

/// <summary>What the engine can run, checked when a configuration is loaded (the parser accepts all of nftlb's format).</summary>
public static class EngineSupport
{
    /// <summary>Throws a <see cref="ConfigException"/> naming the farm and key of the first thing UserLB cannot do.</summary>
    public static void Validate(LoadBalancerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        foreach (var f in config.Farms)
        {
            switch (f.Mode)
            {
                case FarmMode.Snat or FarmMode.Dnat:
                    break;
                case FarmMode.Dsr:
                    ValidateDsr(f);
                    break;
                case FarmMode.StlsDnat:
                    ValidateStateless(f);
                    break;
                default:
                    throw Error(f, "mode", $"\"{f.Mode.ToString().ToLowerInvariant()}\" is not supported by UserLB (use snat, dnat, dsr or stlsdnat)");
            }
        }
    }

    private static void ValidateDsr(FarmConfig f)
    {
        if (f.Extras.TryGetValue("synproxy", out var sp) && sp == "on")
            throw Error(f, "synproxy", "\"on\" needs a NAT mode (snat or dnat): in dsr the backends answer the client themselves");
        foreach (var b in f.Backends)
        {
            if (!b.Extras.TryGetValue("tunnel", out var tunnel) || tunnel != "ipip") continue;
            if (b.Address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new ConfigException($"farm \"{f.Name}\", backend \"{b.Name}\", key \"tunnel\": \"ipip\" needs an IPv4 backend address (the outer header is IPv4)");
            if ((b.SourceAddress ?? f.SourceAddress) is null)
                throw new ConfigException($"farm \"{f.Name}\", backend \"{b.Name}\", key \"tunnel\": \"ipip\" needs a \"source-addr\" (farm or backend) for the outer header: the VIP is the backend's own address, which its kernel refuses as a source");
            if ((b.SourceAddress ?? f.SourceAddress)!.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new ConfigException($"farm \"{f.Name}\", backend \"{b.Name}\", key \"source-addr\": the outer source of \"tunnel\": \"ipip\" must be an IPv4 address");
        }
    }

    private static void ValidateStateless(FarmConfig f)
    {
        if (f.Scheduler is not (SchedulerKind.Hash or SchedulerKind.SymHash))
            throw Error(f, "scheduler", $"\"{SchedulerName(f.Scheduler)}\" draws per packet: stlsdnat keeps no state, so it needs hash or symhash (the same backend for every packet of a flow)");
        if (f.Persistence != HashFields.None)
            throw Error(f, "persistence", "stlsdnat keeps no state: persistence needs a NAT or dsr mode");
        bool oneVirtualPort = f.VirtualPorts.Length == 1 && f.VirtualPorts[0].First == f.VirtualPorts[0].Last;
        foreach (var b in f.Backends)
        {
            if (b.Port != 0 && !oneVirtualPort)
                throw new ConfigException($"farm \"{f.Name}\", backend \"{b.Name}\", key \"port\": a stlsdnat backend port needs exactly one virtual port (the reverse rule restores it as the replies' source port)");
        }
    }

    private static string SchedulerName(SchedulerKind s) => s switch
    {
        SchedulerKind.RoundRobin => "rr",
        SchedulerKind.Weight => "weight",
        SchedulerKind.Hash => "hash",
        _ => "symhash",
    };

    private static ConfigException Error(FarmConfig f, string key, string message) => new($"farm \"{f.Name}\", key \"{key}\": {message}");
}
