using UserLB.Engine.Balancing;

namespace UserLB.Cli.Commands;

/// <summary><c>userlb maglev</c>: a hash farm's Maglev table, and how many flows move when backends go down and come back.</summary>
internal static class MaglevCommand
{
    public const string Usage = """
        usage: userlb maglev --config FARMS.json [--farm NAME] [--down NAME[,NAME...]] [--flows N]

        Prints the Maglev table of a farm with scheduler hash or symhash (default: the first such farm): a fingerprint
        of the whole table, the same in every process and on every instance given the same configuration, and each
        backend's share of its slots. With --down, the table with those backends down: how many of N sample flows
        (default 100000, clients drawn from a fixed seed) move, how many of them were on the backends taken down, how
        many flows of the other backends move, and whether bringing the backends back restores the first table.
        """;

    public static int Run(string[] argv)
    {
        var args = new Args(argv, ["config", "farm", "down", "flows"], []);
        if (args.Help) { Console.Out.WriteLine(Usage); return 0; }
        var config = ConfigLoader.Load(args.Require("config"));
        string[] down = args.Get("down") is { } d ? d.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
        args.TryGetInt("flows", out int? flows);
        if (flows is < 1 or > 10_000_000) throw new UsageException("option --flows: 1 to 10000000");
        Console.Out.Write(MaglevReport.Describe(config, args.Get("farm"), down, flows ?? 100_000));
        return 0;
    }
}
