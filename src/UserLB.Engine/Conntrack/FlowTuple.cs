using System.Globalization;
using System.Runtime.CompilerServices;
using UserLB.Packets;

namespace UserLB.Engine.Conntrack;

/// <summary>A connection tuple in one direction (nf_conntrack_tuple): addresses, ports (ICMP echo: the id in both) and protocol.</summary>
public readonly record struct FlowTuple(IpAddr Src, IpAddr Dst, ushort SrcPort, ushort DstPort, byte Protocol)
{
    public FlowTuple Invert() => new(Dst, Src, DstPort, SrcPort, Protocol);

    public static FlowTuple From(in PacketInfo p) => new(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Protocol);

    public bool IsV6 => !Src.IsV4;

    /// <summary>Keyed hash of the tuple (direction is not part of it: each direction's tuple is hashed on its own).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Hash(ulong key)
    {
        ulong h = key;
        h = Mix(h ^ Src.Hi);
        h = Mix(h ^ Src.Lo);
        h = Mix(h ^ Dst.Hi);
        h = Mix(h ^ Dst.Lo);
        h = Mix(h ^ ((ulong)SrcPort << 32 | (ulong)DstPort << 16 | Protocol));
        return h;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong Mix(ulong x)
    {
        // A 64-bit finaliser (splitmix64 / murmur3 fmix64 family): every input bit affects every output bit.
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9UL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebUL;
        x ^= x >> 31;
        return x;
    }

    /// <summary>conntrack -L style: "src=… dst=… sport=… dport=…" (ICMP: "type=… code=… id=…" is printed by the caller).</summary>
    public string Format()
    {
        if (Protocol is IpProtocols.Icmp or IpProtocols.Icmpv6)
            return string.Create(CultureInfo.InvariantCulture, $"src={Src} dst={Dst} id={SrcPort}");
        return string.Create(CultureInfo.InvariantCulture, $"src={Src} dst={Dst} sport={SrcPort} dport={DstPort}");
    }

    public override string ToString() => Format();
}
