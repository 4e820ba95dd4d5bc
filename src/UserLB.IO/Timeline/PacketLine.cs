using System.Buffers;
using System.Text.Json;

namespace UserLB.IO.Timeline;

/// <summary>One frame of a connection read back from a PACKET line.</summary>
public sealed record PacketRecord(
    long TimeNs, long Packet, long Id, bool Reply, string Summary, int Length, string Verdict, string? Drop, string? Nat,
    string? Farm, string? Backend, long LineNumber);

/// <summary>
/// A frame of a connection as one JSON line beside the conntrack events (<c>replay --packet-events</c>, and what the
/// timeline reads): <c>{"event":"PACKET", "time", "time_ns", "packet" (the input's frame number), "id" (the
/// connection), "dir" (original or reply), "summary" (as --trace prints it), "length", "verdict" (forwarded, queued,
/// dropped), "drop" (the reason), "nat" (the translation applied), "farm", "backend"}</c>. Its event name is new, its
/// other fields are named as in the conntrack events, so readers that pick events by name are unaffected.
/// </summary>
public static class PacketLine
{
    public const string EventName = "PACKET";

    /// <summary>'&gt;' and '→' of the summaries and translations written as they are (the file is data, not HTML).</summary>
    private static readonly JsonWriterOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes the frame as one line of UTF-8 JSON (no newline).</summary>
    public static void Write(IBufferWriter<byte> output, long nowNs, long packet, uint id, bool reply, string summary, int length,
        string verdict, string? drop, string? nat, string? farm, string? backend)
    {
        using var w = new Utf8JsonWriter(output, Options);
        w.WriteStartObject();
        w.WriteString("event", EventName);
        w.WriteNumber("time", decimal.Round(nowNs / 1_000_000_000m, 6, MidpointRounding.ToZero));
        w.WriteNumber("time_ns", nowNs);
        w.WriteNumber("packet", packet);
        w.WriteNumber("id", id);
        w.WriteString("dir", reply ? "reply" : "original");
        w.WriteString("summary", summary);
        w.WriteNumber("length", length);
        w.WriteString("verdict", verdict);
        if (drop is not null) w.WriteString("drop", drop);
        if (nat is not null) w.WriteString("nat", nat);
        if (farm is not null) w.WriteString("farm", farm);
        if (backend is not null) w.WriteString("backend", backend);
        w.WriteEndObject();
    }

    /// <summary>Whether a line of an events file is a PACKET line (as <see cref="Write"/> writes them).</summary>
    public static bool IsPacketLine(string line) =>
        line.Contains("\"event\":\"PACKET\"", StringComparison.Ordinal);

    /// <summary>Parses a PACKET line; false with why when it is not one.</summary>
    public static bool TryParse(string line, long lineNumber, out PacketRecord? record, out string? error)
    {
        ArgumentNullException.ThrowIfNull(line);
        record = null;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object) throw new FormatException("not a JSON object");
            if (Text(r, "event") != EventName) throw new FormatException("not a PACKET line");
            string dir = Text(r, "dir");
            if (dir is not ("original" or "reply")) throw new FormatException($"\"dir\" is \"{dir}\", not original or reply");
            record = new PacketRecord(Number(r, "time_ns"), Number(r, "packet"), Number(r, "id"), dir == "reply", Text(r, "summary"),
                (int)Number(r, "length"), Text(r, "verdict"), Optional(r, "drop"), Optional(r, "nat"), Optional(r, "farm"),
                Optional(r, "backend"), lineNumber);
            error = null;
            return true;
        }
        catch (JsonException ex)
        {
            error = "not JSON: " + ex.Message;
            return false;
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return false;
        }
    }

    private static string Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new FormatException($"no text \"{name}\"");

    private static string? Optional(JsonElement e, string name) => e.TryGetProperty(name, out _) ? Text(e, name) : null;

    private static long Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n
        : throw new FormatException($"no whole number \"{name}\"");
}
