using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace UserLB.Packets;

/// <summary>
/// An IPv4 or IPv6 address as two big-endian 64-bit halves, cheap to compare and hash.
/// IPv4 addresses are held as IPv4-mapped IPv6 (::ffff:a.b.c.d), so one tuple type serves both families.
/// </summary>
public readonly record struct IpAddr(ulong Hi, ulong Lo)
{
    private const ulong MappedPrefix = 0x0000_FFFF_0000_0000UL;

    public bool IsV4 => Hi == 0 && (Lo & 0xFFFF_FFFF_0000_0000UL) == MappedPrefix;
    public uint V4 => (uint)Lo;
    public bool IsZero => Hi == 0 && Lo == 0;

    /// <summary>A multicast address: 224.0.0.0/4 or ff00::/8.</summary>
    public bool IsMulticast => IsV4 ? (Lo & 0xF000_0000UL) == 0xE000_0000UL : Hi >> 56 == 0xFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IpAddr FromV4(uint address) => new(0, MappedPrefix | address);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IpAddr ReadV4(ReadOnlySpan<byte> b) => FromV4(BinaryPrimitives.ReadUInt32BigEndian(b));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static IpAddr ReadV6(ReadOnlySpan<byte> b) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(b), BinaryPrimitives.ReadUInt64BigEndian(b[8..]));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteV4(Span<byte> b) => BinaryPrimitives.WriteUInt32BigEndian(b, (uint)Lo);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteV6(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt64BigEndian(b, Hi);
        BinaryPrimitives.WriteUInt64BigEndian(b[8..], Lo);
    }

    /// <summary>Ones'-complement sum of the address as 16-bit words (4 bytes for IPv4, 16 for IPv6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint WordSum(bool v4)
    {
        if (v4) return (uint)((Lo >> 16) & 0xFFFF) + (uint)(Lo & 0xFFFF);
        return Checksum.Words64(Hi) + Checksum.Words64(Lo);
    }

    public static IpAddr FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> b = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(b, out _);
            return ReadV4(b);
        }
        if (address.IsIPv4MappedToIPv6) return FromIPAddress(address.MapToIPv4());
        address.TryWriteBytes(b, out _);
        return ReadV6(b);
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> b = stackalloc byte[16];
        if (IsV4)
        {
            WriteV4(b);
            return new IPAddress(b[..4]);
        }
        WriteV6(b);
        return new IPAddress(b);
    }

    public static IpAddr Parse(string text) => FromIPAddress(IPAddress.Parse(text));

    public override string ToString() => ToIPAddress().ToString();
}
