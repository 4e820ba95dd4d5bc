using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using UserLB.Engine.Config;

namespace UserLB.Engine.Rules;

/// <summary>How <see cref="IptablesRules"/> writes the ruleset.</summary>
public enum IptablesFormat
{
    /// <summary>As <c>iptables -n -L</c> lists it (protocols by name, as in the reference).</summary>
    Listing,

    /// <summary>Input for <c>iptables-restore</c> / <c>ip6tables-restore</c> (the format of <c>iptables-save</c>).</summary>
    Save,
}

/// <summary>
/// The Zevenet L4xNAT ruleset equivalent to a configuration (REFERENCE.md §1): mangle PREROUTING restores the
/// connection mark, marks new packets for a VIP with one <c>statistic mode random</c> rule per backend (listed last
/// backend first, so the last match wins and backend i of n gets probability w_i / (w_i + … + w_{n-1}): exact shares
/// for any number of backends), and saves the mark; nat PREROUTING DNATs each mark to its backend and, in NAT mode,
/// nat POSTROUTING SNATs it. Marks are the engine's (0x200 up). A pure function of the configuration.
/// </summary>
public static class IptablesRules
{
    /// <summary>iptables' multiport takes at most 15 ports (a range counts twice).</summary>
    private const int MultiportSlots = 15;

    /// <param name="config">The farms.</param>
    /// <param name="format">Listing or iptables-restore input.</param>
    /// <param name="ipv6">false: the iptables (IPv4) ruleset; true: ip6tables'; null: both, IPv4 first (the IPv6 part
    /// only if some farm is IPv6).</param>
    public static string Generate(LoadBalancerConfig config, IptablesFormat format, bool? ipv6 = null)
    {
        var farms = RulesFarm.From(config);
        var sb = new StringBuilder();
        bool anyV4 = false, anyV6 = false;
        foreach (var f in farms)
        {
            if (f.IsV6) anyV6 = true;
            else anyV4 = true;
        }
        if (ipv6 == false || (ipv6 is null && (anyV4 || !anyV6))) Family(sb, farms, false, format);
        if (ipv6 == true || (ipv6 is null && anyV6))
        {
            if (sb.Length > 0) sb.Append('\n');
            Family(sb, farms, true, format);
        }
        return sb.ToString();
    }

    private static void Family(StringBuilder sb, ImmutableArray<RulesFarm> all, bool v6, IptablesFormat format)
    {
        string cmd = v6 ? "ip6tables" : "iptables";
        var farms = new List<RulesFarm>();
        foreach (var f in all)
        {
            if (f.IsV6 != v6) continue;
            if (f.Config.State != ObjectState.Up)
            {
                sb.Append(Inv($"# farm {f.Name} is {StateName(f.Config.State)}: no rules\n"));
                continue;
            }
            if (f.Config.Mode is FarmMode.Dsr or FarmMode.StlsDnat)
            {
                sb.Append(Inv($"# farm {f.Name} is {(f.Config.Mode == FarmMode.Dsr ? "dsr" : "stlsdnat")}: no iptables equivalent (layer-2 forwarding at ingress: userlb rules --nft)\n"));
                continue;
            }
            farms.Add(f);
            if (f.Config.Scheduler != SchedulerKind.Weight)
                sb.Append(Inv($"# farm {f.Name}: scheduler {SchedulerName(f.Config.Scheduler)} shown as weighted random (statistic), as Zevenet's iptables farms did\n"));
            if (f.Candidates.IsEmpty)
                sb.Append(Inv($"# farm {f.Name}: no backend can take new connections (none up with weight > 0 within the priority level)\n"));
        }

        var mangle = new List<Rule>();
        var mangleOut = new List<Rule>();
        mangle.Add(new Rule("CONNMARK", "all", null, "-j CONNMARK --restore-mark", "CONNMARK restore"));
        foreach (var f in farms)
        {
            string dst = f.VirtualAddress;
            // SYNPROXY sends the backend's SYN from the host itself: its mark and DNAT come from OUTPUT.
            if (f.SynProxy && mangleOut.Count == 0) mangleOut.Add(mangle[0]);
            for (int i = f.Candidates.Length - 1; i >= 0; i--)
            {
                var b = f.Candidates[i];
                string p = Probability(f.ProbabilityOf(i));
                foreach (var proto in f.Protocols)
                {
                    foreach (var ports in PortChunks(f.Config.VirtualPorts))
                    {
                        var save = new StringBuilder();
                        var list = new StringBuilder();
                        save.Append(Inv($"-m statistic --mode random --probability {p}"));
                        list.Append(Inv($"statistic mode random probability {p}"));
                        if (ports is not null)
                        {
                            save.Append(Inv($" -m multiport --dports {ports}"));
                            list.Append(Inv($" multiport dports {ports}"));
                        }
                        string comment = b.Comment(f.Name);
                        save.Append(Inv($" -m comment --comment {comment} -j MARK --set-xmark {Mark(b.Mark)}/0xffffffff"));
                        list.Append(Inv($" /* {comment} */ MARK set {Mark(b.Mark)}"));
                        mangle.Add(new Rule("MARK", proto, dst, save.ToString(), list.ToString()));
                        if (f.SynProxy && proto == "tcp") mangleOut.Add(mangle[^1]);
                    }
                }
            }
        }
        mangle.Add(new Rule("CONNMARK", "all", null, "-m state --state NEW -j CONNMARK --save-mark", "state NEW CONNMARK save"));
        if (mangleOut.Count > 0) mangleOut.Add(mangle[^1]);

        var pre = new List<Rule>();
        var post = new List<Rule>();
        var natOut = new List<Rule>();
        var raw = new List<Rule>();
        var input = new List<Rule>();
        foreach (var f in farms)
        {
            if (!f.SynProxy) continue;
            foreach (var ports in PortChunks(f.Config.VirtualPorts))
            {
                string save = ports is null ? "" : Inv($"-m multiport --dports {ports} ");
                string list = ports is null ? "" : Inv($"multiport dports {ports} ");
                string c = f.SynProxyComment;
                raw.Add(new Rule("CT", "tcp", f.VirtualAddress, Inv($"{save}-m tcp --syn -m comment --comment {c} -j CT --notrack"),
                    Inv($"{list}tcp flags:0x17/0x02 /* {c} */ CT notrack")));
                input.Add(new Rule("SYNPROXY", "tcp", f.VirtualAddress,
                    Inv($"{save}-m state --state INVALID,UNTRACKED -m comment --comment {c} -j SYNPROXY --sack-perm --timestamp --wscale {PacketEngine.SynProxyWindowScale} --mss {(v6 ? PacketEngine.SynProxyMss6 : PacketEngine.SynProxyMss4)}"),
                    Inv($"{list}state INVALID,UNTRACKED /* {c} */ SYNPROXY sack-perm timestamp wscale {PacketEngine.SynProxyWindowScale} mss {(v6 ? PacketEngine.SynProxyMss6 : PacketEngine.SynProxyMss4)}")));
                input.Add(new Rule("DROP", "tcp", f.VirtualAddress, Inv($"{save}-m state --state INVALID -m comment --comment {c} -j DROP"),
                    Inv($"{list}state INVALID /* {c} */")));
            }
        }
        foreach (var f in farms)
        {
            foreach (var proto in f.Protocols)
            {
                foreach (var b in f.Backends)
                {
                    string comment = b.Comment(f.Name);
                    string to = HostPort(b.Address.ToString(), b.Port, v6);
                    pre.Add(new Rule("DNAT", proto, null,
                        Inv($"-m mark --mark {Mark(b.Mark)} -m comment --comment {comment} -j DNAT --to-destination {to}"),
                        Inv($"mark match {Mark(b.Mark)} /* {comment} */ to:{to}")));
                    if (f.SynProxy && proto == "tcp") natOut.Add(pre[^1]);
                    if (b.SnatAddress is { } snat)
                    {
                        post.Add(new Rule("SNAT", proto, null,
                            Inv($"-m mark --mark {Mark(b.Mark)} -m comment --comment {comment} -j SNAT --to-source {snat}"),
                            Inv($"mark match {Mark(b.Mark)} /* {comment} */ to:{snat}")));
                    }
                }
            }
        }

        foreach (var f in farms)
        {
            foreach (var (target, save, list) in PolicyRules.IptablesRules(f, v6))
            {
                foreach (var proto in f.Protocols)
                {
                    foreach (var ports in PortChunks(f.Config.VirtualPorts))
                    {
                        raw.Add(new Rule(target, proto, f.VirtualAddress, (ports is null ? "" : Inv($"-m multiport --dports {ports} ")) + save,
                            (ports is null ? "" : Inv($"multiport dports {ports} ")) + list));
                    }
                }
            }
        }
        PolicyRules.Ipsets(sb, farms, v6);

        if (raw.Count > 0 && farms.Exists(f => f.SynProxy))
            sb.Append(Inv($"# SYN proxy: a SYN to the farm is not tracked; SYNPROXY answers it with a cookie and, for the client's ACK (INVALID with\n# sysctl -w net.netfilter.nf_conntrack_tcp_loose=0), sends the backend a SYN from the host, marked and DNATed in OUTPUT\n"));
        if (format == IptablesFormat.Save)
        {
            sb.Append(Inv($"# {cmd}-restore input (userlb rules --format save)\n"));
            if (raw.Count > 0)
            {
                sb.Append("*raw\n");
                foreach (var r in raw) sb.Append(r.Save("PREROUTING", v6));
                sb.Append("COMMIT\n");
            }
            sb.Append("*mangle\n");
            foreach (var r in mangle) sb.Append(r.Save("PREROUTING", v6));
            foreach (var r in mangleOut) sb.Append(r.Save("OUTPUT", v6));
            sb.Append("COMMIT\n*nat\n");
            foreach (var r in pre) sb.Append(r.Save("PREROUTING", v6));
            foreach (var r in natOut) sb.Append(r.Save("OUTPUT", v6));
            foreach (var r in post) sb.Append(r.Save("POSTROUTING", v6));
            sb.Append("COMMIT\n");
            if (input.Count > 0)
            {
                sb.Append("*filter\n");
                foreach (var r in input) sb.Append(r.Save("INPUT", v6));
                sb.Append("COMMIT\n");
            }
            return;
        }

        if (raw.Count > 0)
        {
            sb.Append(Inv($"# {cmd} -t raw -n -L PREROUTING\n"));
            Chain(sb, "PREROUTING", raw, v6);
        }
        sb.Append(Inv($"# {cmd} -t mangle -n -L PREROUTING\n"));
        Chain(sb, "PREROUTING", mangle, v6);
        if (mangleOut.Count > 0)
        {
            sb.Append(Inv($"# {cmd} -t mangle -n -L OUTPUT\n"));
            Chain(sb, "OUTPUT", mangleOut, v6);
        }
        sb.Append(Inv($"# {cmd} -t nat -n -L PREROUTING\n"));
        Chain(sb, "PREROUTING", pre, v6);
        if (natOut.Count > 0)
        {
            sb.Append(Inv($"# {cmd} -t nat -n -L OUTPUT\n"));
            Chain(sb, "OUTPUT", natOut, v6);
        }
        sb.Append(Inv($"# {cmd} -t nat -n -L POSTROUTING\n"));
        Chain(sb, "POSTROUTING", post, v6);
        if (input.Count > 0)
        {
            sb.Append(Inv($"# {cmd} -n -L INPUT\n"));
            Chain(sb, "INPUT", input, v6);
        }
    }

    private static void Chain(StringBuilder sb, string name, List<Rule> rules, bool v6)
    {
        sb.Append(Inv($"Chain {name} (policy ACCEPT)\n"));
        sb.Append("target     prot opt source               destination         \n");
        foreach (var r in rules) sb.Append(r.List(v6));
    }

    /// <summary>The virtual ports as multiport lists of at most 15 slots; one null entry when the farm takes every port.</summary>
    private static List<string?> PortChunks(ImmutableArray<PortRange> ports)
    {
        var chunks = new List<string?>();
        if (ports.IsDefaultOrEmpty)
        {
            chunks.Add(null);
            return chunks;
        }
        var sb = new StringBuilder();
        int used = 0;
        foreach (var r in ports)
        {
            int slots = r.First == r.Last ? 1 : 2;
            if (used + slots > MultiportSlots)
            {
                chunks.Add(sb.ToString());
                sb.Clear();
                used = 0;
            }
            if (sb.Length > 0) sb.Append(',');
            sb.Append(r.First == r.Last ? Inv($"{r.First}") : Inv($"{r.First}:{r.Last}"));
            used += slots;
        }
        chunks.Add(sb.ToString());
        return chunks;
    }

    /// <summary>As iptables stores and prints it: a 31-bit fraction, printed with 11 decimals.</summary>
    internal static string Probability(double p)
    {
        long q = (long)Math.Round(p * 0x80000000L, MidpointRounding.AwayFromZero);
        return (q / (double)0x80000000L).ToString("F11", CultureInfo.InvariantCulture);
    }

    internal static string Mark(uint mark) => "0x" + mark.ToString("x", CultureInfo.InvariantCulture);

    private static string HostPort(string host, ushort port, bool v6) =>
        port == 0 ? host : v6 ? Inv($"[{host}]:{port}") : Inv($"{host}:{port}");

    private static string StateName(ObjectState s) => s.ToString().ToLowerInvariant();

    internal static string SchedulerName(SchedulerKind s) => s switch
    {
        SchedulerKind.RoundRobin => "rr",
        SchedulerKind.Weight => "weight",
        SchedulerKind.Hash => "hash",
        _ => "symhash",
    };

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private sealed record Rule(string Target, string Protocol, string? Destination, string SaveArgs, string ListText)
    {
        public string Save(string chain, bool v6)
        {
            var sb = new StringBuilder("-A ").Append(chain);
            if (Destination is not null) sb.Append(" -d ").Append(Destination).Append(v6 ? "/128" : "/32");
            if (Protocol != "all") sb.Append(" -p ").Append(Protocol);
            return sb.Append(' ').Append(SaveArgs).Append('\n').ToString();
        }

        public string List(bool v6)
        {
            string any = v6 ? "::/0" : "0.0.0.0/0";
            return string.Create(CultureInfo.InvariantCulture,
                $"{Target,-10} {Protocol,-4} {"--",-3} {any,-20} {Destination ?? any,-20} {ListText}\n");
        }
    }
}
