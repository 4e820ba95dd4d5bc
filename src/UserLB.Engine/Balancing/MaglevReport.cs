using System.Globalization;
using System.Text;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine.Balancing;

/// <summary>
/// What a hash farm's Maglev table does (<c>userlb maglev</c>): its fingerprint (equal in every process with the same
/// configuration: nothing in it is random), each backend's share of the slots, and — with backends taken down — how many
/// flows of a fixed sample move, how many of those were on the backends taken down (Maglev's minimal disruption), and
/// whether bringing them back gives the first table again.
/// </summary>
public static class MaglevReport
{
    /// <summary>The report for <paramref name="farmName"/> (else the first hash or symhash farm) over <paramref name="flows"/>
    /// sample flows (clients and ports drawn from a fixed seed), with <paramref name="down"/> marked down.</summary>
    public static string Describe(LoadBalancerConfig config, string? farmName, IReadOnlyCollection<string> down, int flows)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(down);
        var before = EngineSnapshot.Build(config, new IdRegistry(), null, 1);
        var farm = Pick(before, farmName);
        var sb = new StringBuilder();
        var picksBefore = Picks(farm, flows);
        sb.Append(Inv($"farm {farm.Name}: {farm.Scheduler.Name} over {Fields(farm)}, {farm.Candidates.Length} of {farm.Backends.Length} backends, Maglev table {MaglevScheduler.TableSize} slots, fingerprint {Fingerprint(farm)}\n"));
        Shares(farm, sb);
        if (down.Count == 0) return sb.ToString();
        foreach (var name in down)
            if (!farm.Backends.Any(b => b.Name == name)) throw new ConfigException($"farm \"{farm.Name}\" has no backend \"{name}\"");
        var unhealthy = down.Select(n => farm.Name + "/" + n).ToHashSet();
        var after = Pick(EngineSnapshot.Build(config, new IdRegistry(), unhealthy, 2), farm.Name);
        var picksAfter = Picks(after, flows);
        int moved = 0, movedFromDown = 0, onDown = 0, movedOthers = 0;
        for (int i = 0; i < flows; i++)
        {
            bool wasDown = down.Contains(picksBefore[i]);
            if (wasDown) onDown++;
            if (picksBefore[i] == picksAfter[i]) continue;
            moved++;
            if (wasDown) movedFromDown++;
            else movedOthers++;
        }
        int others = flows - onDown;
        sb.Append(Inv($"down {string.Join(", ", down)}: {after.Candidates.Length} backends, fingerprint {Fingerprint(after)}\n"));
        Shares(after, sb);
        sb.Append(Inv($"  flows moved: {moved} of {flows} ({Percent(moved, flows)}); on the backends taken down: {movedFromDown} of {onDown}\n"));
        sb.Append(Inv($"  flows of the other backends moved: {movedOthers} of {others} ({Percent(movedOthers, others)})\n"));
        var back = Pick(EngineSnapshot.Build(config, new IdRegistry(), null, 3), farm.Name);
        var picksBack = Picks(back, flows);
        int movedBack = 0, notHome = 0;
        for (int i = 0; i < flows; i++)
        {
            if (picksBack[i] != picksAfter[i]) movedBack++;
            if (picksBack[i] != picksBefore[i]) notHome++;
        }
        sb.Append(Inv($"back up: fingerprint {Fingerprint(back)} ({(Fingerprint(back) == Fingerprint(farm) ? "the first table" : "NOT the first table")}); flows moved back: {movedBack}; flows not where they started: {notHome}\n"));
        return sb.ToString();
    }

    private static FarmRuntime Pick(EngineSnapshot snapshot, string? name)
    {
        foreach (var f in snapshot.Farms)
        {
            if (name is not null && f.Name != name) continue;
            if (f.Scheduler is MaglevScheduler) return f;
            if (name is not null) throw new ConfigException($"farm \"{name}\", key \"scheduler\": \"{f.Scheduler.Name}\" has no Maglev table (use hash or symhash)");
        }
        throw new ConfigException(name is null ? "no farm with scheduler hash or symhash" : $"no farm \"{name}\"");
    }

    /// <summary>The backend each sample flow maps to (a fixed seed: the same flows in every run).</summary>
    private static string[] Picks(FarmRuntime farm, int flows)
    {
        var random = new Random(20261206);
        var names = new string[flows];
        for (int i = 0; i < flows; i++)
        {
            var src = IpAddr.FromV4(0x0A00_0000u | ((uint)random.Next() & 0x00FF_FFFFu)); // 10.0.0.0/8
            var input = new SchedInput(src, farm.VirtualAddress, (ushort)random.Next(1024, 65536), farm.Ports.Length > 0 ? farm.Ports[0].First : (ushort)80, default, default);
            int pick = farm.Scheduler.Pick(input, random, out _);
            names[i] = pick < 0 ? "-" : farm.Candidates[pick].Name;
        }
        return names;
    }

    private static string Fingerprint(FarmRuntime farm)
    {
        var m = (MaglevScheduler)farm.Scheduler;
        ulong h = 14695981039346656037UL;
        for (int s = 0; s < m.Slots; s++)
            foreach (char c in farm.Candidates[m.SlotOwner(s)].Name + "\0") { h ^= c; h *= 1099511628211UL; }
        return h.ToString("x16", CultureInfo.InvariantCulture);
    }

    private static void Shares(FarmRuntime farm, StringBuilder sb)
    {
        var m = (MaglevScheduler)farm.Scheduler;
        var counts = new int[farm.Candidates.Length];
        for (int s = 0; s < m.Slots; s++) counts[m.SlotOwner(s)]++;
        for (int i = 0; i < counts.Length; i++)
            sb.Append(Inv($"  {farm.Candidates[i].Name,-12} weight {farm.Candidates[i].Weight,-4} {counts[i],6} slots {Percent(counts[i], m.Slots),8}\n"));
    }

    private static string Fields(FarmRuntime farm) =>
        farm.Config.Scheduler == SchedulerKind.SymHash ? "both endpoints" : farm.Config.SchedParam.ToString().ToLowerInvariant().Replace(",", "", StringComparison.Ordinal);

    private static string Percent(int part, int whole) => whole == 0 ? "-" : (100.0 * part / whole).ToString("0.00", CultureInfo.InvariantCulture) + " %";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
