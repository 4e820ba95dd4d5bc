using UserLB.Engine.Rules;

namespace UserLB.Cli.Commands;

/// <summary><c>userlb rules</c>: the kernel ruleset (iptables or nftables) equivalent to a configuration.</summary>
internal static class RulesCommand
{
    public const string Usage = """
        usage: userlb rules --config FARMS.json [--nft] [--format list|save] [--family ipv4|ipv6]

        Prints the netfilter ruleset that does what the configuration asks, as Zevenet's L4xNAT farms did with iptables:
        mangle PREROUTING (CONNMARK restore; per backend a MARK rule with statistic mode random, exact shares; CONNMARK save)
        and nat PREROUTING DNAT / POSTROUTING SNAT (NAT mode) by mark. Marks are the ones userlb gives the backends (0x200 up).
          --format list   as `iptables -n -L` lists it (default)
          --format save   input for iptables-restore (paste with `iptables-restore --noflush < FILE`)
          --family        only the IPv4 (iptables) or IPv6 (ip6tables) part (default: both)
          --nft           the nftables equivalent in nftlb's style instead (load with `nft -f FILE`)
        """;

    public static int Run(string[] argv)
    {
        var args = new Args(argv, ["config", "format", "family"], ["nft"]);
        if (args.Help) { Console.Out.WriteLine(Usage); return 0; }
        var config = ConfigLoader.Load(args.Require("config"));
        var format = (args.Get("format") ?? "list") switch
        {
            "list" or "listing" => IptablesFormat.Listing,
            "save" or "restore" => IptablesFormat.Save,
            var other => throw new UsageException($"option --format: \"{other}\" is not list or save"),
        };
        bool? ipv6 = args.Get("family") switch
        {
            null => null,
            "ipv4" => false,
            "ipv6" => true,
            var other => throw new UsageException($"option --family: \"{other}\" is not ipv4 or ipv6"),
        };
        if (args.Has("nft"))
        {
            if (args.Has("format") || args.Has("family")) throw new UsageException("--format and --family apply to the iptables output, not --nft");
            Console.Out.Write(NftRules.Generate(config));
        }
        else
        {
            Console.Out.Write(IptablesRules.Generate(config, format, ipv6));
        }
        return 0;
    }
}
