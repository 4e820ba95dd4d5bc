using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;

namespace UserLB.Engine.Rules;

/// <summary>
/// What the kernel rulesets are generated from: per farm, the backends with the marks the engine gives them (from
/// <see cref="EngineSnapshot.Build"/> on a fresh id registry, so 0x200 + the backend's position in the document unless
/// it has a <c>mark</c>), and the candidates that take new connections (state up, weight &gt; 0, priority within the
/// farm's level).
/// </summary>
internal sealed record RulesFarm(
    FarmConfig Config,
    bool IsV6,
    ImmutableArray<RulesBackend> Backends,
    ImmutableArray<RulesBackend> Candidates,
    ImmutableArray<string> Protocols,
    bool SynProxy = false)
{
    public string Name => Config.Name;

    /// <summary>The farm's policies in its order (those the configuration has).</summary>
    public ImmutableArray<PolicyConfig> Policies { get; init; } = ImmutableArray<PolicyConfig>.Empty;

    /// <summary>The farm's <c>verdict</c> (default <c>log drop accept</c>): what a policy that matches does.</summary>
    public string Verdict => Config.Extras.TryGetValue("verdict", out var v) ? v : "log drop accept";

    /// <summary>The comment of a SYN-proxied farm's raw and filter rules.</summary>
    public string SynProxyComment => string.Create(CultureInfo.InvariantCulture, $"FARM_{Name}_synproxy_");

    public string VirtualAddress => Config.VirtualAddress.ToString();

    /// <summary>dsr and stlsdnat: forwarded at layer 2 from the netdev ingress hook, as nftlb does (no conntrack).</summary>
    public bool IsNetdev => Config.Mode is FarmMode.Dsr or FarmMode.StlsDnat;

    public static ImmutableArray<RulesFarm> From(LoadBalancerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var snapshot = EngineSnapshot.Build(config, new IdRegistry(), null, 0);
        var result = ImmutableArray.CreateBuilder<RulesFarm>();
        foreach (var f in snapshot.Farms)
        {
            var all = ImmutableArray.CreateBuilder<RulesBackend>();
            foreach (var b in f.Backends) all.Add(RulesBackend.From(f, b));
            var candidates = ImmutableArray.CreateBuilder<RulesBackend>();
            foreach (var c in f.Candidates) candidates.Add(all[c.Index]);
            ImmutableArray<string> protocols = f.Config.Protocol switch
            {
                FarmProtocol.Tcp => ["tcp"],
                FarmProtocol.Udp => ["udp"],
                FarmProtocol.Sctp => ["sctp"],
                _ => ["tcp", "udp", "sctp"],
            };
            result.Add(new RulesFarm(f.Config, f.Config.VirtualAddress.AddressFamily == AddressFamily.InterNetworkV6,
                all.ToImmutable(), candidates.ToImmutable(), protocols, f.SynProxy && protocols.Contains("tcp"))
            {
                Policies = [.. f.Config.Policies.Select(config.FindPolicy).Where(p => p is not null).Select(p => p!)],
            });
        }
        return result.ToImmutable();
    }

    /// <summary>Exact shares with last-match-wins: candidate i of n gets w_i / (w_i + … + w_{n-1}).</summary>
    public double ProbabilityOf(int candidate)
    {
        long rest = 0;
        for (int j = candidate; j < Candidates.Length; j++) rest += Candidates[j].Weight;
        return rest == 0 ? 0 : (double)Candidates[candidate].Weight / rest;
    }

    public long TotalWeight
    {
        get
        {
            long total = 0;
            foreach (var c in Candidates) total += c.Weight;
            return total;
        }
    }
}

internal sealed record RulesBackend(string Name, int Index, uint Mark, IPAddress Address, ushort Port, int Weight, IPAddress? SnatAddress, string? EtherAddr = null)
{
    public string Comment(string farm) => string.Create(CultureInfo.InvariantCulture, $"FARM_{farm}_{Index}_");

    public static RulesBackend From(FarmRuntime farm, BackendRuntime b)
    {
        IPAddress? snat = null;
        if (farm.SourceNat) snat = b.Config.SourceAddress ?? farm.Config.SourceAddress ?? farm.Config.VirtualAddress;
        return new RulesBackend(b.Name, b.Index, b.Mark, b.Config.Address, b.Port, b.Weight, snat, b.Config.EtherAddr);
    }
}
