using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.IO.Replay;

/// <summary>
/// Each frame's story in one or two lines, for the pcapng comments, built from the engine's trace (the steps
/// <c>--trace</c> prints) and the conntrack events of the frame: the farm and connection with its translation
/// (<c>DNAT to 192.168.1.10:443, SNAT to 192.168.101.250:40001</c>), what conntrack did (<c>NEW entry 1 SYN_SENT,
/// timeout 120 s</c>), or the drop and why (<c>drop: tcp_invalid (conntrack: INVALID tcp flags in …)</c>).
/// </summary>
internal static partial class ReplayStory
{
    private const string RestorePrefix = "mangle PREROUTING: CONNMARK restore 0x";
    private const string PickPrefix = "mangle PREROUTING: ";
    private const string PickArrow = " → backend ";
    private const string RelatedPrefix = "conntrack: RELATED ";
    private const string QueuedText = "frame queued until it answers";

    [GeneratedRegex(@"\(connection (\d+), (original|reply) direction\)", RegexOptions.CultureInvariant)]
    private static partial Regex ConnectionStep();

    [GeneratedRegex(@" about entry (\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex RelatedEntry();

    /// <summary>What happened to the frame, in one line: the farm, connection and translation, a drop, or the LB's own step.</summary>
    public static string What(ReplayObserver o)
    {
        var steps = o.Steps;
        int drop = steps.FindIndex(s => s.StartsWith("drop: ", StringComparison.Ordinal));
        if (drop >= 0)
        {
            string? detail = drop > 0 && !IsRoutine(steps[drop - 1]) ? steps[drop - 1] : o.Summary;
            return steps[drop] + (detail is null ? "" : " (" + detail + ")");
        }
        foreach (var ev in o.Events)
        {
            if (ev.Type != ConnEventType.New || o.Connection(ev.Id) is not { } info) continue;
            string? why = null;
            foreach (var s in steps)
            {
                int arrow = s.IndexOf(PickArrow, StringComparison.Ordinal);
                if (s.StartsWith(PickPrefix, StringComparison.Ordinal) && arrow > PickPrefix.Length) why = s[PickPrefix.Length..arrow];
            }
            return Inv($"farm {info.Farm}, new connection {ev.Id} to backend {info.Backend}{(why is null ? "" : " (" + why + ")")}: {info.Original}");
        }
        foreach (var s in steps)
        {
            if (s.StartsWith(RestorePrefix, StringComparison.Ordinal) && ConnectionStep().Match(s) is { Success: true } m)
            {
                uint id = uint.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
                bool reply = m.Groups[2].ValueSpan.SequenceEqual("reply");
                return o.Connection(id) is { } info
                    ? Inv($"farm {info.Farm}, connection {id}{(reply ? ", reply: " + info.Reply : ": " + info.Original)}")
                    : Inv($"connection {id}, {m.Groups[2].Value} direction");
            }
            if (s.StartsWith(RelatedPrefix, StringComparison.Ordinal) && RelatedEntry().Match(s) is { Success: true } r)
            {
                uint id = uint.Parse(r.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
                string text = s["conntrack: ".Length..].Replace(r.Value, "", StringComparison.Ordinal);
                return o.Connection(id) is { } info ? Inv($"farm {info.Farm}, connection {id}: {text}") : Inv($"connection {id}: {text}");
            }
        }
        return steps.Count > 0 ? steps[0] : o.Summary ?? "not processed";
    }

    /// <summary>The connection the frame belongs to and its direction: the one it made, or the one CONNMARK restore found.</summary>
    public static bool TryConnectionOf(ReplayObserver o, out uint id, out bool reply)
    {
        foreach (var ev in o.Events)
        {
            if (ev.Type != ConnEventType.New) continue;
            (id, reply) = (ev.Id, false);
            return true;
        }
        foreach (var s in o.Steps)
        {
            if (!s.StartsWith(RestorePrefix, StringComparison.Ordinal) || ConnectionStep().Match(s) is not { Success: true } m) continue;
            id = uint.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
            reply = m.Groups[2].ValueSpan.SequenceEqual("reply");
            return true;
        }
        (id, reply) = (0, false);
        return false;
    }

    /// <summary>What became of the frame: "forwarded", "queued" (waiting for a neighbour) or "dropped" with its reason.</summary>
    public static string Verdict(ReplayObserver o, out string? drop)
    {
        drop = null;
        foreach (var s in o.Steps)
        {
            if (!s.StartsWith("drop: ", StringComparison.Ordinal)) continue;
            int end = s.IndexOf(' ', "drop: ".Length);
            drop = end < 0 ? s["drop: ".Length..] : s["drop: ".Length..end];
            return "dropped";
        }
        return o.Steps.Exists(s => s.Contains(QueuedText, StringComparison.Ordinal)) ? "queued" : "forwarded";
    }

    /// <summary>The second line: the frame's conntrack events, else a queued frame, else the LB's second step; or null.</summary>
    public static string? Then(ReplayObserver o, string what)
    {
        var steps = o.Steps;
        string? queued = steps.Find(s => s.Contains(QueuedText, StringComparison.Ordinal));
        if (o.Events.Count > 0)
        {
            var parts = new List<string>(o.Events.Count);
            foreach (var ev in o.Events)
            {
                string text = Inv($"{ConntrackEventJson.Name(ev.Type)} entry {ev.Id}{ev.Change}");
                if (ev.Type == ConnEventType.Destroy && !ev.Cause.Timeout
                    && steps.Find(s => s.Contains("destroyed", StringComparison.Ordinal)) is { } why)
                {
                    text += " (" + (why.StartsWith("conntrack: ", StringComparison.Ordinal) ? why["conntrack: ".Length..] : why) + ")";
                }

                parts.Add(text);
            }
            return "conntrack: " + string.Join("; ", parts) + (queued is null ? "" : "; " + queued);
        }
        if (queued is not null) return queued;
        return steps.Count > 1 && steps[0] == what && !steps[1].StartsWith("drop: ", StringComparison.Ordinal) ? steps[1] : null;
    }

    /// <summary>The input frame's comment: "#N: what", then conntrack's part, then its offloads.</summary>
    public static string Input(ReplayObserver o, string what, in VnetHeader offload)
    {
        string? then = Then(o, what);
        return Inv($"#{o.Packet}: {what}") + (then is null ? "" : "\n" + then) + Vnet(offload);
    }

    /// <summary>The vnet line of a frame with offloads (read back by <see cref="ReplayInput"/>), or "".</summary>
    public static string Vnet(in VnetHeader offload) => offload.IsPlain ? "" : "\nvnet: " + offload.ToString();

    /// <summary>
    /// The step that made the LB send <paramref name="frame"/> itself (ARP request or reply, NDP solicitation or
    /// advertisement, echo reply), or null when the frame is a forwarded one.
    /// </summary>
    public static string? OwnFrameStep(ReplayObserver o, ReadOnlySpan<byte> frame)
    {
        if (PacketParser.ParseAnySize(frame, out var p) != DropReason.None && p.Kind != FrameKind.Arp) return null;
        if (p.Kind == FrameKind.Arp)
        {
            if (frame.Length < p.L3Offset + Offsets.ArpPacket) return "ARP";
            var a = frame.Slice(p.L3Offset, Offsets.ArpPacket);
            bool request = BinaryPrimitives.ReadUInt16BigEndian(a[6..]) == 1;
            string prefix = request ? Inv($"neighbour: ARP who-has {IpAddr.ReadV4(a[24..])} ") : Inv($"arp: {IpAddr.ReadV4(a[14..])} is-at ");
            return FindStep(o, prefix) ?? (request ? "ARP request" : "ARP reply");
        }
        if (p.Kind != FrameKind.Ip || !p.IsIcmp) return null;
        if (p.IsV6 && p.IcmpType is IcmpTypes.V6NeighborSolicitation or IcmpTypes.V6NeighborAdvertisement)
        {
            if (frame.Length < p.L4Offset + 24) return "NDP";
            var target = IpAddr.ReadV6(frame[(p.L4Offset + 8)..]);
            return p.IcmpType == IcmpTypes.V6NeighborSolicitation
                ? FindStep(o, Inv($"neighbour: NDP solicitation for {target} ")) ?? "NDP neighbour solicitation"
                : FindStep(o, Inv($"ndp: {target} is-at ")) ?? "NDP neighbour advertisement";
        }
        if (p.IcmpType == (p.IsV6 ? IcmpTypes.V6EchoReply : IcmpTypes.EchoReply))
            return FindStep(o, Inv($"icmp: echo request to {p.Src} answered"));
        return null;
    }

    private static string? FindStep(ReplayObserver o, string prefix) => o.Steps.Find(s => s.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Steps that say nothing about a drop (the connection found, its translation, its entry): not a drop's detail.</summary>
    private static bool IsRoutine(string step) =>
        step.StartsWith(RestorePrefix, StringComparison.Ordinal) || step.StartsWith("nat: ", StringComparison.Ordinal)
        || step.Contains(" src=", StringComparison.Ordinal);

    /// <summary>Seconds.microseconds, as --trace prints times.</summary>
    public static string Time(long ns)
    {
        long s = Math.DivRem(ns, 1_000_000_000L, out long rest);
        return Inv($"{s}.{rest / 1000:D6}");
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
