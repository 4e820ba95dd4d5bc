using System.Globalization;
using System.Text;
using UserLB.Engine.Config;

namespace UserLB.Engine.Rules;

/// <summary>
/// nftlb's policies as kernel rules, checked per packet before conntrack as nftlb's netdev ingress does: for nft a named
/// interval set per policy (<c>flags interval</c>, <c>counter</c>, <c>auto-merge</c>, as nftlb declares them) and, per
/// farm, a chain of <c>ip saddr @NAME drop</c> (blacklist) and <c>ip saddr @NAME return</c> (whitelist: past the later
/// policies) in the farm's order; for iptables <c>ipset</c> sets (as comments to run first) matched in the raw table,
/// where ACCEPT ends the policy checks. A verdict without drop (or accept) only logs.
/// </summary>
internal static class PolicyRules
{
    /// <summary>The policies the farms use, each once, in the farms' order.</summary>
    public static List<PolicyConfig> Used(IEnumerable<RulesFarm> farms)
    {
        var used = new List<PolicyConfig>();
        foreach (var f in farms)
        {
            foreach (var p in f.Policies)
                if (!used.Contains(p)) used.Add(p);
        }
        return used;
    }

    /// <summary>The nft set of <paramref name="p"/>'s elements of one family.</summary>
    public static void NftSet(StringBuilder sb, PolicyConfig p, bool v6, string name)
    {
        sb.Append(Inv($"\tset {name} {{\n\t\ttype {(v6 ? "ipv6_addr" : "ipv4_addr")}\n\t\tflags interval\n\t\tcounter\n\t\tauto-merge\n"));
        var elements = Elements(p, v6);
        if (elements.Count > 0) sb.Append("\t\telements = { ").Append(string.Join(", ", elements)).Append(" }\n");
        sb.Append("\t}\n\n");
    }

    /// <summary>The chain <c>policies-FARM</c>: one rule per policy, in the farm's order.</summary>
    public static void NftChain(StringBuilder sb, RulesFarm f, bool v6, Func<PolicyConfig, string> setName)
    {
        sb.Append(Inv($"\tchain policies-{f.Name} {{\n"));
        foreach (var p in f.Policies)
        {
            bool black = p.Type == PolicyType.Blacklist;
            string log = f.Verdict.Contains("log", StringComparison.Ordinal) ? Inv($" log prefix \"{Prefix(p, f)} \"") : "";
            string verdict = black ? (f.Verdict.Contains("drop", StringComparison.Ordinal) ? " drop" : "")
                : (f.Verdict.Contains("accept", StringComparison.Ordinal) ? " return" : "");
            sb.Append(Inv($"\t\t{(v6 ? "ip6" : "ip")} saddr @{setName(p)} counter{log}{verdict}\n"));
        }
        sb.Append("\t}\n");
    }

    /// <summary>The ipset commands that make the sets the iptables rules match (run before loading them).</summary>
    public static void Ipsets(StringBuilder sb, IEnumerable<RulesFarm> farms, bool v6)
    {
        foreach (var p in Used(farms))
        {
            string name = IpsetName(p, v6);
            sb.Append(Inv($"# ipset create {name} hash:net family {(v6 ? "inet6" : "inet")} -exist\n"));
            foreach (var e in Elements(p, v6)) sb.Append(Inv($"# ipset add {name} {e} -exist\n"));
        }
    }

    /// <summary>The raw PREROUTING rules of a farm's policies: target, the match's save and listing forms, per policy.</summary>
    public static IEnumerable<(string Target, string Save, string List)> IptablesRules(RulesFarm f, bool v6)
    {
        foreach (var p in f.Policies)
        {
            bool black = p.Type == PolicyType.Blacklist;
            bool act = f.Verdict.Contains(black ? "drop" : "accept", StringComparison.Ordinal);
            string name = IpsetName(p, v6);
            string match = Inv($"-m set --match-set {name} src");
            string listed = Inv($"match-set {name} src");
            if (act)
            {
                string target = black ? "DROP" : "ACCEPT";
                yield return (target, Inv($"{match} -j {target}"), listed);
            }
            else
            {
                yield return ("LOG", Inv($"{match} -j LOG --log-prefix \"{Prefix(p, f)} \""), Inv($"{listed} LOG flags 0 level 4 prefix \"{Prefix(p, f)} \""));
            }
        }
    }

    /// <summary>The set's name for one family: the policy's own, with <c>-ip6</c> for its IPv6 elements where both share a table.</summary>
    public static string IpsetName(PolicyConfig p, bool v6) => v6 ? p.Name + "-ip6" : p.Name;

    private static List<string> Elements(PolicyConfig p, bool v6)
    {
        var list = new List<string>();
        foreach (var e in p.Elements)
            if (e.V6 == v6) list.Add(e.Text);
        return list;
    }

    private static string Prefix(PolicyConfig p, RulesFarm f) => Inv($"policy-{(p.Type == PolicyType.Blacklist ? "BL" : "WL")}-{p.Name}-{f.Name}");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
