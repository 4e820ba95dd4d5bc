using System.Buffers.Binary;
using System.Text;
using SharpFuzz;
using UserLB.Cli.Tests.Robustness;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.PcapFiles;
using UserLB.IO.State;
using UserLB.Packets;

namespace UserLB.Fuzz;

/// <summary>
/// Coverage-guided fuzzing targets for AFL++ through SharpFuzz (see fuzz.sh):
///   engine   a sequence of frames through a fresh engine (several farms: NAT/DTA, IPv4/IPv6, TCP/UDP/SCTP/all, limits,
///            persistence, tcp-strict); input = records [flags u8][length u16 BE][frame]. flags bit 0: port, bit 1:
///            repair the checksums first (to get past verification), bits 2–7: clock step s → s³ ms.
///            Oracles: no exception; after every frame rx = forwarded + handled + dropped + waiting; every frame sent
///            has valid checksums; the table never exceeds its size; export → import into a new engine keeps every
///            entry; once everything has expired the table, the per-backend/farm active counts and the per-client
///            limiter counts are all back to zero.
///   state    bytes as a state file (StateFile.Parse) imported into an engine: no exception, every entry accounted.
///   config   bytes as an nftlb JSON config: ConfigException or a config that builds into a snapshot.
/// Other commands: seeds DIR (a seed corpus from captures/*/in.pcap), replay TARGET PATH... (run inputs without AFL;
/// exit 1 on the first failure, printing it).
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length < 1) return Usage();
        switch (args[0])
        {
            case "engine": Fuzzer.Run(s => EngineTarget.Run(ReadAll(s))); return 0;
            case "state": Fuzzer.Run(s => StateTarget.Run(ReadAll(s))); return 0;
            case "config": Fuzzer.Run(s => ConfigTarget.Run(ReadAll(s))); return 0;
            case "seeds" when args.Length == 2: return Seeds.Write(args[1]);
            case "replay" when args.Length >= 3: return Replay(args[1], args[2..]);
            default: return Usage();
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: UserLB.Fuzz engine|state|config   (under afl-fuzz, input on stdin)\n" +
                                "       UserLB.Fuzz seeds DIR\n       UserLB.Fuzz replay engine|state|config FILE|DIR...");
        return 2;
    }

    private static byte[] ReadAll(Stream s)
    {
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    private static int Replay(string target, string[] paths)
    {
        Action<byte[]> run = target switch
        {
            "engine" => EngineTarget.Run,
            "state" => StateTarget.Run,
            "config" => ConfigTarget.Run,
            _ => throw new ArgumentException("unknown target " + target),
        };
        int n = 0;
        foreach (var path in paths)
        {
            foreach (var file in Directory.Exists(path) ? Directory.GetFiles(path).Order(StringComparer.Ordinal).ToArray() : [path])
            {
                try
                {
                    run(File.ReadAllBytes(file));
                    n++;
                }
                catch (Exception ex)
                {
                    Console.Error.WriteLine($"{file}: {ex}");
                    return 1;
                }
            }
        }

        Console.WriteLine($"{n} input(s) ran without a failure");
        return 0;
    }
}

internal static class EngineTarget
{
    public const string Farms = """
        {"farms":[
          {"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80,443","protocol":"tcp","mode":"snat","scheduler":"weight",
           "new-rtlimit":"50/second","new-rtlimit-burst":"5","est-connlimit":"8","iface":"c","oface":"s",
           "backends":[{"name":"a","ip-addr":"192.168.1.10","port":"8080"},{"name":"b","ip-addr":"192.168.1.11","weight":"2","est-connlimit":"6"},
                       {"name":"c","ip-addr":"192.168.1.12","state":"down"}]},
          {"name":"dns","virtual-addr":"192.168.101.250","virtual-ports":"53","protocol":"udp","mode":"dnat","scheduler":"hash","sched-param":"srcip srcport","iface":"c","oface":"s",
           "backends":[{"name":"a","ip-addr":"192.168.1.10"},{"name":"b","ip-addr":"192.168.1.11"}]},
          {"name":"any","virtual-addr":"192.168.101.251","virtual-ports":"","protocol":"all","mode":"snat","scheduler":"symhash","source-addr":"192.168.1.254",
           "persistence":"srcip","persist-ttl":"10","tcp-strict":"on","iface":"c","oface":"s",
           "backends":[{"name":"a","ip-addr":"192.168.1.10","priority":"1"},{"name":"b","ip-addr":"192.168.1.11","priority":"2"}]},
          {"name":"sctp","virtual-addr":"192.168.101.252","virtual-ports":"9000-9010","protocol":"sctp","mode":"dnat","scheduler":"weight","iface":"c","oface":"s",
           "backends":[{"name":"a","ip-addr":"192.168.1.10"}]},
          {"name":"v6","family":"ipv6","virtual-addr":"2001:db8::fa","virtual-ports":"443","protocol":"tcp","mode":"snat","scheduler":"weight","iface":"c","oface":"s",
           "backends":[{"name":"a","ip-addr":"2001:db8:1::10"},{"name":"b","ip-addr":"2001:db8:1::11"}]},
          {"name":"v6udp","family":"ipv6","virtual-addr":"2001:db8::fa","virtual-ports":"53","protocol":"udp","mode":"dnat","scheduler":"hash","iface":"c","oface":"s",
           "backends":[{"name":"a","ip-addr":"2001:db8:1::10"}]}]}
        """;

    // Built once: no rr scheduler here, so the snapshot holds no state that one input could leave for the next.
    private static readonly EngineSnapshot Snapshot = EngineSnapshot.Build(ConfigParser.Parse(Farms), new IdRegistry(), null, 1);

    private static readonly MacAddress[] Macs = [MacAddress.Parse("02:aa:00:00:00:fe"), MacAddress.Parse("02:aa:00:00:01:fe")];

    public static PacketEngine NewEngine(IFrameSink sink)
    {
        var engine = new PacketEngine(new EngineOptions
        {
            Seed = 1,
            MaxConnections = 64,
            LimiterSlots = 64,
            AcceptAnyDestinationMac = true,
            PortMacs = Macs,
            PortNames = ["c", "s"],
        }, sink);
        engine.Apply(Snapshot);
        return engine;
    }

    private sealed class CheckingSink : IFrameSink
    {
        public void Send(ReadOnlySpan<byte> frame, int port)
        {
            if ((uint)port > 1) throw new InvalidOperationException($"sent on port {port}");
            var why = FrameChecks.Check(frame, out _);
            if (why is not null) throw new InvalidOperationException(why + ": " + Convert.ToHexString(frame));
        }
    }

    public static void Run(byte[] data)
    {
        var engine = NewEngine(new CheckingSink());
        Feed(engine, data, out long now);

        // The table survives a restart whole.
        var saved = engine.ExportConnections(now);
        var copy = NewEngine(new CheckingSink());
        var imported = copy.ImportConnections(saved, now);
        if (imported.Imported != saved.Count) throw new InvalidOperationException($"export/import: {saved.Count} saved, {imported}");

        // Everything ends: no counter may leak.
        foreach (var e in new[] { engine, copy })
        {
            long end = now + 10L * 24 * 3600 * 1_000_000_000L;
            e.Table.SweepAll(end);
            if (e.Table.Count != 0) throw new InvalidOperationException($"{e.Table.Count} entries left after everything expired");
            foreach (var b in e.Counters.Backends)
                if (b.Active != 0) throw new InvalidOperationException($"a backend's active count is {b.Active} with an empty table");
            foreach (var f in e.Counters.Farms)
                if (f.Active != 0) throw new InvalidOperationException($"a farm's active count is {f.Active} with an empty table");
        }
    }

    /// <summary>Processes the input's frames, checking the per-frame oracles; <paramref name="now"/> is the clock at the end.</summary>
    public static void Feed(PacketEngine engine, byte[] data, out long now)
    {
        var buffer = new byte[2048];
        now = 1_000L * 1_000_000_000L;
        int at = 0;
        while (at + 3 <= data.Length)
        {
            byte flags = data[at];
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(at + 1)) % buffer.Length, data.Length - at - 3);
            at += 3;
            data.AsSpan(at, length).CopyTo(buffer);
            at += length;
            var frame = buffer.AsSpan(0, length);
            if ((flags & 2) != 0) FrameChecks.RepairChecksums(frame);
            long step = flags >> 2;
            now += step * step * step * 1_000_000L;
            engine.Process(frame, flags & 1, now);
            var c = engine.Counters;
            if (c.RxFrames != c.Forwarded + c.Consumed + c.Dropped + engine.Neighbors.PendingFrames)
                throw new InvalidOperationException($"accounting: rx {c.RxFrames} != forwarded {c.Forwarded} + handled {c.Consumed} + dropped {c.Dropped} + waiting {engine.Neighbors.PendingFrames}");
            if (engine.Table.Count > engine.Table.Max) throw new InvalidOperationException("table over its size");
        }
    }
}

internal static class StateTarget
{
    public static void Run(byte[] data)
    {
        var lines = Encoding.UTF8.GetString(data).Split('\n');
        var load = StateFile.Parse(lines, "fuzz");
        if (load.Status != StateLoadStatus.Loaded) return;
        var engine = EngineTarget.NewEngine(new NullSink());
        var r = engine.ImportConnections(load.Entries, 1_000_000_000_000L);
        if (r.Imported + r.Skipped != load.Entries.Count) throw new InvalidOperationException($"{load.Entries.Count} entries, {r}");
        engine.Table.SweepAll(long.MaxValue);
        if (engine.Table.Count != 0) throw new InvalidOperationException("entries left after everything expired");
    }
}

internal static class ConfigTarget
{
    public static void Run(byte[] data)
    {
        LoadBalancerConfig config;
        try
        {
            config = ConfigParser.Parse(Encoding.UTF8.GetString(data));
        }
        catch (ConfigException)
        {
            return;
        }
        EngineSnapshot.Build(config, new IdRegistry(), null, 1);
    }
}

/// <summary>
/// Seed corpora under DIR: engine/ (each capture under captures/ as one input: frames in order, clock steps from their
/// timestamps), state/ (the table each capture leaves, as a state file), config/ (each capture's farms.json and the
/// engine target's farms).
/// </summary>
internal static class Seeds
{
    public static int Write(string dir)
    {
        string? root = FindRoot(AppContext.BaseDirectory) ?? FindRoot(Environment.CurrentDirectory);
        if (root is null)
        {
            Console.Error.WriteLine("UserLB.sln not found above " + AppContext.BaseDirectory + " nor the current directory");
            return 1;
        }
        foreach (var sub in new[] { "engine", "state", "config" }) Directory.CreateDirectory(Path.Combine(dir, sub));
        File.WriteAllText(Path.Combine(dir, "config", "engine-target.json"), EngineTarget.Farms);
        int n = 0;
        foreach (var capture in Directory.GetDirectories(Path.Combine(root, "captures")).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(capture);
            File.Copy(Path.Combine(capture, "farms.json"), Path.Combine(dir, "config", name + ".json"), true);
            using var ms = new MemoryStream();
            // in.pcapng where the input has offloads (their vnet lines are not part of the corpus: frames only).
            string inFile = Path.Combine(capture, "in.pcap");
            if (!File.Exists(inFile)) inFile = Path.Combine(capture, "in.pcapng");
            using (var r = PcapReader.Open(inFile))
            {
                long? last = null;
                while (r.TryReadNext(out var rec))
                {
                    long t = rec.TimestampNanos;
                    long gapMs = last is long l ? Math.Max(0, (t - l) / 1_000_000) : 0;
                    int step = (int)Math.Min(63, Math.Round(Math.Cbrt(gapMs)));
                    last = t;
                    ms.WriteByte((byte)(step << 2)); // port 0: the engine takes a frame on either port
                    ms.WriteByte((byte)(rec.Data.Length >> 8));
                    ms.WriteByte((byte)rec.Data.Length);
                    ms.Write(rec.Data);
                }
            }
            byte[] input = ms.ToArray();
            File.WriteAllBytes(Path.Combine(dir, "engine", name), input);
            var engine = EngineTarget.NewEngine(new NullSink());
            EngineTarget.Feed(engine, input, out long now);
            var saved = engine.ExportConnections(now);
            if (saved.Count > 0) StateFile.Save(Path.Combine(dir, "state", name), saved, DateTimeOffset.UnixEpoch);
            n++;
        }
        Console.WriteLine($"{n} capture(s) made seeds under {dir}/engine, {dir}/state, {dir}/config");
        return 0;
    }

    private static string? FindRoot(string? dir)
    {
        while (dir is not null && !File.Exists(Path.Combine(dir, "UserLB.sln"))) dir = Path.GetDirectoryName(dir);
        return dir;
    }
}

internal sealed class NullSink : IFrameSink
{
    public void Send(ReadOnlySpan<byte> frame, int port)
    {
    }
}
