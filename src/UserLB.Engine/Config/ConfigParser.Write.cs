using System.Collections.Immutable;
using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>ConfigParser: a configuration written back as nftlb JSON, through the key tables (ConfigKeys).</summary>
public static partial class ConfigParser
{
    // ---- writing ------------------------------------------------------------------------------------

    private static void WriteFarm(Utf8JsonWriter w, FarmConfig f)
    {
        w.WriteStartObject();
        WriteKeys(w, f.Name, ConfigKeys.Farm, f, f.Extras);

        w.WriteStartArray("backends");
        foreach (var b in f.Backends)
        {
            WriteBackend(w, b);
        }

        w.WriteEndArray();
        if (!f.Policies.IsDefaultOrEmpty)
        {
            WriteFarmPolicies(w, f.Policies);
        }

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
        WriteKeys(w, b.Name, ConfigKeys.Backend, b, b.Extras);

        w.WriteEndObject();
    }

    /// <summary>An object's name, its keys in table order and the extras kept verbatim (the caller opens and closes it).</summary>
    private static void WriteKeys<TDraft, TConfig>(Utf8JsonWriter w, string name, ConfigKey<TDraft, TConfig>[] keys, TConfig config,
        ImmutableSortedDictionary<string, string> extras)
    {
        w.WriteString("name", name);
        foreach (var key in keys)
        {
            key.Write(w, config);
        }

        foreach (var (key, value) in extras)
        {
            w.WriteString(key, value);
        }
    }
}
