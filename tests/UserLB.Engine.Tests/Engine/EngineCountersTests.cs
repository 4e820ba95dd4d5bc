using System.Reflection;

namespace UserLB.Engine.Tests.Engine;

/// <summary>The counters of sharded engines summed into one load balancer's (the views, the status file).</summary>
public class EngineCountersTests
{
    /// <summary>Every public field of the counters, of the per-farm and per-backend structs and every array element set
    /// to a value derived from <paramref name="seed"/> and its position, so that any field left out of a sum shows.</summary>
    private static EngineCounters Filled(long seed)
    {
        var c = new EngineCounters();
        long k = seed;
        foreach (var f in typeof(EngineCounters).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            if (f.FieldType == typeof(long))
            {
                f.SetValue(c, k++);
            }
            else if (f.FieldType == typeof(long[]))
            {
                var a = (long[])f.GetValue(c)!;
                if (a.Length == 0 && !f.IsInitOnly) f.SetValue(c, a = new long[3 * (int)Packets.DropReason.Count]);
                for (int i = 0; i < a.Length; i++) a[i] = k++;
            }
            else if (f.FieldType.IsArray)
            {
                var a = Array.CreateInstance(f.FieldType.GetElementType()!, 3);
                for (int i = 0; i < a.Length; i++)
                {
                    object item = a.GetValue(i)!;
                    foreach (var g in item.GetType().GetFields()) g.SetValue(item, k++);
                    a.SetValue(item, i);
                }
                f.SetValue(c, a);
            }
            else
            {
                Assert.Fail($"EngineCounters.{f.Name}: a field of a type this test does not know");
            }
        }
        return c;
    }

    /// <summary>Every number of <paramref name="c"/> in field order (arrays and struct fields flattened).</summary>
    private static List<long> Numbers(EngineCounters c)
    {
        var list = new List<long>();
        foreach (var f in typeof(EngineCounters).GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            object v = f.GetValue(c)!;
            if (v is long l)
            {
                list.Add(l);
            }
            else if (v is long[] a)
            {
                list.AddRange(a);
            }
            else
            {
                foreach (object item in (Array)v)
                    foreach (var g in item.GetType().GetFields()) list.Add((long)g.GetValue(item)!);
            }
        }
        return list;
    }

    [Fact]
    public void Add_EveryField_Summed()
    {
        var a = Filled(1);
        var b = Filled(100_000);
        var sum = a.Clone();
        sum.Add(b);
        var expected = Numbers(a).Zip(Numbers(b), (x, y) => x + y).ToList();
        Assert.Equal(expected, Numbers(sum));
        Assert.Equal(a.Dropped + b.Dropped, sum.Dropped);
    }

    [Fact]
    public void Clone_EveryField_CopiedAndIndependent()
    {
        var a = Filled(7);
        var copy = a.Clone();
        Assert.Equal(Numbers(a), Numbers(copy));
        copy.Backends[1].Active++;
        copy.Drops[2]++;
        Assert.NotEqual(copy.Backends[1].Active, a.Backends[1].Active);
        Assert.NotEqual(copy.Drops[2], a.Drops[2]);
    }

    [Fact]
    public void Add_OtherHasMoreFarmsAndBackends_Grows()
    {
        var small = new EngineCounters();
        var big = Filled(3);
        small.Add(big);
        Assert.Equal(Numbers(big), Numbers(small));
    }
}
