using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Engine.Balancing;

/// <summary>
/// "hash" and "symhash": the hash of the configured fields (sched-param; default the source address) looked up in a
/// weighted Maglev table (REFERENCE §4, Eisenbud et al. 2016): every instance with the same backends maps a flow to the
/// same backend without shared state, and a backend change moves only about 1/N of the keys.
/// symhash hashes the two endpoints symmetrically, so both directions of a flow map to the same backend.
/// The hash key is fixed (not random) on purpose, so that independent instances agree.
/// </summary>
public sealed class MaglevScheduler : IScheduler
{
    public const int TableSize = 65537; // prime, > 100 × backends for up to 655 backends
    private const ulong FieldKey = 0x5555_6C62_2D68_6173UL; // "UUlb-has"
    private readonly int[] _table;
    private readonly HashFields _fields;
    private readonly bool _symmetric;

    public MaglevScheduler(ReadOnlySpan<int> weights, ReadOnlySpan<ulong> keys, HashFields fields, bool symmetric)
    {
        _fields = fields;
        _symmetric = symmetric;
        _table = Build(weights, keys);
    }

    public string Name => _symmetric ? "symhash" : "hash";

    /// <summary>The table's slots (<see cref="TableSize"/>, or 0 when no backend has weight).</summary>
    public int Slots => _table.Length;

    /// <summary>The candidate index owning <paramref name="slot"/>.</summary>
    public int SlotOwner(int slot) => _table[slot];

    private static int[] Build(ReadOnlySpan<int> weights, ReadOnlySpan<ulong> keys)
    {
        int n = weights.Length;
        var table = new int[TableSize];
        long total = 0;
        int maxWeight = 0;
        foreach (var w in weights) { total += w; maxWeight = Math.Max(maxWeight, w); }
        if (total == 0) return [];
        Array.Fill(table, -1);
        var offset = new long[n];
        var skip = new long[n];
        var next = new long[n];
        var credit = new long[n];
        for (int i = 0; i < n; i++)
        {
            // Backends are identified by a stable key (a hash of their name), so one backend's change moves few slots.
            ulong h1 = FlowTuple.Mix(0x6d61676c65763031UL ^ keys[i]);
            ulong h2 = FlowTuple.Mix(0x6d61676c65763032UL ^ FlowTuple.Mix(keys[i]));
            offset[i] = (long)(h1 % TableSize);
            skip[i] = (long)(h2 % (TableSize - 1)) + 1;
        }
        int filled = 0;
        while (true)
        {
            for (int i = 0; i < n; i++)
            {
                if (weights[i] == 0) continue;
                credit[i] += weights[i];
                while (credit[i] >= maxWeight)
                {
                    credit[i] -= maxWeight;
                    long c;
                    do
                    {
                        c = (offset[i] + next[i] * skip[i]) % TableSize;
                        next[i]++;
                    }
                    while (table[c] >= 0);
                    table[c] = i;
                    if (++filled == TableSize) return table;
                }
            }
        }
    }

    public int Pick(in SchedInput input, Random random, out ulong detail)
    {
        if (_table.Length == 0) { detail = 0; return -1; }
        ulong h = _symmetric ? SymmetricHash(input) : FieldHash(input, _fields);
        detail = h;
        return _table[(int)(h % TableSize)];
    }

    internal static ulong FieldHash(in SchedInput p, HashFields fields)
    {
        ulong h = FieldKey;
        if ((fields & HashFields.SrcIp) != 0) h = FlowTuple.Mix(h ^ p.Src.Hi) ^ FlowTuple.Mix(p.Src.Lo + 1);
        if ((fields & HashFields.DstIp) != 0) h = FlowTuple.Mix(h ^ p.Dst.Hi + 2) ^ FlowTuple.Mix(p.Dst.Lo + 3);
        if ((fields & HashFields.SrcPort) != 0) h = FlowTuple.Mix(h ^ ((ulong)p.SrcPort + 4));
        if ((fields & HashFields.DstPort) != 0) h = FlowTuple.Mix(h ^ ((ulong)p.DstPort << 17) + 5);
        if ((fields & HashFields.SrcMac) != 0) h = FlowTuple.Mix(h ^ p.SrcMac.Value + 6);
        if ((fields & HashFields.DstMac) != 0) h = FlowTuple.Mix(h ^ (p.DstMac.Value << 1) + 7);
        return FlowTuple.Mix(h);
    }

    /// <summary>Order-independent hash of (address, port) of both ends, like skb_get_hash_symmetric.</summary>
    internal static ulong SymmetricHash(in SchedInput p)
    {
        ulong a = Endpoint(p.Src, p.SrcPort);
        ulong b = Endpoint(p.Dst, p.DstPort);
        return FlowTuple.Mix((a + b) ^ FieldKey) ^ FlowTuple.Mix(a ^ b);
    }

    private static ulong Endpoint(IpAddr ip, ushort port) => FlowTuple.Mix(ip.Hi ^ FlowTuple.Mix(ip.Lo ^ FieldKey) ^ ((ulong)port << 1));
}
