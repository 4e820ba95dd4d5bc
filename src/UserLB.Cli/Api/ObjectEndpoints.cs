using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using UserLB.Cli.Api.Nftlb;

namespace UserLB.Cli.Api;

/// <summary>
/// nftlb's address and policy objects: GET, POST/PUT (upsert), DELETE of all, of one, with a body (a policy's listed
/// elements, or the objects named); a policy's elements deleted all at once, one by one (<c>/elements/NET/LEN</c>), or
/// replaced as a whole (PATCH <c>/policies/NAME/elements</c>).
/// </summary>
internal static class ObjectEndpoints
{
    public static void MapObjectEndpoints(this IEndpointRouteBuilder app, ControlPlane control)
    {
        app.MapGet("/addresses", () =>
        {
            var objects = control.Objects; // one published state for the whole reply
            return ApiHost.JsonText(NftlbView.Addresses(objects, objects.Addresses));
        });
        app.MapGet("/addresses/{address}", (string address) =>
            ApiHost.JsonText(NftlbView.Addresses(control.Objects, [control.Objects.Address(address) ?? throw FarmEndpoints.Unknown("address", address)])));
        app.MapMethods("/addresses", ["POST", "PUT", "PATCH"], (HttpRequest request) => ApiHost.ChangeAsync(control, request, NftlbRequest.Apply));
        app.MapDelete("/addresses", (HttpRequest request) => ApiHost.ChangeAsync(control, request, (s, root, _) =>
            DeleteNamed(s.Addresses, root, "addresses", a => Detach(s, a.Name)), bodyOptional: true));
        app.MapDelete("/addresses/{address}", (string address) => FarmEndpoints.Change(control, s =>
        {
            if (s.Address(address) is not { } a) throw new NftlbException(StatusCodes.Status404NotFound, $"error stopping address. Unknown address '{address}'");
            s.Addresses.Remove(a);
            Detach(s, address);
        }));

        app.MapGet("/policies", async () =>
        {
            var objects = control.Objects;
            return ApiHost.JsonText(NftlbView.Policies(objects, objects.Policies, await ElementCountersAsync(control).ConfigureAwait(false)));
        });
        app.MapGet("/policies/{policy}", async (string policy) =>
        {
            var objects = control.Objects;
            var p = objects.Policy(policy) ?? throw FarmEndpoints.Unknown("policy", policy);
            return ApiHost.JsonText(NftlbView.Policies(objects, [p], await ElementCountersAsync(control).ConfigureAwait(false)));
        });
        app.MapMethods("/policies", ["POST", "PUT", "PATCH"], (HttpRequest request) => ApiHost.ChangeAsync(control, request, NftlbRequest.Apply));
        app.MapDelete("/policies", (HttpRequest request) => ApiHost.ChangeAsync(control, request, DeletePolicies, bodyOptional: true));
        app.MapDelete("/policies/{policy}", (string policy) => FarmEndpoints.Change(control, s =>
        {
            s.Policies.RemoveAll(p => p.Name == policy);
            DetachPolicy(s, policy);
        }));
        app.MapDelete("/policies/{policy}/elements", (string policy) => FarmEndpoints.Change(control, s => s.Policy(policy)?.Elements.Clear()));
        app.MapDelete("/policies/{policy}/elements/{**data}", (string policy, string data) =>
            FarmEndpoints.Change(control, s => s.Policy(policy)?.Elements.RemoveAll(e => e.Text == data)));
        app.MapPatch("/policies/{policy}/elements", (string policy, HttpRequest request) => ApiHost.ChangeAsync(control, request, (s, root, effects) =>
        {
            var p = s.Policy(policy) ?? throw FarmEndpoints.Unknown("policy", policy);
            p.Elements.Clear();
            NftlbRequest.Apply(s, root, effects);
        }));
    }

    /// <summary>The engines' per-element counters (nftlb's <c>counter-packets</c>, <c>counter-bytes</c>), by policy and element.</summary>
    private static async Task<Func<string, string, (long, long)>> ElementCountersAsync(ControlPlane control)
    {
        if (control.Config.Policies.IsEmpty) return (_, _) => (0, 0); // no placed farm checks a policy: nothing counted
        var counters = await control.CountersAsync().ConfigureAwait(false);
        return (policy, element) =>
        {
            if (!control.Ids.TryPolicyElementId(policy, element, out int id)) return (0, 0);
            var c = counters.PolicyElement(id);
            return (c.Packets, c.Bytes);
        };
    }

    /// <summary>DELETE <c>/policies</c>: without a body every policy; with one, the listed elements of each policy named, or the policy itself when it lists none.</summary>
    private static void DeletePolicies(NftlbState s, JsonElement root, NftlbEffects effects)
    {
        _ = effects;
        if (root.ValueKind != JsonValueKind.Object)
        {
            foreach (var p in s.Policies) DetachPolicy(s, p.Name);
            s.Policies.Clear();
            return;
        }
        foreach (var pe in NftlbRequest.Items(root.TryGetProperty("policies", out var ps) ? ps : default, "policies"))
        {
            string name = pe.TryGetProperty("name", out var n) ? NftlbRequest.Scalar(n, "name") : "";
            if (s.Policy(name) is not { } policy) continue;
            if (pe.TryGetProperty("elements", out var elements))
            {
                foreach (var x in NftlbRequest.Items(elements, "elements"))
                {
                    var e = NftlbRequest.Element(x);
                    policy.Elements.RemoveAll(y => y.V6 == e.V6 && y.First == e.First && y.Last == e.Last);
                }
                continue;
            }
            s.Policies.Remove(policy);
            DetachPolicy(s, name);
        }
    }

    /// <summary>Removes every object of <paramref name="list"/>, or with a body those it names.</summary>
    private static void DeleteNamed<T>(List<T> list, JsonElement root, string key, Action<T> detach) where T : NftlbObject
    {
        var gone = new List<T>();
        if (root.ValueKind != JsonValueKind.Object)
        {
            gone.AddRange(list);
        }
        else
        {
            foreach (var e in NftlbRequest.Items(root.TryGetProperty(key, out var items) ? items : default, key))
                if (e.TryGetProperty("name", out var n) && list.Find(o => o.Name == NftlbRequest.Scalar(n, "name")) is { } o) gone.Add(o);
        }

        foreach (var o in gone)
        {
            list.Remove(o);
            detach(o);
        }
    }

    private static void Detach(NftlbState s, string address)
    {
        foreach (var f in s.Farms) f.Addresses.Remove(address);
    }

    private static void DetachPolicy(NftlbState s, string policy)
    {
        foreach (var f in s.Farms) f.Policies.Remove(policy);
        foreach (var a in s.Addresses) a.Policies.Remove(policy);
    }
}
