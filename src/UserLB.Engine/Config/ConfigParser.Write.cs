using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>ConfigParser: a configuration written back as nftlb JSON, through the key tables (ConfigKeys).</summary>
public static partial class ConfigParser
{
    // ---- writing ------------------------------------------------------------------------------------

    private static void WriteFarm(Utf8JsonWriter w, FarmConfig f)
    {
        w.WriteStartObject();
        w.WriteString("name", f.Name);
        foreach (var key in ConfigKeys.Farm)
        {
            key.Write(w, f);
        }

        foreach (var (key, value) in f.Extras)
        {
            w.WriteString(key, value);
        }

        w.WriteStartArray("backends");
        foreach (var b in f.Backends)
        {
            WriteBackend(w, b);
        }

        w.WriteEndArray();
        if (!f.Sessions.IsDefaultOrEmpty)
        {
            w.WriteStartArray("sessions");
            foreach (var s in f.Sessions)
            {
                w.WriteStartObject();
                w.WriteString("client", s.Client);
                w.WriteString("backend", s.Backend);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    private static void WriteBackend(Utf8JsonWriter w, BackendConfig b)
    {
        w.WriteStartObject();
        w.WriteString("name", b.Name);
        foreach (var key in ConfigKeys.Backend)
        {
            key.Write(w, b);
        }

        foreach (var (key, value) in b.Extras)
        {
            w.WriteString(key, value);
        }

        w.WriteEndObject();
    }
}
