using System.Text;

namespace UserLB.Cli.Api.Nftlb;

/// <summary>
/// Writes JSON the way nftlb's API prints its objects: eight spaces of indentation per level, <c>"key": "value"</c>,
/// an empty array as <c>[]</c>, every value a string, and no newline at the end.
/// </summary>
internal sealed class NftlbJsonWriter
{
    private const int Indent = 8;
    private readonly StringBuilder _text = new();
    private readonly Stack<bool> _first = new(); // per open container: nothing written in it yet
    private int Depth => _first.Count;

    public override string ToString() => _text.ToString();

    public NftlbJsonWriter StartObject(string? key = null) => Open(key, '{');

    public NftlbJsonWriter EndObject() => Close('}');

    public NftlbJsonWriter StartArray(string key) => Open(key, '[');

    public NftlbJsonWriter EndArray() => Close(']');

    /// <summary>Writes <c>"key": "value"</c>.</summary>
    public NftlbJsonWriter String(string key, string value)
    {
        Separate();
        Quote(key).Append(": ");
        Quote(value);
        return this;
    }

    private NftlbJsonWriter Open(string? key, char bracket)
    {
        if (Depth > 0) Separate();
        if (key is not null) Quote(key).Append(": ");
        _text.Append(bracket);
        _first.Push(true);
        return this;
    }

    private NftlbJsonWriter Close(char bracket)
    {
        bool empty = _first.Pop();
        if (!empty) _text.Append('\n').Append(' ', Depth * Indent);
        _text.Append(bracket);
        return this;
    }

    private void Separate()
    {
        if (!_first.Pop()) _text.Append(',');
        _first.Push(false);
        _text.Append('\n').Append(' ', Depth * Indent);
    }

    private StringBuilder Quote(string s)
    {
        _text.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': _text.Append("\\\""); break;
                case '\\': _text.Append("\\\\"); break;
                case '\n': _text.Append("\\n"); break;
                case '\r': _text.Append("\\r"); break;
                case '\t': _text.Append("\\t"); break;
                default:
                    if (c < 0x20) _text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    else _text.Append(c);
                    break;
            }
        }
        return _text.Append('"');
    }
}
