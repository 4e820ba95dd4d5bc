using System.Text.Json;

namespace UserLB.Engine.Conntrack;

/// <summary>One tuple of an event read back: addresses, ports (or ICMP id) and the direction's counters.</summary>
public sealed record EventTuple(string Src, string Dst, int Sport, int Dport, long Packets, long Bytes);

/// <summary>One event read back from <see cref="ConntrackEventJson"/>'s lines.</summary>
public sealed record ConnEventRecord(
    string Event, long TimeNs, long Id, string Proto, string? State, string? OldState, long Timeout,
    EventTuple Original, EventTuple Reply, bool SeenReply, bool Assured, long Mark, string? Farm, string? Backend,
    long? CausePacket, string? CauseTimer, long LineNumber, long? SeqOffset = null);

/// <summary>
/// Reads an events file (JSON lines, as <c>userlb replay --events</c> writes it). A bad line stops reading with an
/// <see cref="InvalidDataException"/> naming the file, the line and what is wrong; blank lines and the frames' PACKET
/// lines (<c>--packet-events</c>, not conntrack events) are skipped.
/// </summary>
public static class ConntrackEventReader
{
    public static IEnumerable<ConnEventRecord> Read(TextReader reader, string name)
    {
        ArgumentNullException.ThrowIfNull(reader);
        long lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line) || line.Contains("\"event\":\"PACKET\"", StringComparison.Ordinal)) continue;
            if (!TryParse(line, lineNumber, out var record, out string? error))
                throw new InvalidDataException(ConntrackEventJson.Inv($"{name} line {lineNumber}: {error}"));
            yield return record!;
        }
    }

    /// <summary>Parses one line; false with why when it is not an event.</summary>
    public static bool TryParse(string line, long lineNumber, out ConnEventRecord? record, out string? error)
    {
        ArgumentNullException.ThrowIfNull(line);
        record = null;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            error = "not JSON: " + ex.Message;
            return false;
        }
        using (doc)
        {
            try
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new FormatException("not a JSON object");
                string ev = Text(root, "event");
                if (ev is not ("NEW" or "UPDATE" or "DESTROY")) throw new FormatException($"\"event\" is \"{ev}\", not NEW, UPDATE or DESTROY");
                long timeNs = Number(root, "time_ns"), id = Number(root, "id");
                string proto = Text(root, "proto");
                string? state = OptionalText(root, "state"), oldState = OptionalText(root, "old_state");
                long timeout = Number(root, "timeout");
                var original = Tuple(root, "original");
                var reply = Tuple(root, "reply");
                bool seenReply = Bool(root, "seen_reply"), assured = Bool(root, "assured");
                long mark = Number(root, "mark");
                string? farm = OptionalText(root, "farm"), backend = OptionalText(root, "backend");
                var cause = Member(root, "cause", JsonValueKind.Object);
                record = new ConnEventRecord(ev, timeNs, id, proto, state, oldState, timeout, original, reply, seenReply, assured,
                    mark, farm, backend, cause.TryGetProperty("packet", out _) ? Number(cause, "packet") : null,
                    OptionalText(cause, "timer"), lineNumber, root.TryGetProperty("seq_offset", out _) ? Number(root, "seq_offset") : null);
                error = null;
                return true;
            }
            catch (FormatException ex)
            {
                error = ex.Message;
                return false;
            }
        }
    }

    private static EventTuple Tuple(JsonElement root, string name)
    {
        var t = Member(root, name, JsonValueKind.Object);
        bool icmp = t.TryGetProperty("icmp_id", out _);
        return new EventTuple(Text(t, "src"), Text(t, "dst"),
            (int)(icmp ? Number(t, "icmp_id") : Number(t, "sport")), icmp ? 0 : (int)Number(t, "dport"),
            Number(t, "packets"), Number(t, "bytes"));
    }

    private static JsonElement Member(JsonElement e, string name, JsonValueKind kind)
    {
        if (!e.TryGetProperty(name, out var v)) throw new FormatException($"no \"{name}\"");
        if (v.ValueKind != kind) throw new FormatException($"\"{name}\" is {v.ValueKind.ToString().ToLowerInvariant()}, not {kind.ToString().ToLowerInvariant()}");
        return v;
    }

    private static string Text(JsonElement e, string name) => Member(e, name, JsonValueKind.String).GetString()!;

    private static string? OptionalText(JsonElement e, string name) => e.TryGetProperty(name, out _) ? Text(e, name) : null;

    private static long Number(JsonElement e, string name) =>
        Member(e, name, JsonValueKind.Number).TryGetInt64(out long n) ? n : throw new FormatException($"\"{name}\" is not a whole number");

    private static bool Bool(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v)) throw new FormatException($"no \"{name}\"");
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new FormatException($"\"{name}\" is {v.ValueKind.ToString().ToLowerInvariant()}, not true or false"),
        };
    }
}
