using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using UserLB.Engine.Conntrack;

namespace UserLB.Cli.Api;

/// <summary>
/// Readiness and drain, for the routing speaker that announces the VIP beside this instance:
/// <list type="bullet">
/// <item>GET <c>/ready</c> (no key, like <c>/metrics</c>: a health checker polls it): 200 <c>{"ready": true, "draining": false}</c>
/// while serving, 503 <c>{"ready": false, "draining": true, "since": "…"}</c> while draining.</item>
/// <item>POST <c>/drain</c>: start draining; <c>{"response": "success", "draining": true, "established": N}</c> (N: the TCP
/// connections in ESTABLISHED now). DELETE <c>/drain</c>: serve again.</item>
/// </list>
/// </summary>
internal static class DrainEndpoints
{
    public static void MapDrainEndpoints(this IEndpointRouteBuilder app, ControlPlane control, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(time);
        app.MapGet("/ready", () => Ready(control)).WithMetadata(KeyNotRequired.Instance);
        app.MapPost("/drain", async () =>
        {
            control.StartDrain(time.GetUtcNow());
            int established = await EstablishedAsync(control).ConfigureAwait(false);
            return ApiHost.JsonText(ApiHost.Inv($"{{\"response\": \"success\", \"draining\": true, \"established\": {established}}}\n"));
        });
        app.MapDelete("/drain", () =>
        {
            control.StopDrain();
            return ApiHost.JsonText("{\"response\": \"success\", \"draining\": false}\n");
        });
    }

    private static IResult Ready(ControlPlane control)
    {
        if (control.DrainingSince is not { } since) return ApiHost.JsonText("{\"ready\": true, \"draining\": false}\n");
        string at = since.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        return ApiHost.JsonText($"{{\"ready\": false, \"draining\": true, \"since\": \"{at}\"}}\n", StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>The TCP connections in ESTABLISHED over every worker.</summary>
    public static Task<int> EstablishedAsync(ControlPlane control)
    {
        ArgumentNullException.ThrowIfNull(control);
        var filter = ConntrackFilter.Parse([KeyValuePair.Create("state", "ESTABLISHED")]);
        return ControlPlane.SumAsync(control.Forwarder.InvokeAllAsync((engine, now) => engine.Table.CountMatching(filter.Bind(engine.Snapshot), now)));
    }
}
