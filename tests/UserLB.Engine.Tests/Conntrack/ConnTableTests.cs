using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Engine.Tests.Conntrack;

public class ConnTableTests
{
    private const long S = 1_000_000_000L;
    private static readonly IpAddr Vip = IpAddr.Parse("192.168.101.250");
    private static readonly IpAddr Backend = IpAddr.Parse("192.168.1.10");

    /// <summary>Flow n (unique for n &lt; 2^24): client → VIP:443 and its SNAT reply tuple backend:443 → source address:port.</summary>
    private static (FlowTuple Original, FlowTuple Reply) Flow(int n)
    {
        var client = IpAddr.FromV4(0x0A00_0000u + (uint)(n >> 14));
        ushort port = (ushort)(1024 + (n & 0x3FFF));
        return (new FlowTuple(client, Vip, port, 443, IpProtocols.Tcp),
                new FlowTuple(Backend, IpAddr.FromV4(0xC0A8_0000u + (uint)(n >> 15)), 443, (ushort)(1024 + (n & 0x7FFF)), IpProtocols.Tcp));
    }

    private static int Insert(ConnTable t, int n, long now = 0, long timeout = 60 * S, Random? r = null)
    {
        var (o, rep) = Flow(n);
        return t.Insert(o, rep, now, timeout, ConnStatus.SrcNat | ConnStatus.DstNat, r ?? new Random(1));
    }

    [Fact]
    public void Lookup_EitherTuple_FindsEntryWithDirection()
    {
        var t = new ConnTable(16, 0x1234);
        var (o, r) = Flow(1);
        int i = t.Insert(o, r, 0, 60 * S, ConnStatus.DstNat, new Random(1));
        Assert.True(i >= 0);
        Assert.Equal(i, t.Lookup(o, 1, out bool reply1));
        Assert.False(reply1);
        Assert.Equal(i, t.Lookup(r, 1, out bool reply2));
        Assert.True(reply2);
        Assert.Equal(-1, t.Lookup(o.Invert(), 1, out _));
        Assert.Equal(1, t.Count);
        ref var e = ref t[i];
        Assert.Equal(o, e.Original);
        Assert.Equal(r, e.Reply);
        Assert.True(e.InUse);
        Assert.Equal(ConnStatus.InUse | ConnStatus.DstNat, e.Status);
        Assert.Equal(60 * S, e.ExpiresNs);
    }

    [Fact]
    public void Insert_ManyFlows_EachFoundFromBothTuples()
    {
        var t = new ConnTable(10_000, 99);
        var idx = new int[5000];
        for (int n = 0; n < idx.Length; n++) idx[n] = Insert(t, n);
        Assert.Equal(idx.Length, idx.Distinct().Count());
        for (int n = 0; n < idx.Length; n++)
        {
            var (o, r) = Flow(n);
            Assert.Equal(idx[n], t.Lookup(o, 1, out _));
            Assert.Equal(idx[n], t.Lookup(r, 1, out _));
        }
        Assert.Equal(idx.Length, t.Count);
    }

    [Fact]
    public void Remove_Entry_BothTuplesGoneAndCountDrops()
    {
        var t = new ConnTable(16, 1);
        int a = Insert(t, 1), b = Insert(t, 2);
        t.Remove(a, 5);
        var (o1, r1) = Flow(1);
        var (o2, r2) = Flow(2);
        Assert.Equal(-1, t.Lookup(o1, 5, out _));
        Assert.Equal(-1, t.Lookup(r1, 5, out _));
        Assert.Equal(b, t.Lookup(o2, 5, out _));
        Assert.Equal(b, t.Lookup(r2, 5, out _));
        Assert.Equal(1, t.Count);
        Assert.False(t[a].InUse);
        t.Remove(a, 6); // removing twice is harmless
        Assert.Equal(1, t.Count);
    }

    [Theory]
    [InlineData(59, true)]
    [InlineData(60, false)] // ExpiresNs <= now: expired (nf_ct_is_expired)
    [InlineData(61, false)]
    public void Lookup_ExpiredEntry_NotReturnedAndRemoved(long nowSeconds, bool found)
    {
        var t = new ConnTable(16, 1);
        int i = Insert(t, 1, now: 0, timeout: 60 * S);
        var (o, r) = Flow(1);
        Assert.Equal(found ? i : -1, t.Lookup(nowSeconds == 60 ? r : o, nowSeconds * S, out _));
        Assert.Equal(found ? 1 : 0, t.Count);
        Assert.Equal(found, t.IsTaken(o, nowSeconds * S));
    }

    [Fact]
    public void Refresh_ExtendsExpiry()
    {
        var t = new ConnTable(16, 1);
        int i = Insert(t, 1, now: 0, timeout: 10 * S);
        t.Refresh(i, 9 * S, 10 * S);
        Assert.Equal(19 * S, t[i].ExpiresNs);
        Assert.Equal(i, t.Lookup(Flow(1).Original, 18 * S, out _));
    }

    [Fact]
    public void Sweep_ExpiredEntries_FreedAndLiveKept()
    {
        var t = new ConnTable(1000, 7);
        for (int n = 0; n < 100; n++) Insert(t, n, now: 0, timeout: (n % 2 == 0 ? 10 : 100) * S);
        Assert.Equal(0, t.Sweep(5 * S, 1000));
        int freed = 0;
        // Incremental: a small budget per call, as the engine does per frame.
        for (int k = 0; k < 25; k++) freed += t.Sweep(10 * S, 4);
        Assert.Equal(50, freed);
        Assert.Equal(50, t.Count);
        for (int n = 0; n < 100; n++)
            Assert.Equal(n % 2 != 0, t.Lookup(Flow(n).Original, 10 * S, out _) >= 0);
        Assert.Equal(50, t.SweepAll(100 * S));
        Assert.Equal(0, t.Count);
    }

    private sealed class Recorder : IConntrackEvents
    {
        public List<(ConnEventType Type, uint Id)> Events { get; } = [];
        public void OnEvent(ConnEventType type, in ConnEntry entry, long nowNs) => Events.Add((type, entry.Id));
    }

    [Fact]
    public void Sweep_ExpiredEntry_RaisesDestroyEvent()
    {
        var rec = new Recorder();
        var t = new ConnTable(16, 1) { Events = rec };
        int i = Insert(t, 1, timeout: S);
        uint id = t[i].Id;
        t.SweepAll(2 * S);
        Assert.Equal([(ConnEventType.Destroy, id)], rec.Events);
    }

    [Fact]
    public void Insert_FullTable_EarlyDropsAnUnassuredEntry()
    {
        var t = new ConnTable(4, 1);
        var idx = Enumerable.Range(0, 4).Select(n => Insert(t, n)).ToArray();
        for (int k = 0; k < 3; k++) t[idx[k]].Status |= ConnStatus.Assured; // only flow 3 is not ASSURED
        int fifth = Insert(t, 4, now: S);
        Assert.True(fifth >= 0);
        Assert.Equal(4, t.Count);
        Assert.Equal(1, t.EarlyDrops);
        Assert.Equal(-1, t.Lookup(Flow(3).Original, S, out _)); // the unassured one went
        for (int n = 0; n < 3; n++) Assert.True(t.Lookup(Flow(n).Original, S, out _) >= 0);
        Assert.Equal(fifth, t.Lookup(Flow(4).Reply, S, out _));
    }

    [Fact]
    public void Insert_FullTableAllAssured_ReturnsMinusOne()
    {
        var t = new ConnTable(4, 1);
        for (int n = 0; n < 4; n++) t[Insert(t, n)].Status |= ConnStatus.Assured;
        Assert.Equal(-1, Insert(t, 4, now: S));
        Assert.Equal(4, t.Count);
        Assert.Equal(0, t.EarlyDrops);
        Assert.Equal(-1, t.Lookup(Flow(4).Original, S, out _));
    }

    [Fact]
    public void Insert_FullTableWithExpiredAssuredEntry_ReusesIt()
    {
        var t = new ConnTable(4, 1);
        for (int n = 0; n < 4; n++) t[Insert(t, n, timeout: (n == 2 ? 1 : 100) * S)].Status |= ConnStatus.Assured;
        Assert.True(Insert(t, 4, now: 5 * S) >= 0);
        Assert.Equal(4, t.Count);
        Assert.Equal(-1, t.Lookup(Flow(2).Original, 5 * S, out _));
    }

    [Fact]
    public void InsertRemove_MillionCycles_CountAndLookupsStayRight()
    {
        const int window = 3000, total = 1_000_000;
        var t = new ConnTable(4096, 0xDEADBEEF);
        var r = new Random(5);
        var live = new Dictionary<int, int>(); // flow number → index
        var order = new Queue<int>();
        for (int n = 0; n < total; n++)
        {
            int i = Insert(t, n, r: r);
            Assert.True(i >= 0);
            live[n] = i;
            order.Enqueue(n);
            if (order.Count > window || r.Next(4) == 0)
            {
                // Remove either the oldest or a random-ish recent one, exercising the free list and chain unlinking.
                int victim = order.Dequeue();
                t.Remove(live[victim], 0);
                live.Remove(victim);
            }
            if (n % 50_000 == 0)
            {
                Assert.Equal(live.Count, t.Count);
                foreach (var (flow, index) in live)
                {
                    Assert.Equal(index, t.Lookup(Flow(flow).Original, 0, out bool a));
                    Assert.Equal(index, t.Lookup(Flow(flow).Reply, 0, out bool b));
                    Assert.False(a);
                    Assert.True(b);
                }
            }
        }
        Assert.Equal(live.Count, t.Count);
        Assert.True(t.HighWater <= window + 1, $"slots not reused: high water {t.HighWater}");
        foreach (var index in live.Values) t.Remove(index, 0);
        Assert.Equal(0, t.Count);
        Assert.Equal(0, t.SweepAll(long.MaxValue));
    }

    private static int[] Buckets(ConnTable t) =>
        (int[])typeof(ConnTable).GetField("_buckets", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(t)!;

    [Fact]
    public void Insert_DifferentHashKeys_DifferentBucketsButLookupsWork()
    {
        var a = new ConnTable(1024, 0x0123_4567_89AB_CDEFUL);
        var b = new ConnTable(1024, 0xFEDC_BA98_7654_3210UL);
        for (int n = 0; n < 200; n++)
        {
            Insert(a, n);
            Insert(b, n);
        }
        var usedA = Buckets(a).Select((head, bucket) => (head, bucket)).Where(x => x.head >= 0).Select(x => x.bucket).ToHashSet();
        var usedB = Buckets(b).Select((head, bucket) => (head, bucket)).Where(x => x.head >= 0).Select(x => x.bucket).ToHashSet();
        Assert.False(usedA.SetEquals(usedB), "the hash key does not change bucket placement");
        // The tuple hash itself depends on the key.
        var (o, _) = Flow(1);
        Assert.NotEqual(o.Hash(1), o.Hash(2));
        for (int n = 0; n < 200; n++)
        {
            var (orig, rep) = Flow(n);
            Assert.Equal(a.Lookup(orig, 0, out _), a.Lookup(rep, 0, out _));
            Assert.True(a.Lookup(orig, 0, out _) >= 0);
            Assert.True(b.Lookup(orig, 0, out _) >= 0);
            Assert.True(b.Lookup(rep, 0, out bool reply) >= 0 && reply);
        }
    }

    [Fact]
    public void Insert_SameTupleDirectionlessHash_OriginalAndReplyOfDifferentEntriesDistinct()
    {
        // Entry A's reply tuple equals the inverse of entry B's original: both must be found, each with its own direction.
        var t = new ConnTable(16, 3);
        var x = new FlowTuple(IpAddr.Parse("10.0.0.1"), IpAddr.Parse("10.0.0.2"), 1000, 2000, IpProtocols.Udp);
        int a = t.Insert(x, x.Invert(), 0, S, ConnStatus.None, new Random(1));
        var y = new FlowTuple(IpAddr.Parse("10.0.0.3"), IpAddr.Parse("10.0.0.4"), 1000, 2000, IpProtocols.Udp);
        int b = t.Insert(y, y.Invert(), 0, S, ConnStatus.None, new Random(1));
        Assert.Equal(a, t.Lookup(x.Invert(), 0, out bool ra));
        Assert.True(ra);
        Assert.Equal(b, t.Lookup(y, 0, out bool rb));
        Assert.False(rb);
        Assert.NotEqual(t[a].Id, t[b].Id);
    }

    private static List<int> Unreplied(ConnTable t, int group)
    {
        var list = new List<int>();
        for (int i = t.OldestUnassured(group); i >= 0; i = t.NextUnassured(i)) list.Add(i);
        return list;
    }

    /// <summary>Operations on the unreplied lists (tracked, replied, removed, re-tracked) and the lists expected after them.</summary>
    [Theory]
    [InlineData("track 0 a; track 1 a; track 2 b; track 3 a", "0 1 3", "2")]
    [InlineData("track 0 a; track 1 a; track 2 a; untrack 1", "0 2", "")]
    [InlineData("track 0 a; track 1 a; track 2 a; untrack 0; untrack 2", "1", "")]
    [InlineData("track 0 a; track 1 a; remove 0; remove 1", "", "")]
    [InlineData("track 0 a; track 0 a; track 1 a", "0 1", "")]            // tracked twice: once in the list
    [InlineData("track 0 a; untrack 0; untrack 0; track 1 b", "", "1")]   // replied twice: a no-op the second time
    [InlineData("track 0 a; track 1 a; remove 0; track 4 a", "1 4", "")]  // flow 4 takes flow 0's freed slot
    public void TrackUnassured_Operations_ListsInCreationOrder(string ops, string expectedA, string expectedB)
    {
        var t = new ConnTable(64, 1);
        var idx = new Dictionary<int, int>();
        foreach (var op in ops.Split("; "))
        {
            var w = op.Split(' ');
            int n = int.Parse(w[1], System.Globalization.CultureInfo.InvariantCulture);
            if (!idx.ContainsKey(n)) idx[n] = Insert(t, n);
            switch (w[0])
            {
                case "track": t.TrackUnassured(idx[n], w[2] == "a" ? 0 : 5); break;
                case "untrack": t.Untrack(idx[n]); break;
                case "remove": t.Remove(idx[n], 0); break;
            }
        }
        string Names(int group) => string.Join(' ', Unreplied(t, group).Select(i => idx.Last(kv => kv.Value == i).Key));
        Assert.Equal(expectedA, Names(0));
        Assert.Equal(expectedB, Names(5));
        Assert.Equal(-1, t.OldestUnassured(3));
        Assert.Equal(-1, t.OldestUnassured(1000));
    }

    [Fact]
    public void TrackUnassured_TableGrows_ListsKept()
    {
        var t = new ConnTable(10_000, 7);
        var idx = Enumerable.Range(0, 5000).Select(n => Insert(t, n)).ToArray(); // past the first 1024 slots: arrays grow
        for (int n = 0; n < idx.Length; n++) t.TrackUnassured(idx[n], n % 2);
        for (int n = 0; n < idx.Length; n += 4) t.Untrack(idx[n]);
        Assert.Equal(Enumerable.Range(0, 5000).Where(n => n % 2 == 0 && n % 4 != 0).Select(n => idx[n]), Unreplied(t, 0));
        Assert.Equal(Enumerable.Range(0, 5000).Where(n => n % 2 == 1).Select(n => idx[n]), Unreplied(t, 1));
    }

    [Fact]
    public void Constructor_MaxBelowOne_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConnTable(0, 1));
}
