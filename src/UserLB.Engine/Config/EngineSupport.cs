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
            if (f.Mode is not (FarmMode.Snat or FarmMode.Dnat))
                throw new ConfigException($"farm \"{f.Name}\", key \"mode\": \"{f.Mode.ToString().ToLowerInvariant()}\" is not supported by UserLB (use snat or dnat)");
        }
    }
}
