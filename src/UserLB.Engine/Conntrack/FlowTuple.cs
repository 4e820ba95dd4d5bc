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

    /// <summary>Keyed hash of the tuple (direction is not part of it: each direction's tuple is hashed on its own).
    /// Three independent 64×64→128-bit multiplies folded (wyhash's "mum"), then one finaliser: a short dependency chain,
    /// every input bit reaching every output bit, and the key in every product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Hash(ulong key)
    {
        ulong a = Mum(Src.Lo ^ key ^ 0xa076_1d64_78bd_642fUL, Dst.Lo ^ 0xe703_7ed1_a0b4_28dbUL);
        ulong b = Mum(Src.Hi ^ 0x8ebc_6af0_9c88_c6e3UL, Dst.Hi ^ key ^ 0x5899_65cc_7537_4cc3UL);
        ulong c = Mum(((ulong)SrcPort << 32 | (ulong)DstPort << 16 | Protocol) ^ key ^ 0x1d8e_4e27_c47d_124fUL, 0xa076_1d64_78bd_642fUL ^ (key >> 7));
        return Mix(a ^ b ^ c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mum(ulong x, ulong y)
    {
        ulong hi = Math.BigMul(x, y, out ulong lo);
        return hi ^ lo;
    }

    /// <summary>Field-by-field equality, the most variable fields first (client address and port).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Matches(in FlowTuple other) =>
        Src.Lo == other.Src.Lo && SrcPort == other.SrcPort && DstPort == other.DstPort && Dst.Lo == other.Dst.Lo
        && Src.Hi == other.Src.Hi && Dst.Hi == other.Dst.Hi && Protocol == other.Protocol;

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
