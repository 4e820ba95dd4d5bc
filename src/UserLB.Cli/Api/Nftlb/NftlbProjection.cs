using System.Buffers;
using System.Text;
using System.Text.Json;
using UserLB.Engine.Config;
using UserLB.IO.Routes;
using UserLB.Packets;

namespace UserLB.Cli.Api.Nftlb;

/// <summary>What the engine runs of the API's objects, and what it does not.</summary>
/// <param name="Config">The farms the engine runs.</param>
/// <param name="Unplaced">Stored farms the engine does not run, with the reason.</param>
/// <param name="NotEnforced">Stored keys and objects the engine does not act on, as "farm NAME: what".</param>
internal sealed record NftlbPlacement(LoadBalancerConfig Config, IReadOnlyDictionary<string, string> Unplaced, IReadOnlyList<string> NotEnforced)
{
    /// <summary>The text each placed farm was built from, and the farm.</summary>
    internal Dictionary<string, (string Text, FarmConfig Farm)> Built { get; init; } = [];

    /// <summary>Each policy's configuration, by name.</summary>
    internal Dictionary<string, PolicyConfig> PolicyConfigs { get; init; } = [];
}

/// <summary>
/// Turns the API's nftlb objects into the engine's configuration: each farm that can be placed (an interface this
/// <c>userlb run</c> owns, a virtual address, a mode the engine forwards) becomes a <see cref="FarmConfig"/> through
/// <see cref="ConfigParser"/>; the others stay stored and are reported by name. A farm whose text did not change keeps
/// its <see cref="FarmConfig"/> instance, so unchanged farms are not rebuilt. A farm without <c>iface</c> or <c>oface</c>
/// is placed by <see cref="RoutePlacement"/>: on <paramref name="defaultIface"/> (<c>userlb run --iface</c>) and by the
/// routes of <paramref name="routes"/> (null, or returning null: by its keys and <paramref name="defaultIface"/> only).
/// Policies become <see cref="PolicyConfig"/>s (an unchanged one keeps its instance, so the engine keeps its compiled
/// form); a farm checks its addresses' policies and then its own.
/// </summary>
internal sealed class NftlbProjection(IReadOnlyList<string> ports, string? defaultIface = null, Func<RouteTable?>? routes = null)
{
    /// <summary>Farm keys passed to the engine's configuration as they are (the virtual service comes from the first address).</summary>
    private static readonly string[] EngineKeys =
    [
        "source-addr", "mode", "scheduler", "sched-param", "persistence", "persist-ttl", "helper", "log", "log-prefix", "log-rtlimit",
        "mark", "priority", "state", "limits-ttl", "new-rtlimit-burst", "new-rtlimit-log-prefix", "rst-rtlimit-burst", "rst-rtlimit-log-prefix",
        "est-connlimit", "est-connlimit-log-prefix", "tcp-strict", "tcp-strict-log-prefix", "queue", "verdict", "flow-offload", "intra-connect",
        "iface", "oface", "ether-addr", "iether-addr", "oether-addr", "fqdn", "responsettl",
    ];

    private static readonly string[] BackendKeys = ["ip-addr", "port", "source-addr", "weight", "priority", "mark", "est-connlimit", "state", "ether-addr"];

    private Dictionary<string, (string Text, FarmConfig Farm)> _built = new(StringComparer.Ordinal);
    private Dictionary<string, PolicyConfig> _policies = new(StringComparer.Ordinal);

    /// <exception cref="ConfigException">A placeable farm's values are not valid for the engine.</exception>
    public NftlbPlacement Place(NftlbState state)
    {
        var farms = new List<FarmConfig>();
        var unplaced = new Dictionary<string, string>(StringComparer.Ordinal);
        var notEnforced = new List<string>();
        var built = new Dictionary<string, (string Text, FarmConfig Farm)>(StringComparer.Ordinal);
        var table = routes?.Invoke();
        foreach (var f in state.Farms)
        {
            Describe(f, notEnforced);
            var placed = Ports(state, f, table);
            if (placed.Reason is null && WhyNotPlaced(state, f) is { } why) placed = FarmPorts.Unplaced(why);
            if (placed.Reason is { } reason)
            {
                unplaced[f.Name] = reason;
                continue;
            }
            var policies = PoliciesOf(state, f);
            string text = Text(state, f, placed, notEnforced);
            string key = text + "\npolicies: " + string.Join(",", policies); // what the farm is built from
            if (!_built.TryGetValue(f.Name, out var previous) || previous.Text != key)
            {
                var farm = ConfigParser.Parse(text).Farms[0] with { Policies = [.. policies] };
                try
                {
                    EngineSupport.Validate(new LoadBalancerConfig { Farms = [farm] });
                }
                catch (ConfigException ex)
                {
                    unplaced[f.Name] = ex.Message;
                    continue;
                }
                previous = (key, farm);
            }
            built[f.Name] = previous;
            farms.Add(previous.Farm);
        }
        var policyConfigs = new Dictionary<string, PolicyConfig>(StringComparer.Ordinal);
        foreach (var p in state.Policies)
        {
            var config = ToConfig(p);
            policyConfigs[p.Name] = _policies.TryGetValue(p.Name, out var old) && old.Equals(config) ? old : config;
        }
        // The engine gets the policies its farms check (those of farms not placed change nothing in it).
        var used = new HashSet<string>(farms.SelectMany(f => f.Policies), StringComparer.Ordinal);
        var loadBalancer = new LoadBalancerConfig { Farms = [.. farms], Policies = [.. state.Policies.Where(p => used.Contains(p.Name)).Select(p => policyConfigs[p.Name])] };
        return new NftlbPlacement(loadBalancer, unplaced, notEnforced) { Built = built, PolicyConfigs = policyConfigs };
    }

    /// <summary>Keeps the farms and policies built for <paramref name="placement"/> for the next placement (once the engine runs it).</summary>
    public void Commit(NftlbPlacement placement)
    {
        _built = placement.Built;
        _policies = placement.PolicyConfigs;
    }

    /// <summary>The policies a farm checks: those of its addresses (their traffic's) first, then its own, each once.</summary>
    private static List<string> PoliciesOf(NftlbState state, NftlbFarm f)
    {
        var names = new List<string>();
        foreach (var a in f.Addresses)
        {
            if (state.Address(a) is not { } address) continue;
            foreach (var p in address.Policies)
                if (!names.Contains(p)) names.Add(p);
        }
        foreach (var p in f.Policies)
            if (!names.Contains(p)) names.Add(p);
        return names;
    }

    /// <summary>An API policy as the engine's configuration.</summary>
    private static PolicyConfig ToConfig(NftlbPolicy p) => new()
    {
        Name = p.Name,
        Type = p.Get("type", "blacklist") == "whitelist" ? PolicyType.Whitelist : PolicyType.Blacklist,
        Family = p.Get("family", "ipv4") == "ipv6" ? AddressFamilyKind.Ipv6 : AddressFamilyKind.Ipv4,
        TimeoutSeconds = int.TryParse(p.Get("timeout", "0"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int t) ? t : 0,
        Priority = int.TryParse(p.Get("priority", "1"), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prio) && prio > 0 ? prio : 1,
        Route = p.Get("route", "in"),
        LogPrefix = p.Values.TryGetValue("log-prefix", out var prefix) ? prefix : null,
        Elements = [.. p.Elements],
    };

    /// <summary>The farm's interfaces: its keys, --iface, and the routes to its backends and virtual address.</summary>
    private FarmPorts Ports(NftlbState state, NftlbFarm f, RouteTable? table)
    {
        var backends = new List<(string, IpAddr)>(f.Backends.Count);
        foreach (var b in f.Backends)
            if (System.Net.IPAddress.TryParse(b.Get("ip-addr"), out var a)) backends.Add((b.Name, IpAddr.FromIPAddress(a)));
        IpAddr? vip = f.Addresses.Count > 0 && System.Net.IPAddress.TryParse(state.Address(f.Addresses[0])?.Get("ip-addr"), out var v) ? IpAddr.FromIPAddress(v) : null;
        return RoutePlacement.Place(f.Get("iface"), f.Get("oface"), vip, backends, table, ports, defaultIface);
    }

    private static string? WhyNotPlaced(NftlbState state, NftlbFarm f)
    {
        var first = f.Addresses.Count > 0 ? state.Address(f.Addresses[0]) : null;
        if (first is null || first.Get("ip-addr").Length == 0) return "no virtual address";
        if (f.Get("state", "up") == "config_error") return "state config_error";
        return null;
    }

    /// <summary>What nftlb would do with the farm that the engine does not: said in the log, never silently dropped.</summary>
    private static void Describe(NftlbFarm f, List<string> notEnforced)
    {
        if (f.Addresses.Count > 1) notEnforced.Add($"farm {f.Name}: addresses after the first ({string.Join(", ", f.Addresses.Skip(1))})");
    }

    /// <summary>The farm as a document for <see cref="ConfigParser"/>.</summary>
    private static string Text(NftlbState state, NftlbFarm f, FarmPorts placed, List<string> notEnforced)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("farms");
            w.WriteStartObject();
            w.WriteString("name", f.Name);
            var first = state.Address(f.Addresses[0])!;
            w.WriteString("family", first.Get("family", "ipv4"));
            w.WriteString("virtual-addr", first.Get("ip-addr"));
            if (first.Get("ports") is { Length: > 0 } ports) w.WriteString("virtual-ports", ports);
            w.WriteString("protocol", first.Get("protocol", "tcp"));
            foreach (var key in EngineKeys)
                if (f.Values.TryGetValue(key, out var v) && v.Length > 0 && v != NftlbKeys.Find(NftlbKeys.Farm, key)?.Default) w.WriteString(key, v.TrimEnd());
            if (f.Get("iface").Length == 0) w.WriteString("iface", placed.Iface);
            if (f.Get("oface").Length == 0 && placed.Oface != placed.Iface) w.WriteString("oface", placed.Oface);
            foreach (var key in (string[])["new-rtlimit", "rst-rtlimit"])
            {
                if (!f.Values.TryGetValue(key, out var rate) || rate == "0/second") continue;
                if (rate.EndsWith("/second", StringComparison.Ordinal)) w.WriteString(key, rate);
                else notEnforced.Add($"farm {f.Name}: {key} {rate} (the engine takes rates per second)");
            }
            foreach (var (key, json) in f.Extensions)
            {
                w.WritePropertyName(key);
                w.WriteRawValue(json);
            }
            w.WriteStartArray("backends");
            foreach (var b in f.Backends)
            {
                w.WriteStartObject();
                w.WriteString("name", b.Name);
                foreach (var key in BackendKeys)
                    if (b.Values.TryGetValue(key, out var v) && v.Length > 0 && v != NftlbKeys.Find(NftlbKeys.Backend, key)?.Default) w.WriteString(key, v);
                foreach (var (key, json) in b.Extensions)
                {
                    w.WritePropertyName(key);
                    w.WriteRawValue(json);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("sessions");
            foreach (var s in f.Sessions)
            {
                w.WriteStartObject();
                w.WriteString("client", s.Client);
                w.WriteString("backend", s.Backend);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
