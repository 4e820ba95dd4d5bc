using System.Globalization;

namespace UserLB.Cli.Api.Nftlb;

/// <summary>Prints farms, addresses and policies as nftlb's GET does (every key, nftlb's order and formatting).</summary>
internal static class NftlbView
{
    /// <summary><c>{"farms": [...]}</c>; <paramref name="health"/> adds a backend's health-check status when it has one (UserLB's key).</summary>
    public static string Farms(NftlbState state, IEnumerable<NftlbFarm> farms, Func<string, string, string?>? health = null)
    {
        var w = new NftlbJsonWriter().StartObject().StartArray("farms");
        foreach (var f in farms) Farm(w, state, f, health);
        return w.EndArray().EndObject().ToString();
    }

    public static string Addresses(NftlbState state, IEnumerable<NftlbAddress> addresses)
    {
        var w = new NftlbJsonWriter().StartObject().StartArray("addresses");
        foreach (var a in addresses)
        {
            w.StartObject().String("name", a.Name);
            Keys(w, a, NftlbKeys.Address);
            w.String("used", Count(state.AddressUsers(a.Name)));
            Names(w, "policies", a.Policies);
            w.EndObject();
        }
        return w.EndArray().EndObject().ToString();
    }

    /// <summary><c>{"policies": [...]}</c>; <paramref name="counters"/> gives an element's packets and bytes (the engines' counts).</summary>
    public static string Policies(NftlbState state, IEnumerable<NftlbPolicy> policies, Func<string, string, (long Packets, long Bytes)>? counters = null)
    {
        var w = new NftlbJsonWriter().StartObject().StartArray("policies");
        foreach (var p in policies)
        {
            w.StartObject().String("name", p.Name);
            Keys(w, p, NftlbKeys.Policy);
            w.String("used", Count(state.PolicyUsers(p.Name)));
            w.StartArray("elements");
            foreach (var e in p.Elements)
            {
                var (packets, bytes) = counters?.Invoke(p.Name, e.Text) ?? (0, 0);
                w.StartObject().String("data", e.Text).String("counter-packets", Count(packets)).String("counter-bytes", Count(bytes)).EndObject();
            }
            w.EndArray().EndObject();
        }
        return w.EndArray().EndObject().ToString();
    }

    /// <summary>The farm's sessions: the static ones and then <paramref name="learned"/> (client, backend, seconds left).</summary>
    public static string Sessions(NftlbFarm farm, IEnumerable<(string Client, string Backend, long Expiration)> learned)
    {
        var w = new NftlbJsonWriter().StartObject().StartArray("farms").StartObject().String("name", farm.Name).StartArray("sessions");
        foreach (var s in farm.Sessions) w.StartObject().String("client", s.Client).String("backend", s.Backend).EndObject();
        foreach (var (client, backend, expiration) in learned)
            w.StartObject().String("client", client).String("backend", backend).String("expiration", Count(expiration)).EndObject();
        return w.EndArray().EndObject().EndArray().EndObject().ToString();
    }

    private static void Farm(NftlbJsonWriter w, NftlbState state, NftlbFarm f, Func<string, string, string?>? health)
    {
        w.StartObject().String("name", f.Name);
        // The virtual service nftlb shows is the farm's first address.
        var first = f.Addresses.Count > 0 ? state.Address(f.Addresses[0]) : null;
        int priority = f.EffectivePriority();
        foreach (var k in NftlbKeys.Farm)
        {
            string value = f.Get(k.Name, k.Default);
            if (first is null && k.Name is "family" or "virtual-addr" or "virtual-ports" or "protocol") continue; // no virtual service yet
            if (first is not null)
            {
                value = k.Name switch
                {
                    "family" => first.Get("family", "ipv4"),
                    "virtual-addr" => first.Get("ip-addr"),
                    "virtual-ports" => first.Get("ports"),
                    "protocol" => first.Get("protocol", "tcp"),
                    _ => value,
                };
            }
            if (k.Name == "responsettl" && f.Get("mode", "snat") != "stlsdnat") continue;
            if (k.Name == "priority") value = priority.ToString(CultureInfo.InvariantCulture);
            if (k.Name == "sched-param" && value == "none" && f.Get("scheduler") == "hash") value = "srcip "; // hash without fields hashes the client address
            if (Shown(k, f, value)) w.String(k.Name, value);
        }
        w.StartArray("addresses");
        foreach (var name in f.Addresses)
        {
            if (state.Address(name) is not { } a) continue;
            w.StartObject().String("name", a.Name).String("family", a.Get("family", "ipv4")).String("ip-addr", a.Get("ip-addr"))
                .String("ports", a.Get("ports")).String("protocol", a.Get("protocol", "tcp")).String("used", Count(state.AddressUsers(a.Name))).EndObject();
        }
        w.EndArray().StartArray("backends");
        foreach (var b in f.Backends)
        {
            w.StartObject().String("name", b.Name);
            Keys(w, b, NftlbKeys.Backend, b.Priority > priority ? "available" : null);
            if (health?.Invoke(f.Name, b.Name) is { } h) w.String("health", h);
            w.EndObject();
        }
        w.EndArray();
        Names(w, "policies", f.Policies);
        if (f.Sessions.Count > 0)
        {
            w.StartArray("sessions");
            foreach (var s in f.Sessions) w.StartObject().String("client", s.Client).String("backend", s.Backend).EndObject();
            w.EndArray();
        }
        w.EndObject();
    }

    /// <summary>The object's keys; <paramref name="standby"/> replaces an "up" state (a backend above its farm's priority).</summary>
    private static void Keys(NftlbJsonWriter w, NftlbObject o, NftlbKey[] keys, string? standby = null)
    {
        foreach (var k in keys)
        {
            string value = o.Get(k.Name, k.Default);
            if (k.Name == "state" && value == "up" && standby is not null) value = standby;
            if (Shown(k, o, value)) w.String(k.Name, value);
        }
    }

    private static bool Shown(NftlbKey k, NftlbObject o, string value) => k.Show switch
    {
        NftlbShow.Always => true,
        NftlbShow.WhenSet => o.Values.ContainsKey(k.Name) && value.Length > 0,
        NftlbShow.WhenOn => value == "on",
        _ => false,
    };

    private static void Names(NftlbJsonWriter w, string key, List<string> names)
    {
        w.StartArray(key);
        foreach (var n in names) w.StartObject().String("name", n).EndObject();
        w.EndArray();
    }

    private static string Count(long n) => n.ToString(CultureInfo.InvariantCulture);
}
