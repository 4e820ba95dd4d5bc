using System.Globalization;

namespace UserLB.Engine.Config;

/// <summary>How a backend's health is checked (UserLB's extension of nftlb's format: key <c>health-check</c>).</summary>
public enum HealthCheckType
{
    /// <summary><c>none</c>: not checked (on a backend: also not by its farm's check).</summary>
    None,

    /// <summary><c>tcp</c>: a TCP connection to the probe port is accepted (the default).</summary>
    Tcp,

    /// <summary><c>http</c>: <c>GET path HTTP/1.0</c> on the probe port answers with the expected status.</summary>
    Http,

    /// <summary><c>icmp</c>: an ICMP / ICMPv6 echo is answered.</summary>
    Icmp,
}

/// <summary>
/// A health check, on a farm (for all its backends) or on a backend (overriding its farm's):
/// <c>"health-check": {"type": "tcp|http|icmp|none", "interval": "5", "timeout": "2", "fall": "3", "rise": "2",
/// "port": "80", "path": "/", "status": "200", "flush": "on"}</c>. Times are seconds (decimals allowed, or with an
/// <c>ms</c> suffix). A backend is marked down after <see cref="Fall"/> consecutive failed probes and up again after
/// <see cref="Rise"/> consecutive good ones; <see cref="Flush"/> also destroys its connections when it goes down (as
/// Zevenet's farmguardian did with <c>conntrack -D -m MARK</c>). Probes come from the LB host's own kernel stack.
/// </summary>
public sealed record HealthCheckConfig
{
    /// <summary>Defaults: TCP every 5 s, 2 s timeout, down after 3 failures, up after 2 successes.</summary>
    public static HealthCheckConfig Default { get; } = new();

    /// <summary><c>type</c> (default tcp).</summary>
    public HealthCheckType Type { get; init; } = HealthCheckType.Tcp;

    /// <summary><c>interval</c> between probes of one backend (default 5 s).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>timeout</c> of one probe (default 2 s, at most the interval).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary><c>fall</c>: consecutive failures that mark a backend down (default 3).</summary>
    public int Fall { get; init; } = 3;

    /// <summary><c>rise</c>: consecutive successes that mark a down backend up again (default 2).</summary>
    public int Rise { get; init; } = 2;

    /// <summary><c>port</c> probed (tcp, http); 0 = the backend's <c>port</c>, else the farm's first virtual port.</summary>
    public ushort Port { get; init; }

    /// <summary><c>path</c> requested (http; default <c>/</c>).</summary>
    public string Path { get; init; } = "/";

    /// <summary><c>status</c>: the HTTP status code that means healthy (http; default 200).</summary>
    public int Status { get; init; } = 200;

    /// <summary><c>flush</c>: destroy the backend's connections when it is marked down (default off).</summary>
    public bool Flush { get; init; }

    /// <summary>The port a tcp/http probe of <paramref name="backend"/> in <paramref name="farm"/> goes to; 0 if none can be chosen.</summary>
    public ushort ProbePort(FarmConfig farm, BackendConfig backend)
    {
        ArgumentNullException.ThrowIfNull(farm);
        ArgumentNullException.ThrowIfNull(backend);
        if (Port != 0) return Port;
        if (backend.Port != 0) return backend.Port;
        return farm.VirtualPorts.IsDefaultOrEmpty ? (ushort)0 : farm.VirtualPorts[0].First;
    }

    /// <summary>The check that applies to <paramref name="backend"/>: its own, else its farm's; null when none (or type none).</summary>
    public static HealthCheckConfig? Effective(FarmConfig farm, BackendConfig backend)
    {
        ArgumentNullException.ThrowIfNull(farm);
        ArgumentNullException.ThrowIfNull(backend);
        var hc = backend.HealthCheck ?? farm.HealthCheck;
        return hc is null || hc.Type == HealthCheckType.None ? null : hc;
    }

    /// <summary>Seconds as written in the configuration: <c>5</c>, <c>0.5</c>.</summary>
    public static string PrintSeconds(TimeSpan t) =>
        (t.Ticks / (double)TimeSpan.TicksPerSecond).ToString("0.###", CultureInfo.InvariantCulture);
}
