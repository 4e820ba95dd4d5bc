using System.Collections.Immutable;
using System.Net;
using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>
/// ConfigParser: nftlb's address objects, as its GET shows them — <c>{"addresses": [{"name", "family", "ip-addr",
/// "ports", "protocol", "policies", "used"}]}</c> at the top of a document, and a farm's <c>"addresses"</c>, either whole
/// objects (nftlb prints a farm's own <c>NAME-addr</c> beside its <c>virtual-addr</c>) or <c>{"name": …}</c> naming a
/// top-level one. The engine runs one virtual service per farm: its address is the farm's virtual address, ports,
/// protocol and family, and the address's policies are checked before the farm's own (as the API does).
/// </summary>
public static partial class ConfigParser
{
    /// <summary>One nftlb address object; null fields were not given.</summary>
    private sealed record AddressConfig(string Name, AddressFamilyKind? Family, IPAddress? Ip, ImmutableArray<PortRange>? Ports,
        FarmProtocol? Protocol, ImmutableArray<string> Policies);

    /// <summary>The top-level <c>addresses</c>, by name.</summary>
    private static Dictionary<string, AddressConfig> ParseAddresses(JsonElement value, Where w)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw w.Error("expected an array of addresses, got " + ConfigValues.Describe(value));
        }

        var result = new Dictionary<string, AddressConfig>(StringComparer.Ordinal);
        foreach (var item in value.EnumerateArray())
        {
            var address = ParseAddress(item, w, null);
            if (!result.TryAdd(address.Name, address))
            {
                throw w.Error("duplicate address name " + Where.Quote(address.Name) + " (address names must be unique)");
            }
        }

        return result;
    }

    /// <summary>An address object; with <paramref name="named"/>, one that gives only its name is the top-level one of that name.</summary>
    private static AddressConfig ParseAddress(JsonElement e, Where w, Dictionary<string, AddressConfig>? named)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw w.Error("expected an address object, got " + ConfigValues.Describe(e));
        }

        var name = ConfigValues.Name(FindName(e, "name", w) ?? throw w.Error("an address needs \"name\""), w.WithKey("name"));
        var aw = w.WithKey("address " + Where.Quote(name));
        AddressFamilyKind? family = null;
        IPAddress? ip = null;
        ImmutableArray<PortRange>? ports = null;
        FarmProtocol? protocol = null;
        var policies = ImmutableArray<string>.Empty;
        var given = 0;
        foreach (var (key, v) in Properties(e, aw))
        {
            var kw = aw.WithKey(key);
            switch (key)
            {
                case "name":
                case "used":
                    continue;
                case "family":
                    family = ConfigValues.Enum(ConfigValues.Families, ConfigValues.Scalar(v, kw), kw);
                    break;
                case "ip-addr":
                    ip = ConfigValues.OptionalIp(ConfigValues.Scalar(v, kw), kw);
                    break;
                case "ports":
                    ports = ConfigValues.PortList(ConfigValues.ScalarOrList(v, kw, ','), kw);
                    break;
                case "protocol":
                    protocol = ConfigValues.Enum(ConfigValues.Protocols, ConfigValues.Scalar(v, kw), kw);
                    break;
                case "policies":
                    policies = ParseFarmPolicies(v, kw);
                    break;
                default:
                    throw aw.Error("unknown key " + Where.Quote(key) + " in an address");
            }

            given++;
        }

        if (given == 0 && named is not null)
        {
            return named.TryGetValue(name, out var top) ? top : throw aw.Error("no such address in the document's \"addresses\"");
        }

        return new AddressConfig(name, family, ip, ports, protocol, policies);
    }

    /// <summary>
    /// A farm's <c>addresses</c> as a setter run before the farm's own keys: the first address with an <c>ip-addr</c>
    /// gives the virtual service. Another address with a different service is refused (one virtual service per farm);
    /// so is an address that contradicts the farm's own <c>virtual-addr</c>.
    /// </summary>
    private static Action<FarmDraft>? FarmAddresses(JsonElement value, Where w, Dictionary<string, AddressConfig> named, List<(string Key, JsonElement Value)> farmKeys)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw w.Error("expected an array of addresses, got " + ConfigValues.Describe(value));
        }

        AddressConfig? first = null;
        foreach (var item in value.EnumerateArray())
        {
            var a = ParseAddress(item, w, named);
            if (a.Ip is null) continue;
            if (first is null)
            {
                first = a;
            }
            else if (!a.Ip.Equals(first.Ip) || a.Protocol != first.Protocol || !SamePorts(a.Ports, first.Ports))
            {
                throw w.Error("addresses " + Where.Quote(first.Name) + " and " + Where.Quote(a.Name) + " are two virtual services; UserLB runs one per farm (make a farm of each)");
            }
        }

        if (first is null) return null;
        foreach (var (key, v) in farmKeys)
        {
            if (key == "virtual-addr" && ConfigValues.OptionalIp(ConfigValues.Scalar(v, w.WithKey(key)), w.WithKey(key)) is { } own && !own.Equals(first.Ip))
            {
                throw w.Error("address " + Where.Quote(first.Name) + " (" + first.Ip + ") and the farm's \"virtual-addr\" (" + own + ") differ; UserLB runs one virtual service per farm");
            }
        }

        return d =>
        {
            d.VirtualAddress = first.Ip;
            if (first.Family is { } family) d.Family = family;
            if (first.Ports is { } ports) d.VirtualPorts = ports;
            if (first.Protocol is { } protocol) d.Protocol = protocol;
            for (int i = first.Policies.Length - 1; i >= 0; i--)
            {
                if (!d.Policies.Contains(first.Policies[i])) d.Policies.Insert(0, first.Policies[i]);
            }
        };
    }

    private static bool SamePorts(ImmutableArray<PortRange>? a, ImmutableArray<PortRange>? b) =>
        a is null || b is null ? a is null && b is null : a.Value.SequenceEqual(b.Value);
}
