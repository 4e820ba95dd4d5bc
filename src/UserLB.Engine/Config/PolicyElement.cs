using System.Net;
using System.Net.Sockets;

namespace UserLB.Engine.Config;

/// <summary>
/// A policy element: an address, a network (<c>a/len</c>) or a range (<c>a-b</c>), as the interval [First, Last] of
/// one family (IPv4 values are the 32-bit address). A policy's set keeps its elements in address order and absorbs
/// those another one covers, as nftables' interval sets do.
/// </summary>
/// <param name="Text">The element as given (nftlb prints it back as it was written).</param>
/// <param name="V6">Whether it is an IPv6 element.</param>
/// <param name="First">The first address of the interval.</param>
/// <param name="Last">The last address of the interval.</param>
public readonly record struct PolicyElement(string Text, bool V6, UInt128 First, UInt128 Last)
{
    /// <summary>Parses <paramref name="text"/>; false when it is none of the three forms.</summary>
    public static bool TryParse(string text, out PolicyElement element)
    {
        ArgumentNullException.ThrowIfNull(text);
        element = default;
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (dash > 0)
        {
            if (!TryAddress(text[..dash], out bool v6a, out var lo) || !TryAddress(text[(dash + 1)..], out bool v6b, out var hi) || v6a != v6b || hi < lo) return false;
            element = new PolicyElement(text, v6a, lo, hi);
            return true;
        }
        if (slash > 0)
        {
            if (!TryAddress(text[..slash], out bool v6, out var a) || !int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int len)) return false;
            int bits = v6 ? 128 : 32;
            if (len > bits) return false;
            UInt128 host = len == bits ? UInt128.Zero : len == 0 && v6 ? UInt128.MaxValue : (UInt128.One << (bits - len)) - 1; // a shift by 128 would wrap
            element = new PolicyElement(text, v6, a & ~host, a | host);
            return true;
        }
        if (!TryAddress(text, out bool six, out var x)) return false;
        element = new PolicyElement(text, six, x, x);
        return true;
    }

    /// <summary>Whether this element's interval holds all of <paramref name="other"/>'s.</summary>
    public bool Covers(PolicyElement other) => V6 == other.V6 && First <= other.First && other.Last <= Last;

    /// <summary>Adds <paramref name="e"/> to an ordered set: nothing if an element covers it, else it replaces those it covers.</summary>
    public static void AddTo(List<PolicyElement> set, PolicyElement e)
    {
        ArgumentNullException.ThrowIfNull(set);
        foreach (var x in set)
            if (x.Covers(e)) return;
        set.RemoveAll(e.Covers);
        int i = 0;
        while (i < set.Count && Before(set[i], e)) i++;
        set.Insert(i, e);
    }

    private static bool Before(PolicyElement a, PolicyElement b) => a.V6 != b.V6 ? !a.V6 : a.First < b.First;

    private static bool TryAddress(string s, out bool v6, out UInt128 value)
    {
        v6 = false;
        value = UInt128.Zero;
        if (!IPAddress.TryParse(s, out var ip)) return false;
        v6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
        foreach (byte b in ip.GetAddressBytes()) value = (value << 8) | b;
        return true;
    }
}
