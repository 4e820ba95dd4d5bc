using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace UserLB.Cli;

/// <summary>A deliberately small option parser: <c>--name value</c>, <c>--name=value</c>, flags, positionals. Unknown options are errors.</summary>
internal sealed class Args
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags;
    private readonly HashSet<string> _valued;

    /// <param name="args">The command line after the command.</param>
    /// <param name="valued">Options that take a value.</param>
    /// <param name="flags">Options that take none.</param>
    /// <param name="aliases">Other names of options (e.g. nftlb's <c>c</c> for <c>config</c>): stored under the option's own name.</param>
    public Args(IEnumerable<string> args, IEnumerable<string> valued, IEnumerable<string> flags, IReadOnlyDictionary<string, string>? aliases = null)
    {
        _valued = [.. valued];
        _flags = [.. flags, "help", "h"];
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (a.StartsWith("--", StringComparison.Ordinal) || (a.StartsWith('-') && a.Length == 2 && !char.IsDigit(a[1])))
            {
                string name = a.TrimStart('-');
                string? value = null;
                int eq = name.IndexOf('=', StringComparison.Ordinal);
                if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
                if (aliases is not null && aliases.TryGetValue(name, out var canonical)) name = canonical; // the last one given wins, as for a repeated option
                if (_flags.Contains(name))
                {
                    if (value is not null) throw new UsageException($"option --{name} takes no value");
                    _values[name] = null;
                }
                else if (_valued.Contains(name))
                {
                    if (value is null)
                    {
                        if (i + 1 >= list.Count) throw new UsageException($"option --{name} needs a value");
                        value = list[++i];
                    }
                    _values[name] = value;
                }
                else
                {
                    throw new UsageException($"unknown option {a}");
                }
            }
            else
            {
                Positionals.Add(a);
            }
        }
    }

    public List<string> Positionals { get; } = [];

    public bool Has(string name) => _values.ContainsKey(name);

    public bool Help => Has("help") || Has("h");

    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v : null;

    public string Require(string name) => Get(name) ?? throw new UsageException($"missing required option --{name}");

    public bool TryGetInt(string name, [NotNullWhen(true)] out int? value)
    {
        value = null;
        var s = Get(name);
        if (s is null) return false;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw new UsageException($"option --{name}: \"{s}\" is not an integer");
        value = v;
        return true;
    }
}

internal sealed class UsageException(string message) : Exception(message);
