using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace UserLB.Cli.Api;

/// <summary>
/// What one client may cost the API: the largest body (refused from its Content-Length before it is read, or once a
/// chunked body passes it), and how long the headers and a body may take to arrive, so that a slow or stalled client
/// is dropped instead of holding a connection (and, mid-body, a request) open. Tests make the times short.
/// </summary>
internal sealed record ApiLimits
{
    /// <summary>The limits <c>userlb run</c> uses.</summary>
    public static readonly ApiLimits Default = new();

    /// <summary>The largest request body, in bytes; a larger one gets nftlb's error with status 413.</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>How long a request's headers may take to arrive.</summary>
    public TimeSpan HeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an idle kept-alive connection stays open.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The slowest a body may arrive after <see cref="BodyGrace"/>: slower gets status 408 and the connection closed.</summary>
    public double MinBodyBytesPerSecond { get; init; } = 240;

    /// <summary>How long a body may arrive slower than <see cref="MinBodyBytesPerSecond"/> (more than Kestrel's one-second tick).</summary>
    public TimeSpan BodyGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Sets Kestrel's limits.</summary>
    public void Apply(KestrelServerLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        limits.MaxRequestBodySize = MaxBodyBytes;
        limits.RequestHeadersTimeout = HeadersTimeout;
        limits.KeepAliveTimeout = KeepAliveTimeout;
        limits.MinRequestBodyDataRate = new MinDataRate(MinBodyBytesPerSecond, BodyGrace);
    }
}
