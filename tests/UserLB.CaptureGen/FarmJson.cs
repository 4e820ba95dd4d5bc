using System.Text;
using System.Text.Json;

namespace UserLB.CaptureGen;

/// <summary>Writes a one-farm nftlb document (every value a string, <c>name</c> first, as nftlb wants).</summary>
public static class FarmJson
{
    public static string Write(IReadOnlyList<(string Key, string Value)> farm, IReadOnlyList<IReadOnlyList<(string Key, string Value)>> backends)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, NewLine = "\n" }))
        {
            w.WriteStartObject();
            w.WriteStartArray("farms");
            w.WriteStartObject();
            foreach (var (k, v) in farm) w.WriteString(k, v);
            w.WriteStartArray("backends");
            foreach (var b in backends)
            {
                w.WriteStartObject();
                foreach (var (k, v) in b) w.WriteString(k, v);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    public static IReadOnlyList<(string, string)> Backend(string name, string ip, string? port = null)
    {
        var list = new List<(string, string)> { ("name", name), ("ip-addr", ip), ("weight", "1") };
        if (port is not null) list.Add(("port", port));
        return list;
    }
}
