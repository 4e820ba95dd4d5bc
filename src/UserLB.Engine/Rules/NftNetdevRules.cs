using System.Text;
using UserLB.Engine.Config;
using static UserLB.Engine.Rules.NftRules;

namespace UserLB.Engine.Rules;

/// <summary>
/// The dsr and stlsdnat farms as nftlb writes them: one <c>table netdev nftlb</c>, an ingress chain per client-side
/// interface that sends <c>proto . vip . port</c> to the farm's chain, which picks a backend per packet and sends the
/// frame on with <c>fwd to</c> the backend-side interface. dsr rewrites the MACs only (<c>ether saddr set</c>, <c>ether
/// daddr set</c>); stlsdnat rewrites the destination address (and port), with a reverse chain on the backend side
/// restoring the VIP as the replies' source and a map of the clients' MACs learned from their packets. The kernel keeps
/// no state here: hash farms use <c>jhash</c> with one fixed seed, so every instance loading the rules maps a flow to
/// the same backend; weight and rr draw per packet, as nftlb's do. Backends need an <c>ether-addr</c> (the kernel does
/// not resolve them here; userlb does by ARP/NDP).
/// </summary>
internal static class NftNetdevRules
{
    /// <summary>The jhash seed every instance uses ("uslb").</summary>
    public const uint Seed = 0x75736c62;

    public static void Table(StringBuilder sb, IReadOnlyList<RulesFarm> all)
    {
        var farms = all.Where(f => f.IsNetdev && f.Config.State == ObjectState.Up).ToList();
        sb.Append("table netdev nftlb {\n");
        foreach (bool v6 in new[] { false, true })
        {
            foreach (var p in PolicyRules.Used(farms.Where(f => f.IsV6 == v6))) PolicyRules.NftSet(sb, p, v6, PolicyRules.IpsetName(p, v6));
        }
        foreach (var iface in farms.Select(f => f.Config.Iface ?? "eth0").Distinct())
        {
            var chain = new StringBuilder();
            foreach (bool v6 in new[] { false, true })
            {
                var onIface = farms.Where(f => (f.Config.Iface ?? "eth0") == iface && f.IsV6 == v6).ToList();
                if (onIface.Count == 0) continue;
                var elements = new List<string>();
                foreach (var f in onIface)
                {
                    foreach (var proto in f.Protocols)
                    {
                        foreach (var r in Ranges(f))
                            elements.Add(Inv($"{proto} . {f.VirtualAddress} . {r} : goto {f.Name}"));
                    }
                }

                string map = Inv($"proto-services{(v6 ? "6" : "")}-{iface}");
                Map(sb, map, v6 ? "ipv6_addr" : "ipv4_addr", onIface.Any(HasRange), elements);
                chain.Append(Inv($"\t\t{(v6 ? "ip6 nexthdr . ip6" : "ip protocol . ip")} daddr . th dport vmap @{map}\n"));
            }
            sb.Append(Inv($"\tchain ingress-{iface} {{\n\t\ttype filter hook ingress device \"{iface}\" priority 101; policy accept;\n"));
            sb.Append(chain).Append("\t}\n\n");
        }
        foreach (var f in farms.Where(f => f.Config.Mode == FarmMode.StlsDnat)) StatelessBack(sb, f);
        foreach (var f in farms) Farm(sb, f);
        foreach (var f in farms.Where(f => !f.Policies.IsEmpty))
        {
            PolicyRules.NftChain(sb, f, f.IsV6, p => PolicyRules.IpsetName(p, f.IsV6));
            sb.Append('\n');
        }
        sb.Length -= 1; // the blank line after the last chain
        sb.Append("}\n");
    }

    private static void Farm(StringBuilder sb, RulesFarm f)
    {
        string l3 = f.IsV6 ? "ip6" : "ip";
        string oface = f.Config.Oface ?? f.Config.Iface ?? "eth0";
        string saddr = f.Config.EtherAddr is { } mac ? Inv($"ether saddr set {mac} ") : "";
        sb.Append(Inv($"\tchain {f.Name} {{\n"));
        if (!f.Policies.IsEmpty) sb.Append(Inv($"\t\tjump policies-{f.Name}\n"));
        foreach (var b in f.Candidates.Where(b => b.EtherAddr is null))
            sb.Append(Inv($"\t\t# backend {b.Name}: no ether-addr (nftlb needs one; userlb resolves {b.Address} by ARP/NDP)\n"));
        var withMac = f.Candidates.Where(b => b.EtherAddr is not null).ToList();
        if (withMac.Count == 0)
        {
            sb.Append("\t\tdrop\n\t}\n\n");
            return;
        }
        string gen = Generator(f, withMac, l3);
        if (f.Config.Mode == FarmMode.Dsr)
        {
            sb.Append(Inv($"\t\t{saddr}ether daddr set {gen} map {{ {Ranges(withMac, b => b.EtherAddr!)} }} fwd to \"{oface}\"\n"));
        }
        else
        {
            sb.Append(Inv($"\t\tmeta protocol {l3} update @map-{f.Name}-back {{ {l3} saddr : ether saddr }}\n"));
            string macs = string.Join(", ", withMac.Select(b => Inv($"{b.Address} : {b.EtherAddr}")));
            string ports = withMac.Any(b => b.Port != 0)
                ? Inv($" th dport set {l3} daddr map {{ {string.Join(", ", withMac.Select(b => Inv($"{b.Address} : {(b.Port != 0 ? b.Port : f.Config.VirtualPorts[0].First)}")))} }}")
                : "";
            sb.Append(Inv($"\t\t{l3} daddr set {gen} map {{ {Ranges(withMac, b => b.Address.ToString())} }} ether daddr set {l3} daddr map {{ {macs} }}{ports} {saddr}fwd to \"{oface}\"\n"));
        }
        sb.Append("\t}\n\n");
    }

    /// <summary>stlsdnat's reverse rule: packets from a backend's address and port get the VIP (and virtual port) back as
    /// their source and go to the client's MAC (learned from its packets) out of the client-side interface.</summary>
    private static void StatelessBack(StringBuilder sb, RulesFarm f)
    {
        string l3 = f.IsV6 ? "ip6" : "ip";
        string addr = f.IsV6 ? "ipv6_addr" : "ipv4_addr";
        string iface = f.Config.Iface ?? "eth0";
        string oface = f.Config.Oface ?? iface;
        var elements = new List<string>();
        foreach (var b in f.Backends)
        {
            foreach (var proto in f.Protocols)
            {
                foreach (var r in b.Port != 0 ? [b.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)] : Ranges(f))
                    elements.Add(Inv($"{proto} . {b.Address} . {r} : goto {f.Name}-back"));
            }
        }

        Map(sb, $"proto-services-dnat-{oface}", addr, f.Backends.Any(b => b.Port == 0) && HasRange(f), elements);
        sb.Append(Inv($"\tmap map-{f.Name}-back {{\n\t\ttype {addr} : ether_addr\n\t\tsize 65535\n\t\ttimeout 1m\n\t}}\n\n"));
        sb.Append(Inv($"\tchain ingress-dnat-{oface} {{\n\t\ttype filter hook ingress device \"{oface}\" priority 100; policy accept;\n"));
        sb.Append(Inv($"\t\t{(f.IsV6 ? "ip6 nexthdr" : "ip protocol")} . {l3} saddr . th sport vmap @proto-services-dnat-{oface}\n\t}}\n\n"));
        string sport = f.Backends.Any(b => b.Port != 0) && f.Config.VirtualPorts.Length == 1 ? Inv($" th sport set {f.Config.VirtualPorts[0].First}") : "";
        sb.Append(Inv($"\tchain {f.Name}-back {{\n\t\t{l3} saddr set {f.VirtualAddress}{sport} ether daddr set {l3} daddr map @map-{f.Name}-back fwd to \"{iface}\"\n\t}}\n\n"));
    }

    private static string Generator(RulesFarm f, List<RulesBackend> backends, string l3)
    {
        long total = backends.Sum(b => (long)b.Weight);
        return f.Config.Scheduler switch
        {
            SchedulerKind.Hash => Inv($"jhash {HashInput(f.Config.SchedParam, l3)} mod {total} seed 0x{Seed:x8}"),
            SchedulerKind.SymHash => Inv($"symhash mod {total}"),
            SchedulerKind.RoundRobin => Inv($"numgen inc mod {total}"),
            _ => Inv($"numgen random mod {total}"),
        };
    }

    private static string Ranges(List<RulesBackend> backends, Func<RulesBackend, string> value)
    {
        var ranges = new List<string>();
        long at = 0;
        foreach (var b in backends)
        {
            long last = at + b.Weight - 1;
            ranges.Add(at == last ? Inv($"{at} : {value(b)}") : Inv($"{at}-{last} : {value(b)}"));
            at = last + 1;
        }
        return string.Join(", ", ranges);
    }

    private static IEnumerable<string> Ranges(RulesFarm f) =>
        f.Config.VirtualPorts.IsDefaultOrEmpty ? ["1-65535"] : f.Config.VirtualPorts.Select(r => r.ToString());

    private static bool HasRange(RulesFarm f) => f.Config.VirtualPorts.IsDefaultOrEmpty || f.Config.VirtualPorts.Any(r => r.First != r.Last);

    private static void Map(StringBuilder sb, string name, string addrType, bool interval, List<string> elements)
    {
        sb.Append(Inv($"\tmap {name} {{\n\t\ttype inet_proto . {addrType} . inet_service : verdict\n"));
        if (interval) sb.Append("\t\tflags interval\n");
        if (elements.Count > 0) sb.Append("\t\telements = { ").Append(string.Join(", ", elements)).Append(" }\n");
        sb.Append("\t}\n\n");
    }
}
