using System.Globalization;
using System.Text;
using System.Text.Json;
using UserLB.Cli.Views;
using UserLB.Engine.Conntrack;

namespace UserLB.Cli.Commands;

/// <summary><c>userlb conntrack -L|-E|-D|-C</c>: the running instance's connection table, as conntrack shows the kernel's.</summary>
internal static class ConntrackCommand
{
    public static readonly string Usage = BuildUsage();

    private static string BuildUsage()
    {
        var sb = new StringBuilder("""
            usage: userlb conntrack -L|-E|-D|-C [FILTER...] [-o FORMAT] [--api URL] [--key KEY]

            The running instance's connection table, in conntrack's formats.
              -L, --dump     list the entries, as conntrack -L prints them
              -E, --event    print events as they happen, as conntrack -E does: [NEW], [UPDATE] (state change, first reply,
                             assured), [DESTROY]; until Ctrl-C. Lost events (the client reads too slowly) are reported.
              -e, --event-mask LIST  with -E: only these events (NEW,UPDATE,DESTROY)
              -D, --delete   delete the matching entries (every entry when no filter is given), printing each as
                             conntrack -D does
              -C, --count    print how many entries match
              -o, --output LIST  as conntrack's -o: extended (the layer-3 protocol first), id (the entry's id last),
                             timestamp (with -E: the event's time first); or json alone (one JSON object per line: the
                             fields of userlb replay --events; -E gives a live run's event stream)

            FILTER (every one given must match):

            """);
        foreach (var (_, options, help) in ConntrackFilter.Keys)
            sb.Append(CultureInfo.InvariantCulture, $"  {string.Join(", ", options),-34} {help}\n");
        sb.Append('\n').Append(InstanceClient.OptionsHelp).Append('\n');
        sb.Append("""

            Examples: userlb conntrack -L -p tcp --dport 443 --state ESTABLISHED
                      userlb conntrack -D --farm app --backend bck1        (cut a backend's connections)
                      userlb conntrack -E -e NEW,DESTROY --src 192.168.101.0/24
                      userlb conntrack -E -o json > run.jsonl; userlb timeline --events run.jsonl --out run.html
            """);
        return sb.ToString();
    }

    private static readonly string[] Commands = ["L", "dump", "E", "event", "D", "delete", "C", "count"];

    public static int Run(string[] argv)
    {
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            return RunAsync(argv, Console.Out, Console.Error, cts.Token).GetAwaiter().GetResult();
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    public static async Task<int> RunAsync(string[] argv, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var valued = new List<string> { "api", "key", "e", "event-mask", "o", "output" };
        foreach (var (_, options, _) in ConntrackFilter.Keys)
            foreach (var o in options) valued.Add(o.TrimStart('-'));
        var args = new Args(argv, valued, Commands);
        if (args.Help) { await stdout.WriteLineAsync(Usage).ConfigureAwait(false); return 0; }
        if (args.Positionals.Count > 0) throw new UsageException($"conntrack: unexpected argument \"{args.Positionals[0]}\"");
        string? command = null;
        foreach (var (shortName, longName) in new[] { ("L", "dump"), ("E", "event"), ("D", "delete"), ("C", "count") })
        {
            if (!args.Has(shortName) && !args.Has(longName)) continue;
            if (command is not null) throw new UsageException("conntrack: give one of -L, -E, -D, -C");
            command = shortName;
        }
        if (command is null) throw new UsageException("conntrack: give one of -L, -E, -D, -C (userlb conntrack --help)");

        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var (key, options, _) in ConntrackFilter.Keys)
        {
            foreach (var o in options)
                if (args.Get(o.TrimStart('-')) is { } v) pairs.Add(KeyValuePair.Create(key, v));
        }

        ConntrackFilter filter;
        try
        {
            filter = ConntrackFilter.Parse(pairs);
        }
        catch (ConntrackFilterException ex)
        {
            throw new UsageException("conntrack: " + ex.Message);
        }
        string query = filter.ToQueryString();
        string? mask = args.Get("e") ?? args.Get("event-mask");
        if (mask is not null)
        {
            if (command != "E") throw new UsageException("conntrack: --event-mask goes with -E");
            ParseEventMask(mask);
            query += (query.Length == 0 ? "?" : "&") + "events=" + Uri.EscapeDataString(mask);
        }

        if ((args.Get("o") ?? args.Get("output")) is { } outputText)
        {
            if (command == "C") throw new UsageException("conntrack: --output goes with -L, -E or -D");
            if (!ConntrackFormatter.TryParseOutput(outputText, out var output, out string? why)) throw new UsageException("conntrack: " + why);
            if (command != "E" && (output & ConntrackOutput.Timestamp) != 0) throw new UsageException("conntrack: --output timestamp goes with -E");
            query += (query.Length == 0 ? "?" : "&") + "output=" + Uri.EscapeDataString(ConntrackFormatter.OutputText(output));
        }

        using var client = InstanceClient.FromArgs(args);
        switch (command)
        {
            case "L":
            {
                long n = await client.ReadLinesAsync(HttpMethod.Get, "conntrack" + query, line => stdout.WriteLine(line), cancellationToken).ConfigureAwait(false);
                await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                await stderr.WriteLineAsync(Inv($"userlb conntrack: {n} flow entries have been shown.")).ConfigureAwait(false);
                return 0;
            }
            case "C":
            {
                string text = await client.GetStringAsync("conntrack/count" + query, cancellationToken).ConfigureAwait(false);
                await stdout.WriteLineAsync(text.Trim()).ConfigureAwait(false);
                return 0;
            }
            case "D":
            {
                // As conntrack -D: each deleted entry (as it was) on standard output, then the count on standard error.
                using var reply = await client.SendAsync(HttpMethod.Delete, "conntrack" + query + (query.Length == 0 ? "?" : "&") + "entries=1", cancellationToken).ConfigureAwait(false);
                string body = await reply.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                using var doc = JsonDocument.Parse(body);
                long deleted = doc.RootElement.GetProperty("deleted").GetInt64();
                if (doc.RootElement.TryGetProperty("entries", out var entries))
                    foreach (var line in entries.EnumerateArray()) await stdout.WriteLineAsync(line.GetString()).ConfigureAwait(false);
                await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
                await stderr.WriteLineAsync(Inv($"userlb conntrack: {deleted} flow entries have been deleted.")).ConfigureAwait(false);
                return 0;
            }
            default:
            {
                try
                {
                    await client.ReadLinesAsync(HttpMethod.Get, "conntrack/events" + query, line =>
                    {
                        stdout.WriteLine(line);
                        stdout.Flush();
                    }, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return 0; // Ctrl-C
                }
                throw new InstanceException($"the instance at {client.BaseAddress.GetLeftPart(UriPartial.Authority)} ended the event stream (stopped?)");
            }
        }
    }

    /// <summary>NEW,UPDATE,DESTROY (any case, ALL) → the set; a bad name throws <see cref="UsageException"/>.</summary>
    public static HashSet<ConnEventType> ParseEventMask(string mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        var set = new HashSet<ConnEventType>();
        foreach (var part in mask.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            switch (part.ToUpperInvariant())
            {
                case "NEW": set.Add(ConnEventType.New); break;
                case "UPDATE": set.Add(ConnEventType.Update); break;
                case "DESTROY": set.Add(ConnEventType.Destroy); break;
                case "ALL": set.UnionWith([ConnEventType.New, ConnEventType.Update, ConnEventType.Destroy]); break;
                default: throw new UsageException($"conntrack: event mask \"{mask}\": \"{part}\" is not NEW, UPDATE, DESTROY or ALL");
            }
        }
        if (set.Count == 0) throw new UsageException($"conntrack: event mask \"{mask}\" is empty");
        return set;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
