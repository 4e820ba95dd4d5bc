using UserLB.Cli;
using UserLB.Cli.Commands;
using UserLB.Engine.Config;

const string TopUsage = """
    usage: userlb <command> [options]

    commands:
      run      forward live on interfaces (userlb run --help)
      check    check a configuration as userlb run would load it: errors, and keys that do nothing here (userlb check --help)
      replay   run the engine offline over a capture (userlb replay --help)
      timeline draw conntrack events (replay --events, conntrack -E -o json) as an HTML timeline (userlb timeline --help)
      rules    print the equivalent iptables / nftables ruleset (userlb rules --help)
      maglev   a hash farm's Maglev table and the flows that move when backends go down (userlb maglev --help)
      conntrack  the running instance's connection table: -L list, -E events, -D delete, -C count (userlb conntrack --help)
      stats    the running instance's counters per farm and backend (userlb stats --help)
      status   a one-screen summary of the running instance (userlb status --help)
      drain    stop being ready (the VIP is withdrawn) and let connections finish (userlb drain --help)
      version  print the version

    Every command takes --help.
    """;

if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
{
    Console.Out.WriteLine(TopUsage);
    return args.Length == 0 ? 2 : 0;
}

try
{
    return args[0] switch
    {
        "replay" => ReplayCommand.Run(args[1..]),
        "timeline" => TimelineCommand.Run(args[1..]),
        "run" => RunCommand.Run(args[1..]),
        "check" => CheckCommand.Run(args[1..]),
        "rules" => RulesCommand.Run(args[1..]),
        "maglev" => MaglevCommand.Run(args[1..]),
        "conntrack" => ConntrackCommand.Run(args[1..]),
        "stats" => ViewCommands.Stats(args[1..]),
        "status" => ViewCommands.Status(args[1..]),
        "drain" => DrainCommand.Run(args[1..]),
        "version" or "--version" => Version(),
        _ => throw new UsageException($"unknown command \"{args[0]}\" (try userlb --help)"),
    };
}
catch (UserLB.Cli.Views.InstanceException ex)
{
    Console.Error.WriteLine($"userlb: {ex.Message}");
    return 1;
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"userlb: {ex.Message}");
    return 2;
}
catch (ConfigException ex)
{
    Console.Error.WriteLine($"userlb: invalid config: {ex.Message}");
    return 2;
}
catch (UserLB.Cli.Api.Nftlb.NftlbException ex) // a file the engine's parser takes but nftlb's objects do not (e.g. a backend's fqdn)
{
    Console.Error.WriteLine($"userlb: invalid config: {ex.Message}");
    return 2;
}
catch (InvalidDataException ex)
{
    Console.Error.WriteLine($"userlb: {ex.Message}");
    return 2;
}
catch (InvalidOperationException ex)
{
    Console.Error.WriteLine($"userlb: {ex.Message}");
    return 2;
}
catch (IOException ex)
{
    Console.Error.WriteLine($"userlb: {ex.Message}");
    return 2;
}

static int Version()
{
    Console.Out.WriteLine("userlb " + (typeof(UsageException).Assembly.GetName().Version?.ToString() ?? "0"));
    return 0;
}
