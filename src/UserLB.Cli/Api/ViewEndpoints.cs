using Microsoft.AspNetCore.Routing;

namespace UserLB.Cli.Api;

/// <summary>Read-only views of the running engine (conntrack, stats, metrics, status).</summary>
internal static class ViewEndpoints
{
    public static void MapViewEndpoints(this IEndpointRouteBuilder app, ControlPlane control) { }
}
