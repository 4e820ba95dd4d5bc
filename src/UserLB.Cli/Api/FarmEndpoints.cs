using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using UserLB.Cli.Api.Nftlb;

namespace UserLB.Cli.Api;

/// <summary>
/// nftlb's farm API. GET <c>/farms</c>, <c>/farms/NAME</c>, <c>/farms/NAME/sessions</c>; POST, PUT or PATCH <c>/farms</c>
/// with a document (upsert, all or nothing); PATCH <c>/farms/NAME/policies</c> replaces the farm's policies; DELETE
/// <c>/farms</c> (every farm, or with a body the objects it names), <c>/farms/NAME</c>, its backends, sessions (all, one,
/// a backend's), addresses and policies. As nftlb, deleting what does not exist succeeds. Session keys in a path may
/// write their spaces as <c>_</c> (<c>192.168.44.4_._90</c>).
/// </summary>
internal static class FarmEndpoints
{
    public static void MapFarmEndpoints(this IEndpointRouteBuilder app, ControlPlane control)
    {
        app.MapGet("/farms", () =>
        {
            var objects = control.Objects; // one published state for the whole reply
            return ApiHost.JsonText(NftlbView.Farms(objects, objects.Farms, control.HealthIfChecked));
        });
        app.MapGet("/farms/{farm}", (string farm) =>
        {
            var objects = control.Objects;
            return ApiHost.JsonText(NftlbView.Farms(objects, [FarmOrThrow(objects, farm)], control.HealthIfChecked));
        });
        app.MapGet("/farms/{farm}/sessions", async (string farm) =>
        {
            var f = FarmOrThrow(control.Objects, farm);
            var learned = control.Config.FindFarm(farm) is { } placed ? await control.LearnedSessionsAsync(placed).ConfigureAwait(false) : [];
            return ApiHost.JsonText(NftlbView.Sessions(f, learned.Select(s => (s.Client, s.Backend, s.ExpiresInSeconds))));
        });
        app.MapMethods("/farms", ["POST", "PUT", "PATCH"], (HttpRequest request) => ApiHost.ChangeAsync(control, request, NftlbRequest.Apply));
        app.MapPatch("/farms/{farm}/policies", (string farm, HttpRequest request) => ApiHost.ChangeAsync(control, request, (s, root, _) =>
        {
            var f = s.Farm(farm) ?? throw Unknown("farm", farm);
            f.Policies.Clear();
            foreach (var fe in NftlbRequest.Items(root.TryGetProperty("farms", out var fs) ? fs : default, "farms"))
            {
                if (fe.TryGetProperty("policies", out var ps))
                {
                    foreach (var p in NftlbRequest.Items(ps, "policies"))
                    {
                        string name = p.TryGetProperty("name", out var n) ? NftlbRequest.Scalar(n, "name") : "";
                        if (s.Policy(name) is null) throw NftlbRequest.Bad($"Unknown policy '{name}'");
                        if (!f.Policies.Contains(name)) f.Policies.Add(name);
                    }
                }
            }
        }));
        app.MapDelete("/farms", (HttpRequest request) => ApiHost.ChangeAsync(control, request, DeleteFarms, bodyOptional: true));
        app.MapDelete("/farms/{farm}", (string farm) => Change(control, s => s.Farms.RemoveAll(f => f.Name == farm)));
        app.MapDelete("/farms/{farm}/backends/{backend}", (string farm, string backend) => Change(control, s =>
        {
            if (s.Farm(farm) is not { } f) return;
            f.Backends.RemoveAll(b => b.Name == backend);
            f.Sessions.RemoveAll(x => x.Backend == backend);
        }));
        app.MapDelete("/farms/{farm}/backends/{backend}/sessions", async (string farm, string backend) =>
        {
            var result = await Change(control, s => s.Farm(farm)?.Sessions.RemoveAll(x => x.Backend == backend)).ConfigureAwait(false);
            if (control.Config.FindFarm(farm) is { } placed) await control.ForgetSessionsAsync(placed, backend: backend).ConfigureAwait(false);
            return result;
        });
        app.MapDelete("/farms/{farm}/sessions", async (string farm) =>
        {
            var result = await Change(control, s => s.Farm(farm)?.Sessions.Clear()).ConfigureAwait(false);
            if (control.Config.FindFarm(farm) is { } placed) await control.ForgetSessionsAsync(placed).ConfigureAwait(false);
            return result;
        });
        app.MapDelete("/farms/{farm}/sessions/{client}", async (string farm, string client) =>
        {
            client = client.Replace('_', ' ');
            var f = FarmOrThrow(control.Objects, farm);
            bool isStatic = f.Sessions.Exists(s => s.Client == client);
            int learned = control.Config.FindFarm(farm) is { } placed ? await control.ForgetSessionsAsync(placed, client: client).ConfigureAwait(false) : 0;
            if (!isStatic && learned == 0) throw new ApiException(StatusCodes.Status404NotFound, $"error deleting session: farm \"{farm}\" has no session \"{client}\"");
            return await Change(control, s => s.Farm(farm)?.Sessions.RemoveAll(x => x.Client == client)).ConfigureAwait(false);
        });
        app.MapDelete("/farms/{farm}/addresses/{address}", (string farm, string address) => Change(control, s => s.Farm(farm)?.Addresses.Remove(address)));
        app.MapDelete("/farms/{farm}/policies/{policy}", (string farm, string policy) => Change(control, s => s.Farm(farm)?.Policies.Remove(policy)));
        app.MapDelete("/farms/{farm}/policies", (string farm) => Change(control, s => s.Farm(farm)?.Policies.Clear()));
    }

    /// <summary>DELETE <c>/farms</c>: without a body every farm; with one, for each farm named, the backends, sessions,
    /// addresses and policies it lists, or the farm itself when it lists none.</summary>
    private static void DeleteFarms(NftlbState s, JsonElement root, NftlbEffects effects)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            foreach (var f in s.Farms) NftlbRequest.CheckHelper(s, f, effects);
            s.Farms.Clear();
            return;
        }
        foreach (var fe in NftlbRequest.Items(root.TryGetProperty("farms", out var fs) ? fs : default, "farms"))
        {
            string name = fe.TryGetProperty("name", out var n) ? NftlbRequest.Scalar(n, "name") : "";
            if (s.Farm(name) is not { } f) continue;
            bool parts = false;
            foreach (var p in fe.EnumerateObject())
            {
                if (p.Name is not ("backends" or "sessions" or "addresses" or "policies")) continue;
                parts = true;
                foreach (var item in NftlbRequest.Items(p.Value, p.Name))
                {
                    string key = p.Name == "sessions" ? (item.TryGetProperty("client", out var c) ? NftlbRequest.Scalar(c, "client") : "")
                        : item.TryGetProperty("name", out var m) ? NftlbRequest.Scalar(m, "name") : "";
                    switch (p.Name)
                    {
                        case "backends":
                            f.Backends.RemoveAll(b => b.Name == key);
                            break;
                        case "sessions":
                            f.Sessions.RemoveAll(x => x.Client == key);
                            break;
                        case "addresses":
                            f.Addresses.Remove(key);
                            break;
                        default:
                            f.Policies.Remove(key);
                            break;
                    }
                }
            }
            if (!parts) s.Farms.Remove(f);
        }
    }

    /// <summary>Applies a change that needs no body and replies as nftlb does.</summary>
    internal static async Task<IResult> Change(ControlPlane control, Action<NftlbState> change)
    {
        var effects = await control.ChangeAsync((s, _) =>
        {
            change(s);
            s.ReleaseOwnedAddresses();
        }).ConfigureAwait(false);
        return ApiHost.Success(effects.Warnings);
    }

    internal static NftlbException Unknown(string what, string name) => new(StatusCodes.Status404NotFound, $"error, unknown {what} '{name}'");

    private static NftlbFarm FarmOrThrow(NftlbState s, string name) =>
        s.Farm(name) ?? throw new ApiException(StatusCodes.Status404NotFound, $"error, farm \"{name}\" does not exist");
}
