namespace UserLB.Cli.Api.Nftlb;

/// <summary>When nftlb prints a key: always, once set, when switched on, or never (accepted, kept, not shown).</summary>
internal enum NftlbShow
{
    Always,
    WhenSet,
    WhenOn,
    Never,
}

/// <summary>One key of an nftlb object: its default, how its value is read (null: not a valid value) and when it is printed.</summary>
internal sealed record NftlbKey(string Name, string Default, Func<string, List<string>, string?> Read, NftlbShow Show = NftlbShow.Always);

/// <summary>The keys of nftlb's farms, backends, addresses and policies, in the order nftlb prints them.</summary>
internal static class NftlbKeys
{
    public static readonly NftlbKey[] Farm =
    [
        Enum("family", "ipv4", NftlbValues.Families),
        Text("virtual-addr"),
        Text("virtual-ports"),
        Text("source-addr"),
        Enum("mode", "snat", NftlbValues.Modes),
        Number("responsettl", "60"), // printed after mode, for stlsdnat farms only
        Enum("protocol", "tcp", NftlbValues.Protocols),
        Enum("scheduler", "rr", NftlbValues.Schedulers),
        Fields("sched-param", NftlbValues.HashFields),
        Fields("persistence", NftlbValues.HashFields),
        Number("persist-ttl", "60"),
        Enum("helper", "none", NftlbValues.Helpers),
        Fields("log", NftlbValues.LogHooks),
        Text("log-prefix", NftlbShow.WhenSet),
        Rate("log-rtlimit"),
        new("mark", "0x0", (v, _) => NftlbValues.Mark(v)),
        Number("priority", "1"),
        Enum("state", "up", NftlbValues.FarmStates),
        Number("limits-ttl", "120"),
        Rate("new-rtlimit"),
        Number("new-rtlimit-burst", "0"),
        Text("new-rtlimit-log-prefix", NftlbShow.WhenSet),
        Rate("rst-rtlimit"),
        Number("rst-rtlimit-burst", "0"),
        Text("rst-rtlimit-log-prefix", NftlbShow.WhenSet),
        Number("est-connlimit", "0"),
        Text("est-connlimit-log-prefix", NftlbShow.WhenSet),
        Enum("tcp-strict", "off", NftlbValues.Switches),
        Text("tcp-strict-log-prefix", NftlbShow.WhenSet),
        Number("queue", "-1"),
        new("verdict", "log drop accept", NftlbValues.Verdict),
        Enum("flow-offload", "off", NftlbValues.Switches, NftlbShow.WhenOn),
        Enum("intra-connect", "off", NftlbValues.Switches, NftlbShow.WhenOn),
        Text("iface", NftlbShow.Never),
        Text("oface", NftlbShow.Never),
        Text("ether-addr", NftlbShow.Never),
        Text("iether-addr", NftlbShow.Never),
        Text("oether-addr", NftlbShow.Never),
        Text("fqdn", NftlbShow.Never),
    ];

    public static readonly NftlbKey[] Backend =
    [
        Text("ip-addr"),
        Text("port"),
        Text("source-addr", NftlbShow.WhenSet),
        Number("weight", "1"),
        Number("priority", "1"),
        new("mark", "0x0", (v, _) => NftlbValues.Mark(v)),
        Number("est-connlimit", "0"),
        Text("est-connlimit-log-prefix", NftlbShow.WhenSet),
        Enum("state", "up", NftlbValues.BackendStates),
        Text("ether-addr", NftlbShow.Never),
        Text("iface", NftlbShow.Never),
        Text("oface", NftlbShow.Never),
    ];

    public static readonly NftlbKey[] Address =
    [
        Enum("family", "ipv4", NftlbValues.Families),
        Text("ip-addr"),
        Text("ports"),
        Enum("protocol", "tcp", NftlbValues.Protocols),
        new("verdict", "log drop accept", NftlbValues.Verdict),
        Text("log-prefix", NftlbShow.WhenSet),
        Rate("log-rtlimit"),
        Text("iface", NftlbShow.Never),
        Text("ether-addr", NftlbShow.Never),
    ];

    public static readonly NftlbKey[] Policy =
    [
        Enum("family", "ipv4", NftlbValues.Families),
        Enum("type", "blacklist", NftlbValues.PolicyTypes),
        Enum("route", "in", NftlbValues.Routes),
        Number("timeout", "0"),
        Text("log-prefix", NftlbShow.WhenSet),
        Number("priority", "1", NftlbShow.Never),
    ];

    /// <summary>Keys nftlb prints that a document may carry back: accepted and ignored.</summary>
    public static bool IsOutputOnly(string key) => key is "used" or "counter-packets" or "counter-bytes" or "expiration" or "health";

    public static NftlbKey? Find(NftlbKey[] keys, string name) => Array.Find(keys, k => k.Name == name);

    private static NftlbKey Text(string name, NftlbShow show = NftlbShow.Always) => new(name, "", (v, _) => v, show);

    private static NftlbKey Number(string name, string fallback, NftlbShow show = NftlbShow.Always) => new(name, fallback, (v, _) => NftlbValues.Number(v), show);

    private static NftlbKey Rate(string name) => new(name, "0/second", (v, _) => NftlbValues.Rate(v));

    private static NftlbKey Enum(string name, string fallback, string[] known, NftlbShow show = NftlbShow.Always) =>
        new(name, fallback, (v, warnings) => NftlbValues.Enum(v, name, known, fallback, warnings), show);

    private static NftlbKey Fields(string name, string[] known) =>
        new(name, "none", (v, warnings) => NftlbValues.Fields(v, name, known, "none", warnings));
}
