using System.Buffers.Binary;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.PcapFiles;
using UserLB.Packets;
using Xunit.Abstractions;

namespace UserLB.Cli.Tests.Robustness;

/// <summary>
/// Pushes a million random and mutated frames through the engine, seeded from every capture under <c>captures/</c>:
/// bit flips, truncations, lying length fields, IPv4 options, IPv6 extension chains, fragments, ICMP errors quoting
/// garbage or quoting other errors. Half of the mutants get their checksums repaired so they reach the deeper layers.
/// Checks: no exception, every frame accounted for in the counters, every frame sent has valid checksums (verified by a
/// plain full computation here, independent of the engine's incremental updates).
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int TotalFrames = 1_000_000;
    private const long Ms = 1_000_000L;

    private sealed record Corpus(string Name, LoadBalancerConfig Config, List<byte[]> Frames);

    private static List<Corpus> LoadCorpora()
    {
        var root = Path.Combine(UserLB.CaptureGen.CaptureWriter.FindRepositoryRoot(AppContext.BaseDirectory)!, "captures");
        var list = new List<Corpus>();
        foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            var frames = new List<byte[]>();
            // in.pcapng where the input has offloads (replayed here without them: frames only).
            string input = Path.Combine(dir, "in.pcap");
            if (!File.Exists(input)) input = Path.Combine(dir, "in.pcapng");
            using (var r = PcapReader.Open(input))
                while (r.TryReadNext(out var rec)) frames.Add(rec.Data.ToArray());
            list.Add(new Corpus(Path.GetFileName(dir), ConfigParser.Parse(File.ReadAllText(Path.Combine(dir, "farms.json"))), frames));
        }
        return list;
    }

    private sealed class CheckingSink : IFrameSink
    {
        public long Frames;
        public long Checked;
        public string? FirstProblem;

        public void Send(ReadOnlySpan<byte> frame, int port)
        {
            Frames++;
            var why = FrameChecks.Check(frame, out bool checkedIt);
            if (checkedIt) Checked++;
            if (why is not null && FirstProblem is null) FirstProblem = why + ": " + Convert.ToHexString(frame);
        }
    }

    [Fact]
    public void Process_MillionMutatedFrames_NoExceptionEveryFrameCountedChecksumsValid()
    {
        var corpora = LoadCorpora();
        Assert.True(corpora.Count >= 10, "captures/ should hold the generated scenarios");
        var rng = new Random(20261125);
        var mutator = new Mutator(rng);
        var ids = new IdRegistry();
        long totalRx = 0, totalSent = 0, totalChecked = 0, forwarded = 0;
        var drops = new long[(int)DropReason.Count];
        int perCorpus = TotalFrames / corpora.Count + 1, done = 0;
        var buffer = new byte[16384];

        foreach (var corpus in corpora)
        {
            var sink = new CheckingSink();
            var engine = new PacketEngine(new EngineOptions { Seed = 7, MaxConnections = 4096, AcceptAnyDestinationMac = true, PortMacs = [MacAddress.Parse("02:aa:00:00:00:fe")] }, sink);
            engine.Apply(EngineSnapshot.Build(corpus.Config, ids, null, 1));
            long now = 1_700_000_000L * 1_000_000_000L;
            for (int i = 0; i < perCorpus && done < TotalFrames; i++, done++)
            {
                // Every fourth frame is an unmutated one from the capture, so flows get established and mutants hit
                // tracked connections (replies, ICMP errors about live flows) as well as new ones.
                var seed = corpus.Frames[rng.Next(corpus.Frames.Count)];
                int length = i % 4 == 0 ? Copy(seed, buffer) : mutator.Mutate(seed, buffer, corpus.Frames);
                now += rng.Next(0, 3) == 0 ? rng.Next(1, 40_000) * Ms : rng.Next(1, 1000) * 1000L;
                long rxBefore = engine.Counters.RxFrames;
                engine.Process(buffer.AsSpan(0, length), 0, now);
                if (i % 1024 == 0) engine.Housekeeping(now);
                var c = engine.Counters;
                Assert.Equal(rxBefore + 1, c.RxFrames);
                if (c.RxFrames != c.Forwarded + c.Consumed + c.Dropped + engine.Neighbors.PendingFrames)
                    Assert.Fail($"{corpus.Name}: frame {i} broke rx = forwarded + consumed + dropped + pending: {c.RxFrames} != {c.Forwarded} + {c.Consumed} + {c.Dropped} + {engine.Neighbors.PendingFrames}; frame {Convert.ToHexString(buffer, 0, length)}");
                Assert.True(sink.FirstProblem is null, $"{corpus.Name}: frame {i}: sent a bad frame: {sink.FirstProblem}");
            }
            totalRx += engine.Counters.RxFrames;
            totalSent += sink.Frames;
            totalChecked += sink.Checked;
            forwarded += engine.Counters.Forwarded;
            for (int d = 0; d < drops.Length; d++) drops[d] += engine.Counters.Drops[d];
        }

        var summary = new System.Text.StringBuilder();
        summary.Append(System.Globalization.CultureInfo.InvariantCulture, $"{totalRx} frames in, {forwarded} forwarded, {totalSent} sent ({totalChecked} with checksums verified); drops:");
        for (int d = 1; d < drops.Length; d++)
            if (drops[d] > 0) summary.Append(System.Globalization.CultureInfo.InvariantCulture, $" {((DropReason)d).Name()}={drops[d]}");
        output.WriteLine(summary.ToString());
        Assert.Equal(TotalFrames, totalRx);
        // The fuzzer must actually reach the interesting places, or it proves nothing.
        Assert.True(forwarded > 50_000, $"only {forwarded} frames forwarded");
        Assert.True(totalChecked > 50_000, $"only {totalChecked} sent frames had checksums to verify");
        foreach (var reason in new[]
                 {
                     DropReason.FrameTruncated, DropReason.Ipv4BadChecksum, DropReason.Ipv4BadHeaderLength, DropReason.Ipv4BadTotalLength,
                     DropReason.Ipv4Fragment, DropReason.Ipv6Fragment, DropReason.L4BadChecksum, DropReason.L4Truncated,
                     DropReason.NoFarm, DropReason.TcpBadHeaderLength, DropReason.UdpBadLength,
                 })
        {
            Assert.True(drops[(int)reason] > 0, $"the fuzzer never produced a {reason.Name()} drop");
        }
    }

    private static int Copy(byte[] from, byte[] to)
    {
        from.CopyTo(to, 0);
        return from.Length;
    }
}

/// <summary>Mutations of a seed frame into a buffer; returns the new length.</summary>
internal sealed class Mutator(Random rng)
{
    private delegate int Mutation(byte[] seed, byte[] buf, List<byte[]> all);

    public int Mutate(byte[] seed, byte[] buf, List<byte[]> all)
    {
        int len;
        switch (rng.Next(12))
        {
            case 0: len = BitFlips(seed, buf); break;
            case 1: len = Truncate(seed, buf); break;
            case 2: len = LyingLength(seed, buf); break;
            case 3: len = Ipv4Options(seed, buf); break;
            case 4: len = Ipv6Extensions(seed, buf); break;
            case 5: len = Fragment(seed, buf); break;
            case 6: len = IcmpError(seed, buf, nested: false); break;
            case 7: len = IcmpError(seed, buf, nested: true); break;
            case 8: len = RandomBytes(buf); break;
            case 9: len = Splice(seed, all[rng.Next(all.Count)], buf); break;
            case 10: len = ByteSet(seed, buf); break;
            default: len = Vlan(seed, buf); break;
        }
        // Stack a second mutation now and then.
        if (rng.Next(8) == 0 && len > 0)
        {
            var tmp = buf.AsSpan(0, len).ToArray();
            len = rng.Next(2) == 0 ? BitFlips(tmp, buf) : LyingLength(tmp, buf);
        }
        if (rng.Next(2) == 0) FrameChecks.RepairChecksums(buf.AsSpan(0, len));
        return len;
    }

    private int BitFlips(byte[] seed, byte[] buf)
    {
        seed.CopyTo(buf, 0);
        int n = 1 + rng.Next(8);
        for (int i = 0; i < n; i++)
        {
            // Bias the flips towards the headers.
            int at = rng.Next(4) == 0 ? rng.Next(seed.Length) : rng.Next(Math.Min(seed.Length, 78));
            buf[at] ^= (byte)(1 << rng.Next(8));
        }
        return seed.Length;
    }

    private int ByteSet(byte[] seed, byte[] buf)
    {
        seed.CopyTo(buf, 0);
        int at = rng.Next(Math.Min(seed.Length, 80));
        buf[at] = (byte)(rng.Next(3) switch { 0 => 0, 1 => 0xFF, _ => rng.Next(256) });
        return seed.Length;
    }

    private int Truncate(byte[] seed, byte[] buf)
    {
        int len = rng.Next(seed.Length);
        seed.AsSpan(0, len).CopyTo(buf);
        return len;
    }

    private int RandomBytes(byte[] buf)
    {
        int len = rng.Next(0, 200);
        rng.NextBytes(buf.AsSpan(0, len));
        if (len >= 14 && rng.Next(2) == 0) BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(12), rng.Next(2) == 0 ? EtherTypes.Ipv4 : EtherTypes.Ipv6);
        if (len >= 15 && rng.Next(2) == 0) buf[14] = 0x45;
        return len;
    }

    private int Splice(byte[] a, byte[] b, byte[] buf)
    {
        int cut = rng.Next(a.Length);
        a.AsSpan(0, cut).CopyTo(buf);
        int from = rng.Next(b.Length);
        int len = Math.Min(buf.Length - cut, b.Length - from);
        b.AsSpan(from, len).CopyTo(buf.AsSpan(cut));
        return cut + len;
    }

    private int Vlan(byte[] seed, byte[] buf)
    {
        seed.AsSpan(0, 12).CopyTo(buf);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(14), (ushort)rng.Next(4096));
        seed.AsSpan(12).CopyTo(buf.AsSpan(16));
        int len = seed.Length + 4;
        if (rng.Next(3) == 0) len = rng.Next(12, len); // a truncated tag now and then
        return len;
    }

    /// <summary>Rewrites one length field of the IP or L4 header with a lie.</summary>
    private int LyingLength(byte[] seed, byte[] buf)
    {
        seed.CopyTo(buf, 0);
        if (seed.Length < 34) return seed.Length;
        var ip = buf.AsSpan(14, seed.Length - 14);
        bool v6 = ip[0] >> 4 == 6;
        int l4 = v6 ? 40 : (ip[0] & 0xF) * 4;
        byte proto = v6 ? ip[6] : ip[9];
        ushort lie = rng.Next(4) switch
        {
            0 => 0,
            1 => 0xFFFF,
            2 => (ushort)rng.Next(0, 80),
            _ => (ushort)(ip.Length + rng.Next(-8, 9)),
        };
        switch (rng.Next(3))
        {
            case 0 when v6: BinaryPrimitives.WriteUInt16BigEndian(ip[4..], lie); break;
            case 0: BinaryPrimitives.WriteUInt16BigEndian(ip[2..], lie); break;
            case 1 when !v6: ip[0] = (byte)(0x40 | rng.Next(16)); break; // IHL
            default:
                if (proto == IpProtocols.Udp && ip.Length >= l4 + 8) BinaryPrimitives.WriteUInt16BigEndian(ip[(l4 + 4)..], lie);
                else if (proto == IpProtocols.Tcp && ip.Length >= l4 + 13) ip[l4 + 12] = (byte)(rng.Next(16) << 4); // data offset
                else if (!v6) BinaryPrimitives.WriteUInt16BigEndian(ip[2..], lie);
                break;
        }
        return seed.Length;
    }

    /// <summary>Inserts IPv4 options (NOPs, an end, a record-route or garbage) and fixes IHL and the total length.</summary>
    private int Ipv4Options(byte[] seed, byte[] buf)
    {
        if (seed.Length < 34 || BinaryPrimitives.ReadUInt16BigEndian(seed.AsSpan(12)) != EtherTypes.Ipv4 || (seed[14] & 0xF) != 5)
            return BitFlips(seed, buf);
        int optLen = 4 * rng.Next(1, 11);
        seed.AsSpan(0, 34).CopyTo(buf);
        var opts = buf.AsSpan(34, optLen);
        switch (rng.Next(3))
        {
            case 0: opts.Fill(1); opts[^1] = 0; break; // NOPs then end of list
            case 1:
                opts.Clear();
                opts[0] = 7; opts[1] = (byte)Math.Min(optLen - 1, 39); opts[2] = 4; // record route
                break;
            default: rng.NextBytes(opts); break;
        }
        seed.AsSpan(34).CopyTo(buf.AsSpan(34 + optLen));
        buf[14] = (byte)(0x40 | (5 + optLen / 4));
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(16), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(seed.AsSpan(16)) + optLen));
        return seed.Length + optLen;
    }

    /// <summary>Builds an IPv6 packet (from an IPv4 seed's L4 payload or an IPv6 seed) with a chain of extension headers.</summary>
    private int Ipv6Extensions(byte[] seed, byte[] buf)
    {
        if (seed.Length < 54 || BinaryPrimitives.ReadUInt16BigEndian(seed.AsSpan(12)) != EtherTypes.Ipv6) return Ipv4Options(seed, buf);
        seed.AsSpan(0, 54).CopyTo(buf);
        byte finalNext = seed[20];
        int n = rng.Next(1, 12);
        int at = 54;
        byte[] kinds = [0, 60, 43, 44, 51, 135, 59];
        byte first = 0;
        Span<byte> prevNext = buf.AsSpan(20, 1);
        for (int i = 0; i < n && at + 8 <= buf.Length - seed.Length; i++)
        {
            byte kind = kinds[rng.Next(kinds.Length)];
            if (i == 0) first = kind;
            prevNext[0] = kind;
            int extLen = kind == 44 ? 8 : 8 * (1 + rng.Next(3));
            var ext = buf.AsSpan(at, extLen);
            rng.NextBytes(ext);
            if (kind != 44) ext[1] = (byte)(rng.Next(16) == 0 ? rng.Next(256) : extLen / 8 - 1); // sometimes a lying length
            if (kind == 51) ext[1] = (byte)(extLen / 4 - 2); // AH counts 4-byte words
            if (kind == 44 && rng.Next(2) == 0) { ext[2] = 0; ext[3] &= 0xF8; } // an atomic fragment now and then
            prevNext = ext[..1];
            at += extLen;
        }
        prevNext[0] = finalNext;
        _ = first;
        seed.AsSpan(54).CopyTo(buf.AsSpan(at));
        int len = at + seed.Length - 54;
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(18), (ushort)(len - 54));
        return len;
    }

    private int Fragment(byte[] seed, byte[] buf)
    {
        seed.CopyTo(buf, 0);
        if (seed.Length < 34 || BinaryPrimitives.ReadUInt16BigEndian(seed.AsSpan(12)) != EtherTypes.Ipv4) return Ipv6Extensions(seed, buf);
        ushort flags = rng.Next(3) switch { 0 => 0x2000, 1 => (ushort)(0x2000 | rng.Next(1, 0x2000)), _ => (ushort)rng.Next(1, 0x2000) };
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(20), flags);
        return seed.Length;
    }

    /// <summary>Wraps the seed's IP packet (or garbage, or another ICMP error) in an ICMP error towards the seed's source.</summary>
    private int IcmpError(byte[] seed, byte[] buf, bool nested)
    {
        if (seed.Length < 34) return RandomBytes(buf);
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(seed.AsSpan(12));
        bool v6 = type == EtherTypes.Ipv6;
        if (!v6 && type != EtherTypes.Ipv4) return BitFlips(seed, buf);
        byte[] inner = seed.AsSpan(14).ToArray();
        if (nested)
        {
            var tmp = new byte[buf.Length];
            int l = IcmpError(seed, tmp, nested: false);
            inner = tmp.AsSpan(14, l - 14).ToArray();
        }
        else if (rng.Next(3) == 0)
        {
            rng.NextBytes(inner.AsSpan(rng.Next(inner.Length)));
        }
        int quote = Math.Min(inner.Length, rng.Next(4) == 0 ? rng.Next(inner.Length + 1) : 548);
        // Reverse direction: from the seed's destination to its source (a router or the backend answering).
        seed.AsSpan(6, 6).CopyTo(buf);
        seed.AsSpan(0, 6).CopyTo(buf.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(12), type);
        var ip = buf.AsSpan(14);
        int hl = v6 ? 40 : 20;
        int l4Len = 8 + quote;
        if (v6)
        {
            seed.AsSpan(14, 8).CopyTo(ip);
            ip[6] = IpProtocols.Icmpv6;
            ip[7] = 64;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4Len);
            seed.AsSpan(14 + 24, 16).CopyTo(ip[8..]);
            seed.AsSpan(14 + 8, 16).CopyTo(ip[24..]);
        }
        else
        {
            ip[..20].Clear();
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4Len));
            ip[8] = 64;
            ip[9] = IpProtocols.Icmp;
            seed.AsSpan(14 + 16, 4).CopyTo(ip[12..]);
            seed.AsSpan(14 + 12, 4).CopyTo(ip[16..]);
        }
        var icmp = ip.Slice(hl, l4Len);
        icmp[..8].Clear();
        icmp[0] = v6 ? (byte)(rng.Next(2) == 0 ? 1 : 2) : (byte)(rng.Next(2) == 0 ? 3 : 11);
        icmp[1] = (byte)rng.Next(v6 ? 5 : 4);
        if (icmp[0] == 2 && v6) BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], 1280);
        inner.AsSpan(0, quote).CopyTo(icmp[8..]);
        int len = 14 + hl + l4Len;
        FrameChecks.RepairChecksums(buf.AsSpan(0, len));
        return len;
    }
}
