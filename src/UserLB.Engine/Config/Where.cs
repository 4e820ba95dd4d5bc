using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>
/// Where in a document a value sits, for error messages:
/// <c>farm "app", backend "bck1", key "weight"</c> (or <c>policy "bl", key "elements"</c>). Indexes are 0-based and used when the name is unknown.
/// </summary>
internal readonly record struct Where(
    string? Farm,
    int FarmIndex,
    string? Backend,
    int BackendIndex,
    string? Session,
    int SessionIndex,
    string? Key,
    string? Policy = null)
{
    public static Where Root => new(null, -1, null, -1, null, -1, null);

    public static Where ForFarm(string? name, int index) => new(name, index, null, -1, null, -1, null);

    public static Where ForPolicy(string? name) => Root with { Policy = name };

    public Where ForBackend(string? name, int index) =>
        this with { Backend = name, BackendIndex = index, Session = null, SessionIndex = -1, Key = null };

    public Where ForSession(string? client, int index) =>
        this with { Backend = null, BackendIndex = -1, Session = client, SessionIndex = index, Key = null };

    public Where WithKey(string key) => this with { Key = key };

    public ConfigException Error(string detail, Exception? inner = null)
    {
        var location = ToString();
        var message = location.Length == 0 ? detail : location + ": " + detail;
        return new ConfigException(message, Farm, Backend, Key, inner);
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        Append(sb, "policy", Policy, -1);
        Append(sb, "farm", Farm, FarmIndex);
        Append(sb, "backend", Backend, BackendIndex);
        Append(sb, "session", Session, SessionIndex);
        if (Key is not null)
        {
            Separate(sb);
            sb.Append("key ").Append(Quote(Key));
        }

        return sb.ToString();
    }

    /// <summary>A value as it appears in messages: JSON-quoted, shortened if long.</summary>
    public static string Quote(string value)
    {
        const int Max = 80;
        var shown = value.Length > Max ? string.Concat(value.AsSpan(0, Max), "...") : value;
        return "\"" + JsonEncodedText.Encode(shown, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString() + "\"";
    }

    private static void Append(StringBuilder sb, string kind, string? name, int index)
    {
        if (name is not null)
        {
            Separate(sb);
            sb.Append(kind).Append(' ').Append(Quote(name));
        }
        else if (index >= 0)
        {
            Separate(sb);
            sb.Append(kind).Append(" #").Append((index + 1).ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void Separate(StringBuilder sb)
    {
        if (sb.Length > 0)
        {
            sb.Append(", ");
        }
    }
}
