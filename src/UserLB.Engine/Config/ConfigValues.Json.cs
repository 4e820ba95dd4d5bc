using System.Text;
using System.Text.Json;

namespace UserLB.Engine.Config;

/// <summary>ConfigValues: the JSON shapes a value may come in (a scalar, a list, a number or boolean read as text).</summary>
internal static partial class ConfigValues
{
    // ---- JSON shapes ------------------------------------------------------------------------------

    public static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>A string, or a JSON number taken as its text.</summary>
    public static string Scalar(JsonElement e, Where w) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString()!,
        JsonValueKind.Number => e.GetRawText(),
        _ => throw w.Error("expected a string or a number, got " + Describe(e)),
    };

    /// <summary>A scalar, or an array of scalars joined by <paramref name="separator"/>.</summary>
    public static string ScalarOrList(JsonElement e, Where w, char separator)
    {
        if (e.ValueKind != JsonValueKind.Array)
        {
            return e.ValueKind is JsonValueKind.String or JsonValueKind.Number
                ? Scalar(e, w)
                : throw w.Error("expected a string, a number or an array of them, got " + Describe(e));
        }

        var sb = new StringBuilder();
        foreach (var item in e.EnumerateArray())
        {
            if (item.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
            {
                throw w.Error("expected array items to be strings or numbers, got " + Describe(item));
            }

            if (sb.Length > 0)
            {
                sb.Append(separator);
            }

            sb.Append(Scalar(item, w));
        }

        return sb.ToString();
    }
}
