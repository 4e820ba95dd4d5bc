using System.Collections.Frozen;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>
/// One key of a farm or a backend: its name, how a JSON value is read (into a setter of the draft, so that a rejected
/// document changes nothing) and how the configured value is written back.
/// </summary>
internal sealed class ConfigKey<TDraft, TConfig>(string name, Func<JsonElement, Where, Action<TDraft>> read, Action<Utf8JsonWriter, TConfig> write)
{
    public string Name => name;

    public Action<TDraft> Read(JsonElement value, Where w) => read(value, w);

    public void Write(Utf8JsonWriter w, TConfig config) => write(w, config);
}

/// <summary>The draft side of the keys farms and backends share.</summary>
internal interface ISharedDraft
{
    IPAddress? SourceAddress { get; set; }

    int Priority { get; set; }

    uint Mark { get; set; }

    int EstConnLimit { get; set; }

    ObjectState State { get; set; }

    string? EtherAddr { get; set; }

    HealthCheckConfig? HealthCheck { get; set; }
}

/// <summary>The configuration side of the keys farms and backends share.</summary>
internal interface ISharedConfig
{
    IPAddress? SourceAddress { get; }

    int Priority { get; }

    uint Mark { get; }

    int EstConnLimit { get; }

    ObjectState State { get; }

    string? EtherAddr { get; }

    HealthCheckConfig? HealthCheck { get; }
}

/// <summary>
/// The keys of farms and backends as one table each (name, read, write), in the order they are written; the keys both
/// have are defined once (<see cref="Shared{TDraft, TConfig}"/>). <see cref="ConfigParser"/> reads and writes through
/// these tables, and the keys UserLB keeps verbatim without acting on them (<see cref="FarmExtras"/>,
/// <see cref="BackendExtras"/>) are listed here too.
/// </summary>
internal static class ConfigKeys
{
    /// <summary>A key whose value is a JSON string (or a number or boolean, read as text), printed as a string; a null print omits the key.</summary>
    private static ConfigKey<TDraft, TConfig> Text<TDraft, TConfig, T>(string name, Func<string, Where, T> parse, Action<TDraft, T> set, Func<TConfig, string?> print) =>
        Json(name, (v, w) => parse(ConfigValues.Scalar(v, w), w), set, print);

    /// <summary>A key whose value is read from the JSON element itself (a list, a boolean, a number with its own meaning).</summary>
    private static ConfigKey<TDraft, TConfig> Json<TDraft, TConfig, T>(string name, Func<JsonElement, Where, T> parse, Action<TDraft, T> set, Func<TConfig, string?> print) =>
        new(name,
            (v, w) =>
            {
                var x = parse(v, w);
                return d => set(d, x);
            },
            (w, c) =>
            {
                if (print(c) is { } text)
                {
                    w.WriteString(name, text);
                }
            });

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The keys farms and backends share, for either.</summary>
    internal static class Shared<TDraft, TConfig>
        where TDraft : ISharedDraft
        where TConfig : ISharedConfig
    {
        public static readonly ConfigKey<TDraft, TConfig> SourceAddr = Text<TDraft, TConfig, IPAddress?>("source-addr", ConfigValues.OptionalIp, (d, x) => d.SourceAddress = x, c => c.SourceAddress?.ToString() ?? string.Empty);

        public static readonly ConfigKey<TDraft, TConfig> Priority = Text<TDraft, TConfig, int>("priority", (s, w) => ConfigValues.Int(s, w, 1), (d, x) => d.Priority = x, c => Int(c.Priority));

        public static readonly ConfigKey<TDraft, TConfig> Mark = Json<TDraft, TConfig, uint>("mark", ConfigValues.Mark, (d, x) => d.Mark = x, c => ConfigValues.PrintMark(c.Mark));

        public static readonly ConfigKey<TDraft, TConfig> EstConnLimit = Text<TDraft, TConfig, int>("est-connlimit", (s, w) => ConfigValues.Int(s, w, 0), (d, x) => d.EstConnLimit = x, c => Int(c.EstConnLimit));

        public static readonly ConfigKey<TDraft, TConfig> State = Text<TDraft, TConfig, ObjectState>("state", (s, w) => ConfigValues.Enum(ConfigValues.States, s, w), (d, x) => d.State = x, c => ConfigValues.Text(ConfigValues.States, c.State));

        public static readonly ConfigKey<TDraft, TConfig> EtherAddr = Text<TDraft, TConfig, string?>("ether-addr", ConfigValues.Mac, (d, x) => d.EtherAddr = x, c => c.EtherAddr);

        public static readonly ConfigKey<TDraft, TConfig> HealthCheck = new(HealthCheckValues.Key,
            (v, w) =>
            {
                var x = HealthCheckValues.Parse(v, w);
                return d => d.HealthCheck = x;
            },
            (w, c) =>
            {
                if (c.HealthCheck is { } hc)
                {
                    HealthCheckValues.Write(w, hc);
                }
            });
    }

    /// <summary>A farm's keys, in the order they are written (after <c>name</c>; the extras, backends and sessions follow).</summary>
    public static readonly ConfigKey<FarmDraft, FarmConfig>[] Farm =
    [
        Text<FarmDraft, FarmConfig, AddressFamilyKind>("family", (s, w) => ConfigValues.Enum(ConfigValues.Families, s, w), (d, x) => d.Family = x, f => ConfigValues.Text(ConfigValues.Families, f.Family)),
        Text<FarmDraft, FarmConfig, IPAddress>("virtual-addr", ConfigValues.Ip, (d, x) => d.VirtualAddress = x, f => f.VirtualAddress.ToString()),
        Json<FarmDraft, FarmConfig, System.Collections.Immutable.ImmutableArray<PortRange>>("virtual-ports", (v, w) => ConfigValues.PortList(ConfigValues.ScalarOrList(v, w, ','), w), (d, x) => d.VirtualPorts = x, f => ConfigValues.PrintPorts(f.VirtualPorts)),
        Shared<FarmDraft, FarmConfig>.SourceAddr,
        Text<FarmDraft, FarmConfig, FarmMode>("mode", (s, w) => ConfigValues.Enum(ConfigValues.Modes, s, w), (d, x) => d.Mode = x, f => ConfigValues.Text(ConfigValues.Modes, f.Mode)),
        Text<FarmDraft, FarmConfig, FarmProtocol>("protocol", (s, w) => ConfigValues.Enum(ConfigValues.Protocols, s, w), (d, x) => d.Protocol = x, f => ConfigValues.Text(ConfigValues.Protocols, f.Protocol)),
        Text<FarmDraft, FarmConfig, SchedulerKind>("scheduler", (s, w) => ConfigValues.Enum(ConfigValues.Schedulers, s, w), (d, x) => d.Scheduler = x, f => ConfigValues.Text(ConfigValues.Schedulers, f.Scheduler)),
        Json<FarmDraft, FarmConfig, HashFields>("sched-param", (v, w) => ConfigValues.HashFieldSet(ConfigValues.ScalarOrList(v, w, ' '), w), (d, x) => d.SchedParam = x, f => ConfigValues.PrintHashFields(f.SchedParam)),
        Json<FarmDraft, FarmConfig, HashFields>("persistence", (v, w) => ConfigValues.HashFieldSet(ConfigValues.ScalarOrList(v, w, ' '), w), (d, x) => d.Persistence = x, f => ConfigValues.PrintHashFields(f.Persistence)),
        Text<FarmDraft, FarmConfig, int>("persist-ttl", (s, w) => ConfigValues.Int(s, w, 0), (d, x) => d.PersistTtlSeconds = x, f => Int(f.PersistTtlSeconds)),
        Text<FarmDraft, FarmConfig, string>("helper", ConfigValues.Helper, (d, x) => d.Helper = x, f => f.Helper),
        Json<FarmDraft, FarmConfig, LogTargets>("log", ConfigValues.Log, (d, x) => d.Log = x, f => ConfigValues.PrintLog(f.Log)),
        Shared<FarmDraft, FarmConfig>.Mark,
        Shared<FarmDraft, FarmConfig>.Priority,
        Shared<FarmDraft, FarmConfig>.State,
        Text<FarmDraft, FarmConfig, int>("limits-ttl", (s, w) => ConfigValues.Int(s, w, 0), (d, x) => d.LimitsTtlSeconds = x, f => Int(f.LimitsTtlSeconds)),
        Text<FarmDraft, FarmConfig, int>("new-rtlimit", ConfigValues.RatePerSecond, (d, x) => d.NewRateLimit = x, f => ConfigValues.PrintRate(f.NewRateLimit)),
        Text<FarmDraft, FarmConfig, int>("new-rtlimit-burst", (s, w) => ConfigValues.Int(s, w, 0), (d, x) => d.NewRateLimitBurst = x, f => Int(f.NewRateLimitBurst)),
        Text<FarmDraft, FarmConfig, int>("rst-rtlimit", ConfigValues.RatePerSecond, (d, x) => d.RstRateLimit = x, f => ConfigValues.PrintRate(f.RstRateLimit)),
        Text<FarmDraft, FarmConfig, int>("rst-rtlimit-burst", (s, w) => ConfigValues.Int(s, w, 0), (d, x) => d.RstRateLimitBurst = x, f => Int(f.RstRateLimitBurst)),
        Shared<FarmDraft, FarmConfig>.EstConnLimit,
        Json<FarmDraft, FarmConfig, bool>("tcp-strict", ConfigValues.Switch, (d, x) => d.TcpStrict = x, f => ConfigValues.PrintSwitch(f.TcpStrict)),
        Text<FarmDraft, FarmConfig, string?>("iface", ConfigValues.Iface, (d, x) => d.Iface = x, f => f.Iface),
        Text<FarmDraft, FarmConfig, string?>("oface", ConfigValues.Iface, (d, x) => d.Oface = x, f => f.Oface),
        Shared<FarmDraft, FarmConfig>.EtherAddr,
        Shared<FarmDraft, FarmConfig>.HealthCheck,
    ];

    /// <summary>A backend's keys, in the order they are written (after <c>name</c>; the extras follow).</summary>
    public static readonly ConfigKey<BackendDraft, BackendConfig>[] Backend =
    [
        Text<BackendDraft, BackendConfig, IPAddress>("ip-addr", ConfigValues.Ip, (d, x) => d.Address = x, b => b.Address.ToString()),
        Text<BackendDraft, BackendConfig, ushort>("port", ConfigValues.Port, (d, x) => d.Port = x, b => b.Port == 0 ? string.Empty : Int(b.Port)),
        Shared<BackendDraft, BackendConfig>.SourceAddr,
        Text<BackendDraft, BackendConfig, int>("weight", (s, w) => ConfigValues.Int(s, w, 0), (d, x) => d.Weight = x, b => Int(b.Weight)),
        Shared<BackendDraft, BackendConfig>.Priority,
        Shared<BackendDraft, BackendConfig>.Mark,
        Shared<BackendDraft, BackendConfig>.EstConnLimit,
        Shared<BackendDraft, BackendConfig>.State,
        Shared<BackendDraft, BackendConfig>.EtherAddr,
        Shared<BackendDraft, BackendConfig>.HealthCheck,
    ];

    public static readonly FrozenDictionary<string, ConfigKey<FarmDraft, FarmConfig>> FarmByName = Farm.ToFrozenDictionary(k => k.Name, StringComparer.Ordinal);

    public static readonly FrozenDictionary<string, ConfigKey<BackendDraft, BackendConfig>> BackendByName = Backend.ToFrozenDictionary(k => k.Name, StringComparer.Ordinal);

    /// <summary>Keys nftlb accepts on a farm that UserLB keeps verbatim without acting on them, with how each value is
    /// checked and normalized ("" removes the key).</summary>
    public static readonly FrozenDictionary<string, Func<JsonElement, Where, string>> FarmExtras = new Dictionary<string, Func<JsonElement, Where, string>>
    {
        ["fqdn"] = AnyText,
        ["log-prefix"] = AnyText,
        ["new-rtlimit-log-prefix"] = AnyText,
        ["rst-rtlimit-log-prefix"] = AnyText,
        ["est-connlimit-log-prefix"] = AnyText,
        ["tcp-strict-log-prefix"] = AnyText,
        ["iether-addr"] = (v, w) => ConfigValues.Mac(ConfigValues.Scalar(v, w), w) ?? string.Empty,
        ["oether-addr"] = (v, w) => ConfigValues.Mac(ConfigValues.Scalar(v, w), w) ?? string.Empty,
        ["responsettl"] = (v, w) => ConfigValues.NonNegativeText(ConfigValues.Scalar(v, w), w),
        ["log-rtlimit"] = (v, w) => ConfigValues.AnyRateText(ConfigValues.Scalar(v, w), w),
        ["queue"] = (v, w) => ConfigValues.QueueText(ConfigValues.Scalar(v, w), w),
        ["flow-offload"] = Switch,
        ["intra-connect"] = Switch,
        ["synproxy"] = Switch,
        ["verdict"] = (v, w) => ConfigValues.VerdictText(ConfigValues.ScalarOrList(v, w, ' '), w),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Keys nftlb accepts on a backend that UserLB keeps verbatim.</summary>
    public static readonly FrozenDictionary<string, Func<JsonElement, Where, string>> BackendExtras = new Dictionary<string, Func<JsonElement, Where, string>>
    {
        ["fqdn"] = AnyText,
        ["est-connlimit-log-prefix"] = AnyText,
        ["oface"] = (v, w) => ConfigValues.Iface(ConfigValues.Scalar(v, w), w) ?? string.Empty,
        ["tunnel"] = (v, w) => ConfigValues.TunnelText(ConfigValues.Scalar(v, w), w),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static string AnyText(JsonElement v, Where w) => ConfigValues.AnyText(ConfigValues.Scalar(v, w), w);

    private static string Switch(JsonElement v, Where w) => ConfigValues.PrintSwitch(ConfigValues.Switch(v, w));

    /// <summary>The setter of a key: a table key's, or an extra's (kept verbatim); null when the key is unknown.</summary>
    public static Action<TDraft>? Setter<TDraft, TConfig>(string key, JsonElement value, Where w,
        FrozenDictionary<string, ConfigKey<TDraft, TConfig>> keys, FrozenDictionary<string, Func<JsonElement, Where, string>> extras,
        Func<TDraft, SortedDictionary<string, string>> extrasOf)
    {
        if (keys.TryGetValue(key, out var k))
        {
            return k.Read(value, w);
        }

        if (!extras.TryGetValue(key, out var read))
        {
            return null;
        }

        var text = read(value, w);
        return text.Length == 0 ? d => extrasOf(d).Remove(key) : d => extrasOf(d)[key] = text;
    }
}
