using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>
/// ConfigParser: nftlb's policies, as the API shows them — <c>{"policies": [{"name", "type", "family", "route",
/// "timeout", "priority", "log-prefix", "elements": [{"data": "…"}]}]}</c> at the top of a document, and a farm's
/// <c>"policies": [{"name": "…"}]</c>. The keys nftlb prints but does not take (<c>used</c>, an element's
/// <c>counter-packets</c> and <c>counter-bytes</c>) are accepted and ignored, so that a GET can be posted back.
/// </summary>
public static partial class ConfigParser
{
    private static readonly (string Text, PolicyType Value)[] PolicyTypes = [("blacklist", PolicyType.Blacklist), ("whitelist", PolicyType.Whitelist)];

    private static ImmutableArray<PolicyConfig> ParsePolicies(JsonElement value, Where w)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw w.Error("expected an array of policies, got " + ConfigValues.Describe(value));
        }

        var result = ImmutableArray.CreateBuilder<PolicyConfig>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in value.EnumerateArray())
        {
            var policy = ParsePolicy(item, w);
            if (!names.Add(policy.Name))
            {
                throw Where.ForPolicy(policy.Name).Error("duplicate policy name (policy names must be unique)");
            }

            result.Add(policy);
        }

        return result.ToImmutable();
    }

    private static PolicyConfig ParsePolicy(JsonElement e, Where w)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw w.Error("expected a policy object, got " + ConfigValues.Describe(e));
        }

        var name = ConfigValues.Name(FindName(e, "name", w) ?? throw w.Error("a policy needs \"name\""), w.WithKey("name"));
        var policy = new PolicyConfig { Name = name };
        var elements = new List<PolicyElement>();
        var pw = Where.ForPolicy(name);
        foreach (var (key, v) in Properties(e, pw))
        {
            var kw = pw.WithKey(key);
            switch (key)
            {
                case "name":
                case "used":
                    break;
                case "type":
                    policy = policy with { Type = ConfigValues.Enum(PolicyTypes, ConfigValues.Scalar(v, kw), kw) };
                    break;
                case "family":
                    policy = policy with { Family = ConfigValues.Enum(ConfigValues.Families, ConfigValues.Scalar(v, kw), kw) };
                    break;
                case "timeout":
                    policy = policy with { TimeoutSeconds = ConfigValues.Int(ConfigValues.Scalar(v, kw), kw, 0) };
                    break;
                case "priority":
                    policy = policy with { Priority = ConfigValues.Int(ConfigValues.Scalar(v, kw), kw, 1) };
                    break;
                case "route":
                    policy = policy with { Route = ConfigValues.Scalar(v, kw) is "in" or "out" or "" ? ConfigValues.Scalar(v, kw) : throw kw.Error("expected in or out") };
                    break;
                case "log-prefix":
                    policy = policy with { LogPrefix = ConfigValues.Scalar(v, kw) };
                    break;
                case "elements":
                    ParseElements(v, kw, elements);
                    break;
                default:
                    throw pw.Error("unknown key " + Where.Quote(key));
            }
        }

        return policy with { Route = policy.Route.Length == 0 ? "in" : policy.Route, Elements = [.. elements] };
    }

    private static void ParseElements(JsonElement value, Where w, List<PolicyElement> elements)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw w.Error("expected an array of elements like [{\"data\": \"10.0.0.0/8\"}], got " + ConfigValues.Describe(value));
        }

        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("data", out var data))
            {
                throw w.Error("an element is an object with \"data\" (an address, a network a/len or a range a-b), got " + ConfigValues.Describe(item));
            }

            foreach (var p in item.EnumerateObject())
            {
                if (p.Name is not ("data" or "counter-packets" or "counter-bytes"))
                {
                    throw w.Error("unknown key " + Where.Quote(p.Name) + " in an element");
                }
            }

            var text = ConfigValues.Scalar(data, w);
            if (!PolicyElement.TryParse(text, out var element))
            {
                throw w.Error(Where.Quote(text) + " is not an address, a network (a/len) or a range (a-b)");
            }

            PolicyElement.AddTo(elements, element);
        }
    }

    /// <summary>A farm's <c>policies</c>: <c>[{"name": "…"}]</c>, the names in order.</summary>
    private static ImmutableArray<string> ParseFarmPolicies(JsonElement value, Where w)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw w.Error("expected an array like [{\"name\": \"mylist\"}], got " + ConfigValues.Describe(value));
        }

        var names = ImmutableArray.CreateBuilder<string>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw w.Error("expected an object like {\"name\": \"mylist\"}, got " + ConfigValues.Describe(item));
            }

            foreach (var p in item.EnumerateObject())
            {
                if (p.Name != "name")
                {
                    throw w.Error("unknown key " + Where.Quote(p.Name) + " in a farm's policy (only \"name\")");
                }
            }

            var name = ConfigValues.Name(FindName(item, "name", w) ?? throw w.Error("a policy reference needs \"name\""), w);
            if (!names.Contains(name))
            {
                names.Add(name);
            }
        }

        return names.ToImmutable();
    }

    /// <summary>Every policy a farm names exists in <paramref name="policies"/>.</summary>
    private static void CheckPolicyReferences(IEnumerable<FarmConfig> farms, ImmutableArray<PolicyConfig> policies)
    {
        foreach (var f in farms)
        {
            foreach (var name in f.Policies)
            {
                if (!policies.Any(p => p.Name == name))
                {
                    throw Where.ForFarm(f.Name, -1).WithKey("policies").Error("no policy named " + Where.Quote(name) + " in the document's \"policies\"");
                }
            }
        }
    }

    /// <summary>Policies in a patch replace those of the same name (a policy is its whole set); new ones are added.</summary>
    private static ImmutableArray<PolicyConfig> ApplyPolicies(ImmutableArray<PolicyConfig> current, ImmutableArray<PolicyConfig> patch)
    {
        if (patch.IsDefaultOrEmpty)
        {
            return current;
        }

        var list = new List<PolicyConfig>(current);
        foreach (var p in patch)
        {
            int at = list.FindIndex(x => x.Name == p.Name);
            if (at >= 0) list[at] = p;
            else list.Add(p);
        }

        return [.. list];
    }

    private static void WritePolicies(Utf8JsonWriter w, ImmutableArray<PolicyConfig> policies)
    {
        w.WriteStartArray("policies");
        foreach (var p in policies)
        {
            w.WriteStartObject();
            w.WriteString("name", p.Name);
            w.WriteString("family", ConfigValues.Text(ConfigValues.Families, p.Family));
            w.WriteString("type", ConfigValues.Text(PolicyTypes, p.Type));
            w.WriteString("route", p.Route);
            w.WriteString("timeout", p.TimeoutSeconds.ToString(CultureInfo.InvariantCulture));
            w.WriteString("priority", p.Priority.ToString(CultureInfo.InvariantCulture));
            if (p.LogPrefix is { } prefix) w.WriteString("log-prefix", prefix);
            w.WriteStartArray("elements");
            foreach (var e in p.Elements)
            {
                w.WriteStartObject();
                w.WriteString("data", e.Text);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WriteFarmPolicies(Utf8JsonWriter w, ImmutableArray<string> names)
    {
        w.WriteStartArray("policies");
        foreach (var name in names)
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
