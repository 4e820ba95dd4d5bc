using UserLB.Cli.Views;

namespace UserLB.Cli.Commands;

/// <summary><c>userlb stats</c> and <c>userlb status</c>: the running instance's counters and its one-screen summary.</summary>
internal static class ViewCommands
{
    public static readonly string StatsUsage = """
        usage: userlb stats [--json] [--api URL] [--key KEY]

        Every counter of the running instance: frames and bytes in and out, drops by reason, the connection table, the
        receive queue, the event stream, and per farm and backend: state, health, active and total connections, packets,
        bytes and drops by reason. --json prints the API's document (GET /stats). Prometheus reads the same counters
        from GET /metrics.

        """ + InstanceClient.OptionsHelp;

    public static readonly string StatusUsage = """
        usage: userlb status [--json] [--api URL] [--key KEY]

        One screen about the running instance: traffic rates, totals, the connection table's fill, the receive queue,
        and per farm its backends with their state, health, configured share of new connections and the share they got.
        Rates are measured between this request and one 1-10 s earlier (the first request waits a second).

        """ + InstanceClient.OptionsHelp;

    public static int Stats(string[] argv) => RunAsync(argv, StatsUsage, "stats?format=text", "stats", Console.Out, CancellationToken.None).GetAwaiter().GetResult();

    public static int Status(string[] argv) => RunAsync(argv, StatusUsage, "status", "status?format=json", Console.Out, CancellationToken.None).GetAwaiter().GetResult();

    public static Task<int> StatsAsync(string[] argv, TextWriter stdout, CancellationToken cancellationToken) =>
        RunAsync(argv, StatsUsage, "stats?format=text", "stats", stdout, cancellationToken);

    public static Task<int> StatusAsync(string[] argv, TextWriter stdout, CancellationToken cancellationToken) =>
        RunAsync(argv, StatusUsage, "status", "status?format=json", stdout, cancellationToken);

    private static async Task<int> RunAsync(string[] argv, string usage, string textPath, string jsonPath, TextWriter stdout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        var args = new Args(argv, ["api", "key"], ["json"]);
        if (args.Help) { await stdout.WriteLineAsync(usage).ConfigureAwait(false); return 0; }
        if (args.Positionals.Count > 0) throw new UsageException($"unexpected argument \"{args.Positionals[0]}\"");
        using var client = InstanceClient.FromArgs(args);
        string body = await client.GetStringAsync(args.Has("json") ? jsonPath : textPath, cancellationToken).ConfigureAwait(false);
        await stdout.WriteAsync(body).ConfigureAwait(false);
        if (!body.EndsWith('\n')) await stdout.WriteLineAsync().ConfigureAwait(false);
        return 0;
    }
}
