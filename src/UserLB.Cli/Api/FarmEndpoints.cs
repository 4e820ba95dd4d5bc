using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using UserLB.Engine.Config;

namespace UserLB.Cli.Api;

/// <summary>
/// nftlb's farm API: GET <c>/farms</c>, <c>/farms/NAME</c>, <c>/farms/NAME/sessions</c>; POST or PUT <c>/farms</c> with an
/// upsert document; DELETE <c>/farms/NAME</c>, <c>/farms/NAME/backends/NAME</c>, <c>/farms/NAME/sessions/CLIENT</c>.
/// Sessions are the farm's static ones (configuration) and the clients its persistence learned (engine).
/// </summary>
internal static class FarmEndpoints
{
    public static void MapFarmEndpoints(this IEndpointRouteBuilder app, ControlPlane control)
    {
        app.MapGet("/farms", () => ApiHost.JsonText(FarmsView(control, control.Config.Farms)));
        app.MapGet("/farms/{farm}", (string farm) => ApiHost.JsonText(FarmsView(control, [FarmOrThrow(control, farm)])));
        app.MapGet("/farms/{farm}/sessions", async (string farm) =>
        {
            var f = FarmOrThrow(control, farm);
            return ApiHost.JsonText(SessionsView(f, await control.LearnedSessionsAsync(f).ConfigureAwait(false)));
        });
        app.MapPost("/farms", (HttpRequest request) => UpsertAsync(control, request));
        app.MapPut("/farms", (HttpRequest request) => UpsertAsync(control, request));
        app.MapDelete("/farms/{farm}", async (string farm) =>
        {
            FarmOrThrow(control, farm);
            await control.PatchAsync(ConfigParser.ParsePatch(Doc(farm, w => w.WriteString("action", "delete")))).ConfigureAwait(false);
            return ApiHost.Success();
        });
        app.MapDelete("/farms/{farm}/backends/{backend}", async (string farm, string backend) =>
        {
            BackendOrThrow(FarmOrThrow(control, farm), backend);
            await control.PatchAsync(ConfigParser.ParsePatch(Doc(farm, w =>
            {
                w.WriteStartArray("backends");
                w.WriteStartObject();
                w.WriteString("name", backend);
                w.WriteString("action", "delete");
                w.WriteEndObject();
                w.WriteEndArray();
            }))).ConfigureAwait(false);
            return ApiHost.Success();
        });
        app.MapDelete("/farms/{farm}/sessions/{client}", async (string farm, string client) =>
        {
            var f = FarmOrThrow(control, farm);
            bool isStatic = false;
            foreach (var s in f.Sessions) isStatic |= s.Client == client;
            int learned = await control.ForgetSessionAsync(f, client).ConfigureAwait(false);
            if (!isStatic && learned == 0) throw new ApiException(StatusCodes.Status404NotFound, $"farm \"{farm}\" has no session \"{client}\"");
            if (!isStatic) return ApiHost.Success();
            await control.PatchAsync(ConfigParser.ParsePatch(Doc(farm, w =>
            {
                w.WriteStartArray("sessions");
                w.WriteStartObject();
                w.WriteString("client", client);
                w.WriteString("action", "delete");
                w.WriteEndObject();
                w.WriteEndArray();
            }))).ConfigureAwait(false);
            return ApiHost.Success();
        });
    }

    /// <summary>
    /// POST/PUT <c>/farms</c>: the document is validated and merged into the running configuration as a whole, or
    /// rejected as a whole (400 naming the field). <c>"action": "flush"</c> on a farm or backend also destroys its
    /// connections.
    /// </summary>
    private static async Task<IResult> UpsertAsync(ControlPlane control, HttpRequest request)
    {
        string body = await ApiHost.ReadBodyAsync(request).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(body))
            throw new ApiException(StatusCodes.Status400BadRequest, "the body must be a configuration document like {\"farms\": [...]}, got nothing");
        var patch = ConfigParser.ParsePatch(body);
        var config = await control.PatchAsync(patch).ConfigureAwait(false);
        foreach (var fp in patch.Farms)
        {
            if (config.FindFarm(fp.Name) is null) continue;
            if (fp.Action == ConfigAction.Flush) await control.FlushFarmAsync(fp.Name).ConfigureAwait(false);
            foreach (var bp in fp.Backends)
                if (bp.Action == ConfigAction.Flush) await control.FlushBackendAsync(fp.Name, bp.Name).ConfigureAwait(false);
        }
        return ApiHost.Success();
    }

    private static FarmConfig FarmOrThrow(ControlPlane control, string name) =>
        control.Config.FindFarm(name) ?? throw new ApiException(StatusCodes.Status404NotFound, $"farm \"{name}\" does not exist");

    private static BackendConfig BackendOrThrow(FarmConfig farm, string name)
    {
        foreach (var b in farm.Backends)
            if (b.Name == name) return b;
        throw new ApiException(StatusCodes.Status404NotFound, $"farm \"{farm.Name}\" has no backend \"{name}\"");
    }

    /// <summary>
    /// The farms in nftlb's format (every key, values as strings), each backend with an extra read-only key
    /// <c>health</c>: <c>up</c>, <c>down</c> (failing its health check: no new connections) or <c>none</c> (not checked).
    /// </summary>
    internal static string FarmsView(ControlPlane control, IEnumerable<FarmConfig> farms)
    {
        var root = JsonNode.Parse(ConfigParser.Serialize(new LoadBalancerConfig { Farms = [.. farms] }))!;
        foreach (var farm in root["farms"]!.AsArray())
        {
            string farmName = (string)farm!["name"]!;
            if (farm["backends"] is JsonArray backends)
                foreach (var b in backends)
                    b!["health"] = control.HealthOf(farmName, (string)b["name"]!);
        }
        return root.ToJsonString(ViewOptions) + "\n";
    }

    /// <summary>The farm's static sessions (from the configuration) and then the learned ones, with seconds to <c>expiration</c>.</summary>
    private static string SessionsView(FarmConfig farm, IReadOnlyList<LearnedSession> learned) =>
        Doc(farm.Name, w =>
        {
            w.WriteStartArray("sessions");
            foreach (var s in farm.Sessions)
            {
                w.WriteStartObject();
                w.WriteString("client", s.Client);
                w.WriteString("backend", s.Backend);
                w.WriteEndObject();
            }
            foreach (var s in learned)
            {
                w.WriteStartObject();
                w.WriteString("client", s.Client);
                w.WriteString("backend", s.Backend);
                w.WriteString("expiration", s.ExpiresInSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }, indented: true);

    private static readonly JsonSerializerOptions ViewOptions = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary><c>{"farms": [{"name": farm, ...}]}</c> with the rest written by <paramref name="body"/>.</summary>
    private static string Doc(string farm, Action<Utf8JsonWriter> body, bool indented = false)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = ViewOptions.Encoder }))
        {
            w.WriteStartObject();
            w.WriteStartArray("farms");
            w.WriteStartObject();
            w.WriteString("name", farm);
            body(w);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + (indented ? "\n" : "");
    }
}
