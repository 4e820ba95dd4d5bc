using System.Globalization;
using System.Text.Json;
using UserLB.Engine.Config;

namespace UserLB.Cli.Api.Nftlb;

/// <summary>An nftlb API error: the reply is <c>{"response": "error …"}</c> with <see cref="StatusCode"/>.</summary>
internal sealed class NftlbException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}

/// <summary>What a request asks beyond the objects: connections to flush once the change runs.</summary>
internal sealed class NftlbEffects
{
    public List<string> Warnings { get; } = [];
    public List<string> FlushFarms { get; } = [];
    public List<(string Farm, string Backend)> FlushBackends { get; } = [];
    public List<(string Farm, string Backend)> ForgetBackendSessions { get; } = [];
    public List<string> ForgetFarmSessions { get; } = [];
}

/// <summary>
/// Applies an nftlb document (<c>{"farms": [...], "addresses": [...], "policies": [...]}</c>) to the objects as nftlb's
/// POST and PUT do: objects matched by name get the keys named, new ones start from nftlb's defaults; an unknown enum
/// value falls back to its default with a warning; a value that cannot be read is an error.
/// </summary>
internal static class NftlbRequest
{
    public const string ParseError = "error parsing buffer. ";
    private static readonly JsonDocumentOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 16 };

    public static JsonDocument Read(string body)
    {
        try
        {
            var doc = JsonDocument.Parse(body, Options);
            if (doc.RootElement.ValueKind == JsonValueKind.Object) return doc;
            doc.Dispose();
        }
        catch (JsonException ex)
        {
            throw Bad($"invalid JSON at line {(ex.LineNumber ?? 0) + 1}, position {(ex.BytePositionInLine ?? 0) + 1}");
        }
        throw Bad("the body is not a JSON object like {\"farms\": [...]}");
    }

    public static NftlbException Bad(string message) => new(400, ParseError + message);

    public static void Apply(NftlbState state, JsonElement root, NftlbEffects effects)
    {
        foreach (var p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "farms":
                    foreach (var f in Items(p.Value, "farms")) Farm(state, f, effects);
                    break;
                case "addresses":
                    foreach (var a in Items(p.Value, "addresses")) Address(state, a, null, effects);
                    break;
                case "policies":
                    foreach (var pol in Items(p.Value, "policies")) Policy(state, pol, effects);
                    break;
                default:
                    throw Bad($"Unknown key '{p.Name}' (expected 'farms', 'addresses' or 'policies')");
            }
        }
        state.ReleaseOwnedAddresses();
    }

    /// <summary>A scalar value as text (strings as they are, numbers and booleans as written, on/off for booleans).</summary>
    public static string Scalar(JsonElement v, string key) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString()!,
        JsonValueKind.Number => v.GetRawText(),
        JsonValueKind.True => "on",
        JsonValueKind.False => "off",
        JsonValueKind.Array => string.Join(' ', v.EnumerateArray().Select(e => Scalar(e, key))),
        _ => throw Bad($"Parsing unknown value '{v.GetRawText()}' in '{key}'"),
    };

    public static IEnumerable<JsonElement> Items(JsonElement v, string key)
    {
        if (v.ValueKind != JsonValueKind.Array) throw Bad($"'{key}' must be an array");
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object) throw Bad($"the items of '{key}' must be objects");
            yield return e;
        }
    }

    private static string NameOf(JsonElement e, string what)
    {
        if (!e.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String || n.GetString() is not { Length: > 0 } name)
            throw Bad($"a {what} needs a 'name'");
        return name;
    }

    /// <summary>Sets one scalar key on <paramref name="o"/>; false when <paramref name="keys"/> does not have it.</summary>
    private static bool Set(NftlbObject o, NftlbKey[] keys, string key, JsonElement value, List<string> warnings)
    {
        if (NftlbKeys.Find(keys, key) is not { } k) return false;
        string text = Scalar(value, key);
        if (text.Length == 0 && k.Default.Length > 0) return true; // an empty value leaves the key as it was
        o.Values[key] = k.Read(text, warnings) ?? throw Bad($"Parsing unknown value '{text}' in '{key}'");
        return true;
    }

    private static void Farm(NftlbState state, JsonElement e, NftlbEffects effects)
    {
        string name = NameOf(e, "farm");
        var farm = state.Farm(name);
        if (e.TryGetProperty("newname", out var nn) && Scalar(nn, "newname") is { Length: > 0 } newName && newName != name)
        {
            if (state.Farm(newName) is not null) throw Bad($"Farm '{newName}' already exists");
            if (farm is null) farm = New(state, newName);
            else Rename(state, farm, newName);
        }
        farm ??= New(state, name);
        bool touchesAddress = false;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "name" or "newname":
                    continue;
                case "action":
                    FarmAction(state, farm, Scalar(p.Value, "action"), effects);
                    continue;
                case "backends":
                    foreach (var b in Items(p.Value, "backends")) Backend(state, farm, b, effects);
                    continue;
                case "sessions":
                    foreach (var s in Items(p.Value, "sessions")) Session(farm, s);
                    continue;
                case "addresses":
                    foreach (var a in Items(p.Value, "addresses"))
                    {
                        var address = Address(state, a, farm.Name, effects);
                        if (!farm.Addresses.Contains(address.Name)) farm.Addresses.Add(address.Name);
                    }
                    continue;
                case "policies":
                    foreach (var pol in Items(p.Value, "policies"))
                    {
                        string policy = NameOf(pol, "policy");
                        if (state.Policy(policy) is null) throw Bad($"Unknown policy '{policy}'");
                        if (!farm.Policies.Contains(policy)) farm.Policies.Add(policy);
                    }
                    continue;
                case "health-check" or "synproxy":
                    farm.Extensions[p.Name] = p.Value.GetRawText();
                    continue;
            }
            if (NftlbKeys.IsOutputOnly(p.Name)) continue;
            string persistence = farm.Get("persistence", "none");
            if (!Set(farm, NftlbKeys.Farm, p.Name, p.Value, effects.Warnings)) throw Bad($"Unknown key '{p.Name}' in farm '{farm.Name}'");
            if (farm.Get("persistence", "none") != persistence) farm.Sessions.Clear(); // the session keys' fields changed
            touchesAddress |= p.Name is "virtual-addr" or "virtual-ports" or "family" or "protocol";
        }
        if (touchesAddress) SyncOwnAddress(state, farm, e.TryGetProperty("virtual-addr", out _) || e.TryGetProperty("virtual-ports", out _));
        CheckHelper(state, farm, effects);
    }

    /// <summary>A helper that does not fit the farm's protocol puts the farm in config_error, with nftlb's warning.</summary>
    public static void CheckHelper(NftlbState state, NftlbFarm farm, NftlbEffects effects)
    {
        if (farm.Get("helper", "none") == "none" || HelperFits(farm.Get("helper"), Protocol(state, farm))) return;
        effects.Warnings.Add($"Farm '{farm.Name}' doesn't validate helper protocol");
        farm.Values["state"] = "config_error";
    }

    private static NftlbFarm New(NftlbState state, string name)
    {
        var farm = new NftlbFarm(name);
        state.Farms.Add(farm);
        return farm;
    }

    private static void Rename(NftlbState state, NftlbFarm farm, string newName)
    {
        string oldOwn = farm.OwnAddressName;
        foreach (var a in state.Addresses)
            if (a.Owner == farm.Name) a.Owner = newName;
        farm.Name = newName;
        if (state.Address(oldOwn) is { } own && own.Owner == newName && state.Address(farm.OwnAddressName) is null)
        {
            own.Name = farm.OwnAddressName;
            farm.Addresses[farm.Addresses.IndexOf(oldOwn)] = own.Name;
        }
    }

    /// <summary>The farm's own address (<c>NAME-addr</c>) carries its virtual-addr, virtual-ports, family and protocol.</summary>
    private static void SyncOwnAddress(NftlbState state, NftlbFarm farm, bool create)
    {
        var own = state.Address(farm.OwnAddressName);
        if (own is null)
        {
            if (!create) return;
            own = new NftlbAddress(farm.OwnAddressName) { Owner = farm.Name };
            state.Addresses.Add(own);
        }
        if (!farm.Addresses.Contains(own.Name)) farm.Addresses.Insert(0, own.Name);
        own.Values["family"] = farm.Get("family", "ipv4");
        own.Values["ip-addr"] = farm.Get("virtual-addr");
        own.Values["ports"] = farm.Get("virtual-ports");
        own.Values["protocol"] = farm.Get("protocol", "tcp");
    }

    private static string Protocol(NftlbState state, NftlbFarm farm) =>
        farm.Addresses.Count > 0 && state.Address(farm.Addresses[0]) is { } a ? a.Get("protocol", "tcp") : farm.Get("protocol", "tcp");

    private static bool HelperFits(string helper, string protocol) => helper switch
    {
        "ftp" or "pptp" => protocol == "tcp",
        "tftp" or "snmp" => protocol == "udp",
        _ => true,
    };

    private static void FarmAction(NftlbState state, NftlbFarm farm, string action, NftlbEffects effects)
    {
        switch (action)
        {
            case "start":
                farm.Values["state"] = "up";
                break;
            case "stop":
                farm.Values["state"] = "down";
                break;
            case "reload" or "none":
                break;
            case "delete":
                state.Farms.Remove(farm);
                break;
            case "flush":
                effects.FlushFarms.Add(farm.Name);
                break;
            default:
                throw Bad($"Parsing unknown value '{action}' in 'action'");
        }
    }

    private static void Backend(NftlbState state, NftlbFarm farm, JsonElement e, NftlbEffects effects)
    {
        string name = NameOf(e, "backend");
        var backend = farm.Backend(name);
        if (e.TryGetProperty("newname", out var nn) && Scalar(nn, "newname") is { Length: > 0 } newName && newName != name)
        {
            if (farm.Backend(newName) is not null) throw Bad($"Backend '{newName}' already exists in farm '{farm.Name}'");
            if (backend is not null) backend.Name = newName;
            name = newName;
        }
        if (backend is null)
        {
            backend = new NftlbBackend(name);
            farm.Backends.Add(backend);
            if (!e.TryGetProperty("mark", out _)) backend.Values["mark"] = FreeMark(state);
        }
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "name" or "newname":
                    continue;
                case "action":
                    BackendAction(farm, backend, Scalar(p.Value, "action"), effects);
                    continue;
                case "health-check":
                    backend.Extensions[p.Name] = p.Value.GetRawText();
                    continue;
                case "health" when Scalar(p.Value, "health") is not ("up" or "down" or "none"):
                    throw Bad($"'health' is read-only (the health-check status: up, down or none), got '{Scalar(p.Value, "health")}' in backend '{name}'");
            }
            if (NftlbKeys.IsOutputOnly(p.Name)) continue;
            if (!Set(backend, NftlbKeys.Backend, p.Name, p.Value, effects.Warnings)) throw Bad($"Unknown key '{p.Name}' in backend '{name}'");
        }
    }

    /// <summary>A new backend without a mark gets the lowest one no backend of any farm uses.</summary>
    private static string FreeMark(NftlbState state)
    {
        for (int m = 1; ; m++)
        {
            string mark = "0x" + m.ToString("x", CultureInfo.InvariantCulture);
            if (!state.Farms.Exists(f => f.Backends.Exists(b => b.Get("mark") == mark))) return mark;
        }
    }

    private static void BackendAction(NftlbFarm farm, NftlbBackend backend, string action, NftlbEffects effects)
    {
        switch (action)
        {
            case "start":
                backend.Values["state"] = "up";
                break;
            case "stop":
                backend.Values["state"] = "down";
                break;
            case "reload" or "none":
                break;
            case "delete":
                farm.Backends.Remove(backend);
                break;
            case "flush":
                effects.FlushBackends.Add((farm.Name, backend.Name));
                break;
            default:
                throw Bad($"Parsing unknown value '{action}' in 'action'");
        }
    }

    private static void Session(NftlbFarm farm, JsonElement e)
    {
        if (!e.TryGetProperty("client", out var c)) throw Bad("a session needs a 'client'");
        string client = Scalar(c, "client");
        farm.Sessions.RemoveAll(s => s.Client == client);
        if (e.TryGetProperty("action", out var a) && Scalar(a, "action") == "delete") return;
        if (!e.TryGetProperty("backend", out var b)) throw Bad("a session needs a 'backend'");
        farm.Sessions.Add(new NftlbSession(client, Scalar(b, "backend")));
    }

    /// <summary>Creates or changes an address object; <paramref name="owner"/>: the farm that names it inline.</summary>
    private static NftlbAddress Address(NftlbState state, JsonElement e, string? owner, NftlbEffects effects)
    {
        string name = NameOf(e, "address");
        var address = state.Address(name);
        if (address is null)
        {
            address = new NftlbAddress(name) { Owner = owner };
            state.Addresses.Add(address);
        }
        foreach (var p in e.EnumerateObject())
        {
            if (p.Name is "name" || NftlbKeys.IsOutputOnly(p.Name)) continue;
            if (p.Name == "policies")
            {
                foreach (var pol in Items(p.Value, "policies"))
                {
                    string policy = NameOf(pol, "policy");
                    if (state.Policy(policy) is null) throw Bad($"Unknown policy '{policy}'");
                    if (!address.Policies.Contains(policy)) address.Policies.Add(policy);
                }
                continue;
            }
            if (!Set(address, NftlbKeys.Address, p.Name, p.Value, effects.Warnings)) throw Bad($"Unknown key '{p.Name}' in address '{name}'");
        }
        return address;
    }

    private static void Policy(NftlbState state, JsonElement e, NftlbEffects effects)
    {
        string name = NameOf(e, "policy");
        var policy = state.Policy(name);
        if (policy is null)
        {
            policy = new NftlbPolicy(name);
            state.Policies.Add(policy);
        }
        foreach (var p in e.EnumerateObject())
        {
            if (p.Name is "name" || NftlbKeys.IsOutputOnly(p.Name)) continue;
            if (p.Name == "elements")
            {
                foreach (var x in Items(p.Value, "elements")) PolicyElement.AddTo(policy.Elements, Element(x));
                continue;
            }
            if (!Set(policy, NftlbKeys.Policy, p.Name, p.Value, effects.Warnings)) throw Bad($"Unknown key '{p.Name}' in policy '{name}'");
        }
    }

    /// <summary>An element object <c>{"data": "…"}</c>.</summary>
    public static PolicyElement Element(JsonElement x)
    {
        if (!x.TryGetProperty("data", out var d)) throw Bad("a policy element needs 'data'");
        string data = Scalar(d, "data");
        return PolicyElement.TryParse(data, out var element) ? element : throw Bad($"Parsing unknown value '{data}' in 'data'");
    }
}
