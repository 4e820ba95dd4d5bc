using UserLB.IO.Timeline;

namespace UserLB.Cli.Commands;

/// <summary><c>userlb timeline --events FILE.jsonl --out FILE.html</c>: the timeline page of an events file.</summary>
internal static class TimelineCommand
{
    public const string Usage = """
        usage: userlb timeline --events EVENTS.jsonl --out PAGE.html [--title TEXT]

        Draws conntrack's events as a timeline: one self-contained HTML page (inline SVG and script, nothing fetched),
        a lane per connection, its states as coloured bands, its frames as ticks (original direction above, reply below,
        labelled with the NAT translation and backend), its timers and its end. Hover for details; the wheel zooms.
          --events   JSON lines as userlb replay --events writes them (with --packet-events for the frames), or as
                     userlb conntrack -E -o json prints a live run's (states and timers only); - reads standard input
          --out      the page; - writes standard output
          --title    the name shown on the page (default: the events file's)
        Exit status 2 with a message naming the line for an events file with a bad line.
        """;

    public static int Run(string[] argv)
    {
        var args = new Args(argv, ["events", "out", "title"], []);
        if (args.Help) { Console.Out.WriteLine(Usage); return 0; }
        if (args.Positionals.Count > 0) throw new UsageException($"timeline: unexpected argument \"{args.Positionals[0]}\"");
        string eventsPath = args.Require("events");
        string outPath = args.Require("out");
        string name = eventsPath == "-" ? "standard input" : eventsPath;
        TimelineModel model;
        try
        {
            using var reader = eventsPath == "-" ? new StreamReader(Console.OpenStandardInput()) : new StreamReader(eventsPath);
            model = TimelineModel.Read(reader, name);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            throw new UsageException($"--events {eventsPath}: {ex.Message}");
        }
        string page = TimelinePage.Render(model, args.Get("title") ?? name);
        using var output = new StreamWriter(outPath == "-" ? Console.OpenStandardOutput() : ReplayCommand.Create(outPath, "--out"), new System.Text.UTF8Encoding(false));
        output.Write(page);
        Console.Error.WriteLine($"userlb timeline: {model.Lanes.Count} connection(s) drawn to {(outPath == "-" ? "standard output" : outPath)}");
        return 0;
    }
}
