using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>
/// Reads and writes farm configurations in nftlb's JSON format: <c>{"farms": [ {farm}, ... ]}</c>.
/// </summary>
/// <remarks>
/// <para>nftlb wants every value as a JSON string; numbers are accepted too (a numeric <c>mark</c> is decimal,
/// a string one hexadecimal as in nftlb), list values (<c>virtual-ports</c>, <c>sched-param</c>,
/// <c>persistence</c>, <c>log</c>) may also be JSON arrays, and on/off switches may be booleans. Keys may come
/// in any order; enum values are case-insensitive. Unknown keys are errors.</para>
/// <para>nftlb's <c>policies</c> (blacklists and whitelists) are read at the top of the document and by name on a
/// farm (ConfigParser.Policies.cs), and its <c>addresses</c> at the top and on a farm (ConfigParser.Addresses.cs: one
/// virtual service per farm). Rejected on purpose, with a message saying so: renaming (<c>newname</c>), rate limits in units other
/// than per second, state <c>config_error</c> (nftlb output only), and a key repeated in one object with
/// different values.</para>
/// </remarks>
public static partial class ConfigParser
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = false,
    };

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Parses a complete document; defaults are applied and every farm and backend must be complete.</summary>
    /// <exception cref="ConfigException">The document is not valid; the message says where.</exception>
    public static LoadBalancerConfig Parse(string json) => Apply(LoadBalancerConfig.Empty, ParsePatch(json));

    /// <summary>
    /// Parses a partial document for an upsert: only the keys it names. Values are checked (types, enums,
    /// addresses, ports, duplicate names) but completeness is not; that is <see cref="Apply"/>'s job.
    /// </summary>
    /// <exception cref="ConfigException">The document is not valid; the message says where.</exception>
    public static ConfigPatch ParsePatch(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var doc = ReadJson(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Where.Root.Error("the document must be a JSON object like {\"farms\": [...]}, got " + ConfigValues.Describe(root));
        }

        var farms = ImmutableArray<FarmPatch>.Empty;
        var policies = ImmutableArray<PolicyConfig>.Empty;
        var properties = Properties(root, Where.Root);
        var addresses = new Dictionary<string, AddressConfig>(StringComparer.Ordinal);
        foreach (var (key, value) in properties)
        {
            if (key == "addresses") addresses = ParseAddresses(value, Where.Root.WithKey(key)); // before the farms that name them
        }

        foreach (var (key, value) in properties)
        {
            var w = Where.Root.WithKey(key);
            switch (key)
            {
                case "farms":
                    farms = ParseFarms(value, w, addresses);
                    break;
                case "policies":
                    policies = ParsePolicies(value, w);
                    break;
                case "addresses":
                    break;
                default:
                    throw Where.Root.Error("unknown key " + Where.Quote(key) + " (expected \"farms\" or \"policies\")");
            }
        }

        return new ConfigPatch(farms, policies);
    }

    /// <summary>
    /// Applies an upsert: farms and backends that exist (matched by name) get only the named keys changed;
    /// new ones start from the defaults and must then be complete (a farm needs <c>virtual-addr</c>, a
    /// backend <c>ip-addr</c>). <c>"action": "delete"</c> removes a farm, backend or session. Either the whole
    /// patch applies and a new configuration is returned, or nothing does and this throws. Farms and backends
    /// the patch does not change are the same instances as in <paramref name="current"/>.
    /// </summary>
    /// <exception cref="ConfigException">The result would be incomplete or inconsistent; the message says where.</exception>
    public static LoadBalancerConfig Apply(LoadBalancerConfig current, ConfigPatch patch)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(patch);

        var farms = new List<FarmConfig?>(current.Farms);
        var slots = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < farms.Count; i++)
        {
            slots.TryAdd(farms[i]!.Name, i);
        }

        var changed = false;
        foreach (var fp in patch.Farms)
        {
            var w = Where.ForFarm(fp.Name, fp.Index);
            var exists = slots.TryGetValue(fp.Name, out var slot) && farms[slot] is not null;
            if (fp.Action == ConfigAction.Delete)
            {
                if (!exists)
                {
                    throw w.WithKey("action").Error("cannot delete: there is no such farm");
                }

                farms[slot] = null;
                changed = true;
                continue;
            }

            var draft = exists ? FarmDraft.From(farms[slot]!) : new FarmDraft(fp.Name) { Dirty = true };
            ApplyFarm(draft, fp, w);
            var built = draft.Build(w);
            if (exists)
            {
                changed |= !ReferenceEquals(built, farms[slot]);
                farms[slot] = built;
            }
            else
            {
                slots[fp.Name] = farms.Count;
                farms.Add(built);
                changed = true;
            }
        }

        var policies = ApplyPolicies(current.Policies, patch.Policies);
        changed |= policies != current.Policies;
        if (!changed)
        {
            return current;
        }

        var result = new LoadBalancerConfig { Farms = [.. farms.Where(f => f is not null).Select(f => f!)], Policies = policies };
        CheckPolicyReferences(result.Farms, result.Policies);
        return result;
    }

    /// <summary>
    /// Writes <paramref name="config"/> as an nftlb-style document: every value a string, <c>name</c> first in
    /// each object, all farm and backend keys written (so defaults are explicit). <see cref="Parse"/> reads it back
    /// to an equal configuration.
    /// </summary>
    public static string Serialize(LoadBalancerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            if (!config.Policies.IsEmpty)
            {
                WritePolicies(writer, config.Policies); // before the farms that name them
            }

            writer.WriteStartArray("farms");
            foreach (var farm in config.Farms)
            {
                WriteFarm(writer, farm);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    // ---- reading ------------------------------------------------------------------------------------

    private static JsonDocument ReadJson(string json)
    {
        try
        {
            return JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException ex)
        {
            var line = (ex.LineNumber ?? 0) + 1;
            var position = (ex.BytePositionInLine ?? 0) + 1;
            var detail = ex.Message;
            var cut = detail.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut >= 0)
            {
                detail = detail[..cut];
            }

            throw new ConfigException(
                string.Create(CultureInfo.InvariantCulture, $"invalid JSON at line {line}, position {position}: {detail.TrimEnd()}"), ex);
        }
    }

    /// <summary>The properties of an object; a key repeated with the same value counts once, with another value it is an error.</summary>
    private static List<(string Key, JsonElement Value)> Properties(JsonElement obj, Where w)
    {
        var list = new List<(string, JsonElement)>();
        var seen = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var p in obj.EnumerateObject())
        {
            if (seen.TryGetValue(p.Name, out var previous))
            {
                if (!JsonElement.DeepEquals(previous, p.Value))
                {
                    throw w.WithKey(p.Name).Error("the key is given twice with different values");
                }

                continue;
            }

            seen.Add(p.Name, p.Value);
            list.Add((p.Name, p.Value));
        }

        return list;
    }

    /// <summary>The identifying key of an object (name, client), read before the rest so that messages can name the object.</summary>
    private static string? FindName(JsonElement obj, string key, Where w) =>
        obj.TryGetProperty(key, out var v) ? ConfigValues.Scalar(v, w.WithKey(key)) : null;

    private static ImmutableArray<FarmPatch> ParseFarms(JsonElement value, Where w, Dictionary<string, AddressConfig> addresses)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw w.Error("expected an array of farms, got " + ConfigValues.Describe(value));
        }

        var result = ImmutableArray.CreateBuilder<FarmPatch>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var farm = ParseFarm(item, index, addresses);
            if (!names.Add(farm.Name))
            {
                throw Where.ForFarm(farm.Name, index).Error("duplicate farm name (farm names must be unique)");
            }

            result.Add(farm);
            index++;
        }

        return result.ToImmutable();
    }

    private static FarmPatch ParseFarm(JsonElement e, int index, Dictionary<string, AddressConfig> addresses)
    {
        var w = Where.ForFarm(null, index);
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw w.Error("expected an object, got " + ConfigValues.Describe(e));
        }

        var name = ConfigValues.Name(FindName(e, "name", w) ?? throw w.Error("missing key \"name\""), w.WithKey("name"));
        w = Where.ForFarm(name, index);
        var props = Properties(e, w);

        ConfigAction? action = null;
        var keys = ImmutableArray.CreateBuilder<string>();
        var setters = ImmutableArray.CreateBuilder<Action<FarmDraft>>();
        var backends = ImmutableArray<BackendPatch>.Empty;
        var sessions = ImmutableArray<SessionPatch>.Empty;
        foreach (var (key, value) in props)
        {
            var kw = w.WithKey(key);
            switch (key)
            {
                case "name":
                    continue;
                case "action":
                    action = ConfigValues.Enum(ConfigValues.Actions, ConfigValues.Scalar(value, kw), kw);
                    continue;
                case "backends":
                    backends = ParseBackends(value, w, kw);
                    continue;
                case "sessions":
                    sessions = ParseSessions(value, w, kw);
                    continue;
                case "policies":
                    var named = ParseFarmPolicies(value, kw);
                    setters.Add(d =>
                    {
                        foreach (var n in named)
                        {
                            if (!d.Policies.Contains(n)) d.Policies.Add(n);
                        }
                    });
                    keys.Add(key);
                    continue;
                case "addresses":
                    if (FarmAddresses(value, kw, addresses, props) is { } fromAddress) setters.Insert(0, fromAddress); // the farm's own keys come after
                    keys.Add(key);
                    continue;
                case "newname":
                    throw kw.Error("renaming is not supported; delete the farm and create it under the new name");
            }

            setters.Add(FarmSetter(key, value, kw) ?? throw w.Error("unknown key " + Where.Quote(key)));
            keys.Add(key);
        }

        return new FarmPatch(name, index, action, keys.ToImmutable(), setters.ToImmutable(), backends, sessions);
    }

    private static Action<FarmDraft>? FarmSetter(string key, JsonElement v, Where w) =>
        ConfigKeys.Setter(key, v, w, ConfigKeys.FarmByName, ConfigKeys.FarmExtras, d => d.Extras);

    private static ImmutableArray<BackendPatch> ParseBackends(JsonElement value, Where farm, Where w)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw w.Error("expected an array of backends, got " + ConfigValues.Describe(value));
        }

        var result = ImmutableArray.CreateBuilder<BackendPatch>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var b = ParseBackend(item, farm, index);
            if (!names.Add(b.Name))
            {
                throw farm.ForBackend(b.Name, index).Error("duplicate backend name (backend names must be unique within a farm)");
            }

            result.Add(b);
            index++;
        }

        return result.ToImmutable();
    }

    private static BackendPatch ParseBackend(JsonElement e, Where farm, int index)
    {
        var w = farm.ForBackend(null, index);
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw w.Error("expected an object, got " + ConfigValues.Describe(e));
        }

        var name = ConfigValues.Name(FindName(e, "name", w) ?? throw w.Error("missing key \"name\""), w.WithKey("name"));
        w = farm.ForBackend(name, index);
        var props = Properties(e, w);

        ConfigAction? action = null;
        var keys = ImmutableArray.CreateBuilder<string>();
        var setters = ImmutableArray.CreateBuilder<Action<BackendDraft>>();
        foreach (var (key, value) in props)
        {
            var kw = w.WithKey(key);
            switch (key)
            {
                case "name":
                    continue;
                case "action":
                    action = ConfigValues.Enum(ConfigValues.Actions, ConfigValues.Scalar(value, kw), kw);
                    continue;
                case "newname":
                    throw kw.Error("renaming is not supported; delete the backend and create it under the new name");
                case "health":
                    // Written by the API's farm view (the backend's health-check status); read-only, so that a view can be posted back.
                    if (ConfigValues.Scalar(value, kw) is not ("up" or "down" or "none"))
                    {
                        throw kw.Error("is read-only (the health-check status: up, down or none), got " + ConfigValues.Describe(value));
                    }

                    continue;
            }

            setters.Add(BackendSetter(key, value, kw) ?? throw w.Error("unknown key " + Where.Quote(key)));
            keys.Add(key);
        }

        return new BackendPatch(name, index, action, keys.ToImmutable(), setters.ToImmutable());
    }

    private static Action<BackendDraft>? BackendSetter(string key, JsonElement v, Where w) =>
        ConfigKeys.Setter(key, v, w, ConfigKeys.BackendByName, ConfigKeys.BackendExtras, d => d.Extras);

    private static ImmutableArray<SessionPatch> ParseSessions(JsonElement value, Where farm, Where w)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw w.Error("expected an array of sessions, got " + ConfigValues.Describe(value));
        }

        var result = ImmutableArray.CreateBuilder<SessionPatch>();
        var clients = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var sw = farm.ForSession(null, index);
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw sw.Error("expected an object, got " + ConfigValues.Describe(item));
            }

            var client = FindName(item, "client", sw) ?? throw sw.Error("missing key \"client\"");
            if (client.Trim().Length == 0)
            {
                throw sw.WithKey("client").Error("the client cannot be empty");
            }

            client = ConfigValues.AnyText(client, sw.WithKey("client"));
            sw = farm.ForSession(client, index);
            var props = Properties(item, sw);
            string? backend = null;
            ConfigAction? action = null;
            foreach (var (key, v) in props)
            {
                var kw = sw.WithKey(key);
                switch (key)
                {
                    case "client":
                        break;
                    case "backend":
                        backend = ConfigValues.Name(ConfigValues.Scalar(v, kw), kw);
                        break;
                    case "action":
                        action = ConfigValues.Enum(ConfigValues.Actions, ConfigValues.Scalar(v, kw), kw);
                        break;
                    default:
                        throw sw.Error("unknown key " + Where.Quote(key));
                }
            }

            if (!clients.Add(client))
            {
                throw sw.Error("duplicate session client");
            }

            result.Add(new SessionPatch(client, backend, action));
            index++;
        }

        return result.ToImmutable();
    }
}
