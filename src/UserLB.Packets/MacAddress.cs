using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace UserLB.Packets;

/// <summary>A 48-bit Ethernet address held in the low bits of a ulong (network order).</summary>
public readonly record struct MacAddress(ulong Value)
{
    public static readonly MacAddress Broadcast = new(0xFFFF_FFFF_FFFFUL);
    public static readonly MacAddress Zero = new(0);

    public bool IsZero => Value == 0;
    public bool IsMulticast => (Value & 0x0100_0000_0000UL) != 0;

    public static MacAddress Read(ReadOnlySpan<byte> b) =>
        new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(b) << 32) | BinaryPrimitives.ReadUInt32BigEndian(b[2..]));

    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(b[2..], (uint)Value);
    }

    /// <summary>
    /// An Ethernet header's destination and source addresses (the first 12 bytes of <paramref name="frame"/>), in one
    /// 8-byte and one 4-byte store.
    /// </summary>
    public static void WriteAddresses(Span<byte> frame, MacAddress dst, MacAddress src)
    {
        BinaryPrimitives.WriteUInt64BigEndian(frame, dst.Value << 16 | (src.Value >> 32 & 0xFFFF));
        BinaryPrimitives.WriteUInt32BigEndian(frame[8..], (uint)src.Value);
    }

    /// <summary>The IPv6 solicited-node / multicast MAC 33:33:xx:xx:xx:xx for a group address's last 4 bytes.</summary>
    public static MacAddress Ipv6Multicast(uint low32) => new(0x3333_0000_0000UL | low32);

    public static bool TryParse(string? text, [NotNullWhen(true)] out MacAddress mac)
    {
        mac = default;
        if (text is null) return false;
        var parts = text.Split(':', '-');
        if (parts.Length != 6) return false;
        ulong v = 0;
        foreach (var p in parts)
        {
            if (p.Length is < 1 or > 2 || !byte.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var x)) return false;
            v = (v << 8) | x;
        }
        mac = new MacAddress(v);
        return true;
    }

    public static MacAddress Parse(string text) =>
        TryParse(text, out var m) ? m : throw new FormatException($"\"{text}\" is not a MAC address (expected aa:bb:cc:dd:ee:ff)");

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(byte)(Value >> 40):x2}:{(byte)(Value >> 32):x2}:{(byte)(Value >> 24):x2}:{(byte)(Value >> 16):x2}:{(byte)(Value >> 8):x2}:{(byte)Value:x2}");
}
