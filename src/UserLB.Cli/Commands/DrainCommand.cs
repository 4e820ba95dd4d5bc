using System.Globalization;
using System.Text.Json;
using UserLB.Cli.Views;

namespace UserLB.Cli.Commands;

/// <summary><c>userlb drain</c>: asks the running instance to drain (GET /ready turns 503, so the VIP is withdrawn) and
/// optionally waits for its established TCP connections to finish.</summary>
internal static class DrainCommand
{
    public static readonly string Usage = """
        usage: userlb drain [--undo] [--wait SECONDS] [--api URL] [--key KEY]

        Drains the running instance: its GET /ready answers 503 from now on, so the routing speaker beside it (BIRD,
        FRR, ExaBGP… driven by lab/announce.py or any health checker) withdraws the VIP and the router sends it no
        new flows. The instance keeps forwarding whatever still arrives, so its connections finish where they are.
          --wait SECONDS   then wait up to SECONDS for its established TCP connections to reach 0, printing the count
                           each second (exit status 3 if some remain)
          --undo           serve again (GET /ready answers 200; the speaker announces the VIP again)

        """ + InstanceClient.OptionsHelp;

    public static int Run(string[] argv) => RunAsync(argv, Console.Out, TimeProvider.System, CancellationToken.None).GetAwaiter().GetResult();

    public static async Task<int> RunAsync(string[] argv, TextWriter stdout, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(time);
        var args = new Args(argv, ["api", "key", "wait"], ["undo"]);
        if (args.Help) { await stdout.WriteLineAsync(Usage).ConfigureAwait(false); return 0; }
        if (args.Positionals.Count > 0) throw new UsageException($"unexpected argument \"{args.Positionals[0]}\"");
        int wait = 0;
        if (args.Get("wait") is { } w && (!int.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out wait) || wait > 86_400))
            throw new UsageException($"option --wait: \"{w}\" is not a number of seconds (0-86400)");
        if (args.Has("undo") && args.Get("wait") is not null) throw new UsageException("--undo and --wait do not go together");
        using var client = InstanceClient.FromArgs(args);
        if (args.Has("undo"))
        {
            using (await client.SendAsync(HttpMethod.Delete, "drain", cancellationToken).ConfigureAwait(false)) { }
            await stdout.WriteLineAsync("serving: GET /ready answers 200, the VIP is announced again").ConfigureAwait(false);
            return 0;
        }
        string body;
        using (var reply = await client.SendAsync(HttpMethod.Post, "drain", cancellationToken).ConfigureAwait(false))
            body = await reply.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        int established = Established(body);
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"draining: GET /ready answers 503, the VIP is withdrawn; {established} established TCP connection(s)")).ConfigureAwait(false);
        var deadline = time.GetUtcNow().AddSeconds(wait);
        while (established > 0 && time.GetUtcNow() < deadline)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken).ConfigureAwait(false);
            established = int.Parse((await client.GetStringAsync("conntrack/count?state=ESTABLISHED", cancellationToken).ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  {established} established")).ConfigureAwait(false);
        }
        if (wait > 0 && established > 0)
        {
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{established} connection(s) still established after {wait} s")).ConfigureAwait(false);
            return 3;
        }
        if (wait > 0) await stdout.WriteLineAsync("drained: no established connection left").ConfigureAwait(false);
        return 0;
    }

    private static int Established(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("established", out var e) && e.TryGetInt32(out int n) ? n : 0;
        }
        catch (JsonException)
        {
            throw new InstanceException("the instance's reply to POST /drain is not JSON");
        }
    }
}
