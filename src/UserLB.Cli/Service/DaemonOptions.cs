using System.Globalization;
using System.Net;
using UserLB.Cli.Api;

namespace UserLB.Cli.Service;

/// <summary>
/// nftlb's daemon options that mean something to <c>userlb run</c>, beside its own: <c>-c/--config</c>, <c>-k/--key</c>,
/// <c>-H/--host</c> and <c>-P/--port</c> (the API's address, another way to write <c>--api</c>), <c>-l/--log</c> and
/// <c>-L/--log-output</c> (<see cref="LogOutput"/>).
/// </summary>
internal static class DaemonOptions
{
    /// <summary>The options <c>userlb run</c> takes from nftlb (besides the aliases: --host, --port, --log, --log-output).</summary>
    public static readonly string[] Valued = ["host", "port", "log", "log-output"];

    /// <summary>nftlb's one-letter names, as aliases of userlb's options.</summary>
    public static readonly IReadOnlyDictionary<string, string> Aliases = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["c"] = "config",
        ["k"] = "key",
        ["H"] = "host",
        ["P"] = "port",
        ["l"] = "log",
        ["L"] = "log-output",
    };

    /// <summary>
    /// The API's address: <c>--api ADDR:PORT|off</c>, or nftlb's <c>--host</c> and <c>--port</c> (each defaulting to
    /// <see cref="ApiHost.DefaultListen"/>'s part), never both; null for <c>--api off</c>. <paramref name="text"/> is
    /// the address as given, for messages.
    /// </summary>
    public static IPEndPoint? Listen(Args args, out string text)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? api = args.Get("api");
        string? host = args.Get("host");
        string? port = args.Get("port");
        if (api is not null && (host is not null || port is not null))
            throw new UsageException("options --host/--port (-H/-P): give either them or --api ADDR:PORT, not both");
        if (host is null && port is null)
        {
            text = api ?? ApiHost.DefaultListen;
            return text == "off" ? null : ApiHost.ParseListen(text);
        }
        var fallback = ApiHost.ParseListen(ApiHost.DefaultListen);
        var address = fallback.Address;
        if (host is not null && !IPAddress.TryParse(host.Trim('[', ']'), out address))
            throw new UsageException($"option --host: \"{host}\" is not an IP address (the API listens on one address; :: or 0.0.0.0 for all)");
        int number = fallback.Port;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number is < 1 or > 65535))
            throw new UsageException($"option --port: \"{port}\" is not a TCP port (1 to 65535)");
        var endpoint = new IPEndPoint(address!, number);
        text = endpoint.ToString();
        return endpoint;
    }
}
