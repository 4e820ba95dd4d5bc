using System.Buffers.Binary;
using System.Text;
using UserLB.Engine.Balancing;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>--trace: each frame's story in the reference ruleset's terms. Only runs when a trace is attached.</summary>
public sealed partial class PacketEngine
{
    private void TraceFrame(ReadOnlySpan<byte> frame, in PacketInfo p, DropReason reason, long nowNs)
    {
        string summary;
        if (reason != DropReason.None && p.Kind != FrameKind.Arp && p.Src.IsZero)
        {
            summary = Inv($"{frame.Length} bytes, unparsable");
        }
        else if (p.Kind == FrameKind.Arp && frame.Length >= p.L3Offset + Offsets.ArpPacket)
        {
            var a = frame.Slice(p.L3Offset, Offsets.ArpPacket);
            ushort op = BinaryPrimitives.ReadUInt16BigEndian(a[6..]);
            summary = op == 1
                ? Inv($"ARP who-has {IpAddr.ReadV4(a[24..])} tell {IpAddr.ReadV4(a[14..])}")
                : Inv($"ARP {IpAddr.ReadV4(a[14..])} is-at {MacAddress.Read(a[8..])}");
        }
        else
        {
            summary = DescribePacket(p) + Inv($", {frame.Length} bytes");
        }

        Trace!.Frame(_frameNumber, nowNs, summary);
    }

    internal static string DescribePacket(in PacketInfo p)
    {
        string proto = IpProtocols.Name(p.Protocol);
        if (p.IsIcmp)
            return Inv($"{p.Src} > {p.Dst} {proto} type {p.IcmpType} code {p.IcmpCode}");
        string src = p.IsV6 ? Inv($"[{p.Src}]:{p.SrcPort}") : Inv($"{p.Src}:{p.SrcPort}");
        string dst = p.IsV6 ? Inv($"[{p.Dst}]:{p.DstPort}") : Inv($"{p.Dst}:{p.DstPort}");
        string flags = p.Protocol == IpProtocols.Tcp ? " [" + FormatTcpFlags(p.TcpFlags) + "]" : "";
        return Inv($"{src} > {dst} {proto}{flags}");
    }

    internal static string FormatTcpFlags(byte flags)
    {
        var sb = new StringBuilder(6);
        if ((flags & TcpFlags.Syn) != 0) sb.Append('S');
        if ((flags & TcpFlags.Fin) != 0) sb.Append('F');
        if ((flags & TcpFlags.Rst) != 0) sb.Append('R');
        if ((flags & TcpFlags.Psh) != 0) sb.Append('P');
        if ((flags & TcpFlags.Ack) != 0) sb.Append('.');
        if ((flags & TcpFlags.Urg) != 0) sb.Append('U');
        return sb.Length == 0 ? "none" : sb.ToString();
    }

    private static string DescribePick(FarmRuntime farm, int pick, ulong detail)
    {
        var b = farm.Candidates[pick];
        long total = 0;
        foreach (var c in farm.Candidates) total += c.Weight;
        return farm.Scheduler switch
        {
            WeightedRandomScheduler => Inv($"weight: draw {detail} of [0,{total}) falls in {b.Name}'s share {b.Weight}/{total}"),
            WeightedRoundRobinScheduler => Inv($"rr: position {detail} of the weighted round-robin cycle ({total} slots)"),
            MaglevScheduler m => Inv($"{m.Name}: hash {detail:x16} → Maglev slot {detail % MaglevScheduler.TableSize}"),
            _ => farm.Scheduler.Name,
        };
    }

    private void TraceNew(FarmRuntime farm, BackendRuntime backend, string why, in ConnEntry e, long nowNs)
    {
        var t = Trace!;
        string comment = Inv($"/* FARM_{farm.Name}_{backend.Index}_ */");
        t.Step("mangle PREROUTING: CONNMARK restore: no connection, NEW");
        t.Step(Inv($"mangle PREROUTING: farm {farm.Name} ({IpProtocols.Name(e.Original.Protocol)} dport {e.Original.DstPort}) {farm.Config.Mode.ToString().ToLowerInvariant()} mode; {farm.Candidates.Length} candidate(s) at priority level {farm.Level}"));
        t.Step(Inv($"mangle PREROUTING: {why} → backend {backend.Name} {backend.Address}; MARK set 0x{backend.Mark:x} {comment}"));
        t.Step(Inv($"mangle PREROUTING: CONNMARK save 0x{backend.Mark:x}"));
        if (e.Forward != FlowForward.Nat)
        {
            t.Step(Inv($"dsr: to backend {backend.Name} {backend.Address}{(e.Forward == FlowForward.DsrIpip ? " inside IP-in-IP" : " by its MAC")}; no NAT, one-directional tracking"));
            t.Step("conntrack: [NEW] " + ConntrackFormatter.Line(e, nowNs, withCounters: false));
            return;
        }
        t.Step(Inv($"nat PREROUTING: DNAT {comment} to:{FormatEndpoint(e.Reply.Src, e.Reply.SrcPort, e.Original)}"));
        if ((e.Status & ConnStatus.SrcNat) != 0)
            t.Step(Inv($"nat POSTROUTING: SNAT {comment} to:{e.Reply.Dst}{(e.Reply.DstPort != e.Original.SrcPort ? Inv($":{e.Reply.DstPort}") : "")}"));
        t.Step("conntrack: [NEW] " + ConntrackFormatter.Line(e, nowNs, withCounters: false));
    }

    private static string FormatEndpoint(IpAddr ip, ushort port, in FlowTuple original) =>
        original.Protocol is IpProtocols.Icmp or IpProtocols.Icmpv6 ? ip.ToString()
        : ip.IsV4 ? Inv($"{ip}:{port}") : Inv($"[{ip}]:{port}");

    private void TraceExisting(in ConnEntry e, bool reply, TcpState oldState, ConnStatus oldStatus, long nowNs)
    {
        var t = Trace!;
        t.Step(Inv($"mangle PREROUTING: CONNMARK restore 0x{e.Mark:x} (connection {e.Id}, {(reply ? "reply" : "original")} direction)"));
        t.Step(reply
            ? (e.Status & ConnStatus.SrcNat) != 0 ? "nat: reply: un-SNAT and un-DNAT (conntrack)" : "nat: reply: un-DNAT, source restored to the VIP (conntrack)"
            : (e.Status & ConnStatus.SrcNat) != 0 ? "nat: original: DNAT + SNAT (conntrack)" : "nat: original: DNAT (conntrack)");
        bool changed = oldState != e.TcpState || oldStatus != e.Status;
        t.Step((changed ? "conntrack: [UPDATE] " : "conntrack: ") + ConntrackFormatter.Line(e, nowNs));
    }
}
