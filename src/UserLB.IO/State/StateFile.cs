using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.IO.State;

/// <summary>How reading a state file went.</summary>
public enum StateLoadStatus
{
    /// <summary>Read; <see cref="StateLoad.BadLines"/> entries may still have been skipped.</summary>
    Loaded,
    /// <summary>No such file (a first start): nothing to load.</summary>
    Missing,
    /// <summary>Not a state file this version reads (no or a wrong header, unreadable): nothing loaded.</summary>
    Invalid,
}

/// <summary>A read state file: the entries that parsed, how many lines did not (the first problem in <see cref="Message"/>).</summary>
public sealed record StateLoad(StateLoadStatus Status, IReadOnlyList<SavedConnection> Entries, int BadLines, string? Message, DateTimeOffset? SavedAt);

/// <summary>
/// The connection table on disk for <c>userlb run --state-file</c>: JSON lines, a header
/// <c>{"userlb-state":1,"saved":"…","entries":N}</c> then one object per connection:
/// <c>{"farm":"app","backend":"bck0","proto":6,"src":"192.168.101.1","dst":"192.168.101.250","sport":34846,"dport":443,
/// "reply-src":"192.168.1.10","reply-dst":"192.168.101.250","reply-sport":443,"reply-dport":34846,"state":"ESTABLISHED",
/// "status":"seen-reply assured snat dnat","mark":512,"id":7,"age-ns":…,"remaining-ns":…,"packets":[o,r],"bytes":[o,r]}</c>.
/// Written to PATH.tmp, flushed, then renamed over PATH, so a crash mid-write leaves the previous file whole.
/// Reading never throws for a missing or damaged file: it says what it found.
/// </summary>
public static class StateFile
{
    public const int Version = 1;

    private static readonly (ConnStatus Flag, string Name)[] StatusNames =
    [
        (ConnStatus.SeenReply, "seen-reply"),
        (ConnStatus.Assured, "assured"),
        (ConnStatus.SrcNat, "snat"),
        (ConnStatus.DstNat, "dnat"),
        (ConnStatus.Limited, "limited"),
        (ConnStatus.SeqAdjust, "seq-adjust"),
    ];

    public static void Save(string path, IReadOnlyCollection<SavedConnection> entries, DateTimeOffset savedAt)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(entries);
        string tmp = path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            var options = new JsonWriterOptions { Indented = false, SkipValidation = false };
            using (var w = new Utf8JsonWriter(stream, options))
            {
                w.WriteStartObject();
                w.WriteNumber("userlb-state", Version);
                w.WriteString("saved", savedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                w.WriteNumber("entries", entries.Count);
                w.WriteEndObject();
                w.Flush();
                stream.WriteByte((byte)'\n');
                foreach (var e in entries)
                {
                    w.Reset();
                    WriteEntry(w, e);
                    w.Flush();
                    stream.WriteByte((byte)'\n');
                }
            }
            stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    private static void WriteEntry(Utf8JsonWriter w, SavedConnection e)
    {
        w.WriteStartObject();
        w.WriteString("farm", e.Farm);
        w.WriteString("backend", e.Backend);
        w.WriteNumber("proto", e.Original.Protocol);
        w.WriteString("src", e.Original.Src.ToString());
        w.WriteString("dst", e.Original.Dst.ToString());
        w.WriteNumber("sport", e.Original.SrcPort);
        w.WriteNumber("dport", e.Original.DstPort);
        w.WriteString("reply-src", e.Reply.Src.ToString());
        w.WriteString("reply-dst", e.Reply.Dst.ToString());
        w.WriteNumber("reply-sport", e.Reply.SrcPort);
        w.WriteNumber("reply-dport", e.Reply.DstPort);
        if (e.Original.Protocol == IpProtocols.Tcp) w.WriteString("state", e.TcpState.ToConntrackName());
        w.WriteString("status", FormatStatus(e.Status));
        w.WriteNumber("mark", e.Mark);
        if ((e.Status & ConnStatus.SeqAdjust) != 0)
        {
            w.WriteNumber("seq-offset", e.SeqOffset);
            w.WriteNumber("ts-offset", e.TsOffset);
            if (e.WindowShift != 0) w.WriteNumber("window-shift", e.WindowShift);
        }
        w.WriteNumber("id", e.Id);
        w.WriteNumber("age-ns", e.AgeNs);
        w.WriteNumber("remaining-ns", e.RemainingNs);
        w.WriteStartArray("packets");
        w.WriteNumberValue(e.OriginalPackets);
        w.WriteNumberValue(e.ReplyPackets);
        w.WriteEndArray();
        w.WriteStartArray("bytes");
        w.WriteNumberValue(e.OriginalBytes);
        w.WriteNumberValue(e.ReplyBytes);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static string FormatStatus(ConnStatus status)
    {
        var sb = new StringBuilder();
        foreach (var (flag, name) in StatusNames)
            if ((status & flag) != 0) sb.Append(sb.Length > 0 ? " " : "").Append(name);
        return sb.ToString();
    }

    public static StateLoad Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) return new StateLoad(StateLoadStatus.Missing, [], 0, $"{path}: no state file", null);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new StateLoad(StateLoadStatus.Invalid, [], 0, $"{path}: {ex.Message}", null);
        }
        return Parse(lines, path);
    }

    /// <summary>Reads a state file's lines (<paramref name="name"/> names it in messages). Never throws for bad content.</summary>
    public static StateLoad Parse(IReadOnlyList<string> lines, string name)
    {
        ArgumentNullException.ThrowIfNull(lines);
        string path = name;
        if (lines.Count == 0) return new StateLoad(StateLoadStatus.Invalid, [], 0, $"{path}: not a userlb state file (empty)", null);
        if (!TryHeader(lines[0], out var savedAt, out long declared, out string? headerProblem))
            return new StateLoad(StateLoadStatus.Invalid, [], 0, $"{path}: not a userlb state file ({headerProblem})", null);
        var entries = new List<SavedConnection>(lines.Count - 1);
        int bad = 0;
        string? first = null;
        for (int i = 1; i < lines.Count; i++)
        {
            if (lines[i].Length == 0) continue;
            if (TryEntry(lines[i], out var entry, out string? problem))
            {
                entries.Add(entry);
            }
            else
            {
                bad++;
                first ??= $"{path}, line {i + 1}: {problem}";
            }
        }
        if (first is null && entries.Count != declared)
            first = $"{path}: the header announces {declared} entries, the file holds {entries.Count}";
        return new StateLoad(StateLoadStatus.Loaded, entries, bad, first, savedAt);
    }

    private static bool TryHeader(string line, out DateTimeOffset? savedAt, out long declared, out string? problem)
    {
        savedAt = null;
        declared = 0;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("userlb-state", out var v) || v.ValueKind != JsonValueKind.Number)
            {
                problem = "the first line has no \"userlb-state\"";
                return false;
            }
            if (!v.TryGetInt32(out int version) || version != Version)
            {
                problem = $"version {v.GetRawText()}, this userlb reads version {Version}";
                return false;
            }
            if (root.TryGetProperty("saved", out var s) && s.ValueKind == JsonValueKind.String
                && DateTimeOffset.TryParse(s.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                savedAt = at;
            }

            if (root.TryGetProperty("entries", out var n) && n.ValueKind == JsonValueKind.Number) n.TryGetInt64(out declared);
            problem = null;
            return true;
        }
        catch (JsonException ex)
        {
            problem = "the first line is not JSON: " + ex.Message;
            return false;
        }
    }

    private static bool TryEntry(string line, out SavedConnection entry, out string? problem)
    {
        entry = null!;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var o = doc.RootElement;
            if (o.ValueKind != JsonValueKind.Object) return Fail("not an object", out problem);
            if (!Str(o, "farm", out string farm) || !Str(o, "backend", out string backend)) return Fail("no farm or backend", out problem);
            if (!Num(o, "proto", 255, out long proto)) return Fail("bad proto", out problem);
            if (!Tuple(o, "", (byte)proto, out var original) || !Tuple(o, "reply-", (byte)proto, out var reply))
                return Fail("bad address or port", out problem);
            if (original.Src.IsV4 != original.Dst.IsV4 || reply.Src.IsV4 != reply.Dst.IsV4 || original.Src.IsV4 != reply.Src.IsV4)
                return Fail("mixed address families", out problem);
            var state = TcpState.None;
            if (proto == IpProtocols.Tcp && (!Str(o, "state", out string stateName) || !TryState(stateName, out state)))
                return Fail("bad tcp state", out problem);
            if (!Str(o, "status", out string statusText) || !TryStatus(statusText, out var status)) return Fail("bad status", out problem);
            if (!Num(o, "mark", uint.MaxValue, out long mark) || !Num(o, "id", uint.MaxValue, out long id)) return Fail("bad mark or id", out problem);
            if (!Num(o, "age-ns", long.MaxValue, out long age) || !Num(o, "remaining-ns", long.MaxValue, out long remaining))
                return Fail("bad age-ns or remaining-ns", out problem);
            if (!Pair(o, "packets", out ulong op, out ulong rp) || !Pair(o, "bytes", out ulong ob, out ulong rb)) return Fail("bad counters", out problem);
            long seqOffset = 0, tsOffset = 0;
            if ((status & ConnStatus.SeqAdjust) != 0 && (!Num(o, "seq-offset", uint.MaxValue, out seqOffset) || !Num(o, "ts-offset", uint.MaxValue, out tsOffset)))
                return Fail("bad seq-offset or ts-offset", out problem);
            int windowShift = 0;
            if (o.TryGetProperty("window-shift", out var ws) && (ws.ValueKind != JsonValueKind.Number || !ws.TryGetInt32(out windowShift) || windowShift is < -14 or > 14))
                return Fail("bad window-shift", out problem);
            entry = new SavedConnection
            {
                Farm = farm,
                Backend = backend,
                Original = original,
                Reply = reply,
                TcpState = state,
                Status = status,
                Mark = (uint)mark,
                SeqOffset = (uint)seqOffset,
                TsOffset = (uint)tsOffset,
                WindowShift = (sbyte)windowShift,
                Id = (uint)id,
                AgeNs = age,
                RemainingNs = remaining,
                OriginalPackets = op,
                ReplyPackets = rp,
                OriginalBytes = ob,
                ReplyBytes = rb,
            };
            problem = null;
            return true;
        }
        catch (JsonException ex)
        {
            return Fail("not JSON: " + ex.Message, out problem);
        }
    }

    private static bool Fail(string why, out string? problem)
    {
        problem = why;
        return false;
    }

    private static bool Str(JsonElement o, string name, out string value)
    {
        value = "";
        if (!o.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String) return false;
        value = v.GetString() ?? "";
        return value.Length > 0 || name == "status";
    }

    private static bool Num(JsonElement o, string name, long max, out long value)
    {
        value = 0;
        return o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out value) && value >= 0 && value <= max;
    }

    private static bool Pair(JsonElement o, string name, out ulong a, out ulong b)
    {
        a = b = 0;
        if (!o.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Array || v.GetArrayLength() != 2) return false;
        return v[0].ValueKind == JsonValueKind.Number && v[0].TryGetUInt64(out a)
            && v[1].ValueKind == JsonValueKind.Number && v[1].TryGetUInt64(out b);
    }

    private static bool Tuple(JsonElement o, string prefix, byte proto, out FlowTuple tuple)
    {
        tuple = default;
        if (!Str(o, prefix + "src", out string src) || !Str(o, prefix + "dst", out string dst)) return false;
        if (!IPAddress.TryParse(src, out var s) || !IPAddress.TryParse(dst, out var d)) return false;
        if (!Num(o, prefix + "sport", ushort.MaxValue, out long sport) || !Num(o, prefix + "dport", ushort.MaxValue, out long dport)) return false;
        tuple = new FlowTuple(IpAddr.FromIPAddress(s), IpAddr.FromIPAddress(d), (ushort)sport, (ushort)dport, proto);
        return true;
    }

    private static bool TryState(string name, out TcpState state)
    {
        for (var s = TcpState.None; s <= TcpState.SynSent2; s++)
        {
            if (s.ToConntrackName() == name && s != TcpState.None)
            {
                state = s;
                return true;
            }
        }

        state = TcpState.None;
        return false;
    }

    private static bool TryStatus(string text, out ConnStatus status)
    {
        status = ConnStatus.None;
        foreach (string token in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            bool found = false;
            foreach (var (flag, name) in StatusNames)
            {
                if (name == token)
                {
                    status |= flag;
                    found = true;
                }
            }

            if (!found) return false;
        }
        return true;
    }
}
