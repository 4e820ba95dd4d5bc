using System.Collections.Immutable;

namespace UserLB.Engine.Config;

/// <summary>Value equality helpers for the immutable collections held by the config records.</summary>
internal static class ConfigEquality
{
    public static readonly ImmutableSortedDictionary<string, string> EmptyExtras =
        ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal);

    public static bool SequenceEqual<T>(ImmutableArray<T> a, ImmutableArray<T> b)
    {
        if (a.IsDefaultOrEmpty || b.IsDefaultOrEmpty)
        {
            return a.IsDefaultOrEmpty && b.IsDefaultOrEmpty;
        }

        return a.AsSpan().SequenceEqual(b.AsSpan());
    }

    public static int SequenceHash<T>(ImmutableArray<T> a)
    {
        var h = new HashCode();
        if (!a.IsDefault)
        {
            foreach (var item in a)
            {
                h.Add(item);
            }
        }

        return h.ToHashCode();
    }

    public static bool ExtrasEqual(ImmutableSortedDictionary<string, string>? a, ImmutableSortedDictionary<string, string>? b)
    {
        var countA = a?.Count ?? 0;
        var countB = b?.Count ?? 0;
        if (countA != countB)
        {
            return false;
        }

        if (countA == 0)
        {
            return true;
        }

        foreach (var (key, value) in a!)
        {
            if (!b!.TryGetValue(key, out var other) || !string.Equals(value, other, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    public static int ExtrasHash(ImmutableSortedDictionary<string, string>? a)
    {
        var h = new HashCode();
        if (a is not null)
        {
            foreach (var (key, value) in a)
            {
                h.Add(key, StringComparer.Ordinal);
                h.Add(value, StringComparer.Ordinal);
            }
        }

        return h.ToHashCode();
    }
}
