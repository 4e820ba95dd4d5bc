using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using UserLB.Engine.Config;

namespace UserLB.Engine.Rules;

/// <summary>
/// The nftables ruleset equivalent to a configuration, in nftlb's style (one <c>table ip nftlb</c> / <c>table ip6
/// nftlb</c>; <c>proto . vip . port</c> verdict maps into per-farm chains; the filter chain restores the packet mark
/// from the connection and gives new connections a backend's mark with <c>numgen random mod W map { ranges : mark }</c>;
/// the nat chain DNATs by connection mark; postrouting SNATs by mark in NAT mode). Marks are the engine's (0x200 up)
/// rather than nftlb's 0x80000000 ones. rr becomes <c>numgen inc</c>, hash <c>jhash</c> and symhash <c>symhash</c>.
/// Load with <c>nft -f</c>. A pure function of the configuration.
/// </summary>
public static class NftRules
{
    /// <summary>The ruleset for every family the configuration uses.</summary>
    public static string Generate(LoadBalancerConfig config)
    {
        var farms = RulesFarm.From(config);
        var sb = new StringBuilder();
        bool v4 = false, v6 = false;
        foreach (var f in farms)
        {
            if (f.Config.State != ObjectState.Up)
            {
                sb.Append(Inv($"# farm {f.Name} is {f.Config.State.ToString().ToLowerInvariant()}: no rules\n"));
                continue;
            }
            if (f.IsNetdev) continue;
            if (f.IsV6) v6 = true; else v4 = true;
        }
        bool netdev = farms.Any(f => f.IsNetdev && f.Config.State == ObjectState.Up);
        if (v4 || (!v6 && !netdev)) Table(sb, farms, false);
        if (v6) Table(sb, farms, true);
        if (netdev) NftNetdevRules.Table(sb, farms);
        return sb.ToString();
    }

    private static void Table(StringBuilder sb, ImmutableArray<RulesFarm> all, bool v6)
    {
        var farms = new List<RulesFarm>();
        foreach (var f in all)
            if (f.IsV6 == v6 && f.Config.State == ObjectState.Up && !f.IsNetdev) farms.Add(f);

        string suffix = v6 ? "6" : "";
        string addrType = v6 ? "ipv6_addr" : "ipv4_addr";
        string l3 = v6 ? "ip6" : "ip";
        string l4proto = v6 ? "ip6 nexthdr" : "ip protocol";

        var elements = new List<string>();
        var allPorts = new List<(string Proto, RulesFarm Farm)>();
        bool interval = false;
        foreach (var f in farms)
        {
            foreach (var proto in f.Protocols)
            {
                if (f.Config.VirtualPorts.IsDefaultOrEmpty)
                {
                    allPorts.Add((proto, f));
                    continue;
                }
                foreach (var r in f.Config.VirtualPorts)
                {
                    interval |= r.First != r.Last;
                    elements.Add(Inv($"{proto} . {f.VirtualAddress} . {r} : goto {{0}}-{f.Name}"));
                }
            }
        }
        var backM = new List<string>();
        foreach (var f in farms)
        {
            foreach (var b in f.Backends)
                if (b.SnatAddress is { } snat) backM.Add(Inv($"{Mark(b.Mark)} : {snat}"));
        }

        sb.Append(Inv($"table {l3} nftlb {{\n"));
        foreach (var p in PolicyRules.Used(farms)) PolicyRules.NftSet(sb, p, v6, p.Name);
        ServiceMap(sb, "nat-proto-services" + suffix, addrType, interval, elements, "nat");
        sb.Append(Inv($"\tmap proto-services{suffix}-back-m {{\n\t\ttype mark : {addrType}\n"));
        if (backM.Count > 0) sb.Append("\t\telements = { ").Append(string.Join(", ", backM)).Append(" }\n");
        sb.Append("\t}\n\n");
        ServiceMap(sb, "filter-proto-services" + suffix, addrType, interval, elements, "filter");

        sb.Append("\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
        sb.Append(Inv($"\t\t{l4proto} . {l3} daddr . th dport vmap @nat-proto-services{suffix}\n"));
        foreach (var (proto, f) in allPorts)
            sb.Append(Inv($"\t\t{l4proto} {proto} {l3} daddr {f.VirtualAddress} goto nat-{f.Name}\n"));
        sb.Append("\t}\n\n");

        sb.Append("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
        sb.Append(Inv($"\t\tsnat to ct mark map @proto-services{suffix}-back-m\n"));
        sb.Append("\t}\n\n");

        sb.Append("\tchain filter {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n");
        sb.Append("\t\tmeta mark set ct mark\n");
        sb.Append(Inv($"\t\t{l4proto} . {l3} daddr . th dport vmap @filter-proto-services{suffix}\n"));
        foreach (var (proto, f) in allPorts)
            sb.Append(Inv($"\t\t{l4proto} {proto} {l3} daddr {f.VirtualAddress} goto filter-{f.Name}\n"));
        sb.Append("\t}\n");
        SynProxyChains(sb, farms, l3, l4proto, suffix, v6);
        PolicyChains(sb, farms, l3, v6);

        foreach (var f in farms)
        {
            sb.Append(Inv($"\n\tchain filter-{f.Name} {{\n"));
            sb.Append("\t\t").Append(MarkRule(f, l3)).Append('\n');
            sb.Append("\t}\n");
            sb.Append(Inv($"\n\tchain nat-{f.Name} {{\n"));
            bool anyPort = false;
            foreach (var b in f.Backends) anyPort |= b.Port != 0;
            if (!anyPort)
            {
                var pairs = new List<string>();
                foreach (var b in f.Backends) pairs.Add(Inv($"{Mark(b.Mark)} : {b.Address}"));
                if (pairs.Count > 0) sb.Append("\t\tdnat to ct mark map { ").Append(string.Join(", ", pairs)).Append(" }\n");
            }
            else
            {
                // A port rewrite needs a transport protocol match in nftables: one rule per protocol.
                foreach (var b in f.Backends)
                {
                    if (b.Port == 0)
                    {
                        sb.Append(Inv($"\t\tct mark {Mark(b.Mark)} dnat to {b.Address}\n"));
                        continue;
                    }
                    string to = v6 ? Inv($"[{b.Address}]:{b.Port}") : Inv($"{b.Address}:{b.Port}");
                    foreach (var proto in f.Protocols)
                        sb.Append(Inv($"\t\tmeta l4proto {proto} ct mark {Mark(b.Mark)} dnat to {to}\n"));
                }
            }
            sb.Append("\t}\n");
        }
        sb.Append("}\n");
    }

    /// <summary>
    /// SYN-proxied farms: their SYNs are not tracked (raw), the synproxy statement answers them and, for the client's
    /// ACK (invalid: load with <c>sysctl -w net.netfilter.nf_conntrack_tcp_loose=0</c>), sends the backend a SYN from
    /// the host, which the output chains mark and DNAT as prerouting does for forwarded connections.
    /// </summary>
    private static void SynProxyChains(StringBuilder sb, List<RulesFarm> farms, string l3, string l4proto, string suffix, bool v6)
    {
        var proxied = farms.FindAll(f => f.SynProxy);
        if (proxied.Count == 0) return;
        ushort mss = v6 ? PacketEngine.SynProxyMss6 : PacketEngine.SynProxyMss4;
        sb.Append("\n\t# SYN proxy (sysctl -w net.netfilter.nf_conntrack_tcp_loose=0)\n");
        sb.Append("\tchain synproxy-raw {\n\t\ttype filter hook prerouting priority raw; policy accept;\n");
        foreach (var f in proxied)
            sb.Append(Inv($"\t\t{l3} daddr {f.VirtualAddress} tcp dport {Ports(f)} tcp flags syn / fin,syn,rst,ack notrack comment \"{f.SynProxyComment}\"\n"));
        sb.Append("\t}\n\n\tchain synproxy-input {\n\t\ttype filter hook input priority filter; policy accept;\n");
        foreach (var f in proxied)
        {
            sb.Append(Inv($"\t\t{l3} daddr {f.VirtualAddress} tcp dport {Ports(f)} ct state invalid,untracked synproxy mss {mss} wscale {PacketEngine.SynProxyWindowScale} timestamp sack-perm comment \"{f.SynProxyComment}\"\n"));
            sb.Append(Inv($"\t\t{l3} daddr {f.VirtualAddress} tcp dport {Ports(f)} ct state invalid drop comment \"{f.SynProxyComment}\"\n"));
        }
        sb.Append("\t}\n\n\tchain output-filter {\n\t\ttype filter hook output priority mangle; policy accept;\n");
        sb.Append("\t\tmeta mark set ct mark\n");
        sb.Append(Inv($"\t\t{l4proto} . {l3} daddr . th dport vmap @filter-proto-services{suffix}\n"));
        sb.Append("\t}\n\n\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n");
        sb.Append(Inv($"\t\t{l4proto} . {l3} daddr . th dport vmap @nat-proto-services{suffix}\n"));
        sb.Append("\t}\n");
    }

    /// <summary>Farms with policies: a raw-priority chain (before conntrack, as nftlb's ingress check) jumps to each one's
    /// policy chain for its virtual service.</summary>
    private static void PolicyChains(StringBuilder sb, List<RulesFarm> farms, string l3, bool v6)
    {
        var checkedFarms = farms.FindAll(f => !f.Policies.IsEmpty);
        if (checkedFarms.Count == 0) return;
        sb.Append("\n\tchain policies {\n\t\ttype filter hook prerouting priority raw; policy accept;\n");
        foreach (var f in checkedFarms)
        {
            foreach (var proto in f.Protocols)
                sb.Append(Inv($"\t\t{l3} daddr {f.VirtualAddress} {proto} dport {Ports(f)} jump policies-{f.Name}\n"));
        }
        sb.Append("\t}\n");
        foreach (var f in checkedFarms)
        {
            sb.Append('\n');
            PolicyRules.NftChain(sb, f, v6, p => p.Name);
        }
    }

    internal static string Ports(RulesFarm f)
    {
        if (f.Config.VirtualPorts.IsDefaultOrEmpty) return "1-65535";
        var list = new List<string>();
        foreach (var r in f.Config.VirtualPorts) list.Add(r.ToString());
        return list.Count == 1 ? list[0] : "{ " + string.Join(", ", list) + " }";
    }

    private static void ServiceMap(StringBuilder sb, string name, string addrType, bool interval, List<string> elements, string prefix)
    {
        sb.Append(Inv($"\tmap {name} {{\n\t\ttype inet_proto . {addrType} . inet_service : verdict\n"));
        if (interval) sb.Append("\t\tflags interval\n");
        if (elements.Count > 0)
        {
            var items = new List<string>(elements.Count);
            foreach (var e in elements) items.Add(e.Replace("{0}", prefix, StringComparison.Ordinal));
            sb.Append("\t\telements = { ").Append(string.Join(", ", items)).Append(" }\n");
        }
        sb.Append("\t}\n\n");
    }

    /// <summary>New connections without a mark get one backend's mark, with exact weights over the candidates.</summary>
    private static string MarkRule(RulesFarm f, string l3)
    {
        if (f.Candidates.IsEmpty) return "ct state new drop";
        long total = f.TotalWeight;
        var ranges = new List<string>();
        long at = 0;
        foreach (var c in f.Candidates)
        {
            long last = at + c.Weight - 1;
            ranges.Add(at == last ? Inv($"{at} : {Mark(c.Mark)}") : Inv($"{at}-{last} : {Mark(c.Mark)}"));
            at = last + 1;
        }
        string gen = f.Config.Scheduler switch
        {
            SchedulerKind.RoundRobin => Inv($"numgen inc mod {total}"),
            SchedulerKind.Hash => Inv($"jhash {HashInput(f.Config.SchedParam, l3)} mod {total}"),
            SchedulerKind.SymHash => Inv($"symhash mod {total}"),
            _ => Inv($"numgen random mod {total}"),
        };
        return Inv($"ct state new ct mark 0x00000000 ct mark set {gen} map {{ {string.Join(", ", ranges)} }}");
    }

    internal static string HashInput(HashFields fields, string l3)
    {
        var parts = new List<string>();
        if (fields.HasFlag(HashFields.SrcIp)) parts.Add(l3 + " saddr");
        if (fields.HasFlag(HashFields.DstIp)) parts.Add(l3 + " daddr");
        if (fields.HasFlag(HashFields.SrcPort)) parts.Add("th sport");
        if (fields.HasFlag(HashFields.DstPort)) parts.Add("th dport");
        if (fields.HasFlag(HashFields.SrcMac)) parts.Add("ether saddr");
        if (fields.HasFlag(HashFields.DstMac)) parts.Add("ether daddr");
        if (parts.Count == 0) parts.Add(l3 + " saddr");
        return string.Join(" . ", parts);
    }

    private static string Mark(uint mark) => "0x" + mark.ToString("x8", CultureInfo.InvariantCulture);

    internal static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
