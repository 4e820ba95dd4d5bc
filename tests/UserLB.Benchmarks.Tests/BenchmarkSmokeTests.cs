using UserLB.Engine.Balancing;
using UserLB.Engine.Config;

namespace UserLB.Benchmarks.Tests;

/// <summary>
/// Benchmarks are not part of the test run; these run each benchmark body a few hundred times directly so they keep
/// building and doing what they claim (forwarding, inserting, finding), and check the allocation and memory targets.
/// </summary>
public class BenchmarkSmokeTests
{
    [Theory]
    [InlineData(false, 64)]
    [InlineData(true, 64)]
    [InlineData(false, 1448)]
    [InlineData(true, 1448)]
    public void EstablishedFlow_BothDirections_ForwardsEveryPacketWithoutAllocating(bool ipv6, int payload)
    {
        var b = new EstablishedFlowBenchmarks { Ipv6 = ipv6, Payload = payload };
        b.Setup();
        for (int i = 0; i < 200; i++) { b.OriginalDirection(); b.ReplyDirection(); b.CopyOnly(); }
        long forwarded = b.Forwarded;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) { b.OriginalDirection(); b.ReplyDirection(); }
        long allocatedPerPacket = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 2000;
        Assert.Equal(forwarded + 2000, b.Forwarded);
        Assert.Equal(0, allocatedPerPacket);
    }

    [Theory]
    [InlineData(false, 64)]
    [InlineData(true, 1448)]
    public void EstablishedFlow_DsrClientDirection_ForwardsEveryPacketWithoutAllocating(bool ipv6, int payload)
    {
        var b = new EstablishedFlowBenchmarks { Ipv6 = ipv6, Payload = payload };
        b.Setup();
        for (int i = 0; i < 200; i++) b.DsrClientDirection();
        long forwarded = b.DsrForwarded;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) b.DsrClientDirection();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - allocated);
        Assert.Equal(forwarded + 1000, b.DsrForwarded);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SuperFrame_Established_ForwardsEachWithItsOffloadsWithoutAllocating(bool ipv6)
    {
        var b = new SuperFrameBenchmarks { Ipv6 = ipv6, Payload = 64000 };
        b.Setup();
        for (int i = 0; i < 50; i++) { b.OriginalDirection(); b.CopyOnly(); }
        long forwarded = b.OffloadFrames;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++) b.OriginalDirection();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - allocated);
        Assert.Equal(forwarded + 200, b.OffloadFrames);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EstablishedUdpFlow_BothDirections_ForwardsEveryDatagramWithoutAllocating(bool ipv6)
    {
        // The `profile udp|udpreply` body.
        var s = new EngineScenario(ipv6, udp: true);
        var (original, reply) = s.EstablishUdp(40000, 64, 1);
        var work = new byte[original.Length];
        s.Sink.Inspect = false;
        long now = 10;
        void Both()
        {
            original.CopyTo(work, 0);
            s.Engine.Process(work, 0, ++now);
            reply.CopyTo(work, 0);
            s.Engine.Process(work, 0, ++now);
        }
        for (int i = 0; i < 200; i++) Both();
        long forwarded = s.Engine.Counters.Forwarded;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) Both();
        long allocatedPerPacket = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 2000;
        Assert.Equal(forwarded + 2000, s.Engine.Counters.Forwarded);
        Assert.Equal(0, allocatedPerPacket);
    }

    [Theory]
    [InlineData(false, "weight")]
    [InlineData(true, "weight")]
    [InlineData(false, "hash")]
    [InlineData(true, "hash")]
    public void NewFlow_DistinctSyns_EachCreatesAConnection(bool ipv6, string scheduler)
    {
        var b = new NewFlowBenchmarks { Ipv6 = ipv6, Scheduler = scheduler };
        b.Setup();
        for (int i = 0; i < 500; i++) b.NewTcpFlow();
        Assert.Equal(500, b.NewFlows);
        Assert.Equal(0, b.Dropped);
        // Steady state: SYN_SENT entries (120 s) expire 12,000 SYNs later (10 ms each), after which the table stops
        // growing (its arrays double while it fills: amortised allocation, not per flow) and a new flow allocates nothing.
        for (int i = 0; i < 14_000; i++) b.NewTcpFlow();
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++) b.NewTcpFlow();
        long perFlow = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 2000;
        Assert.True(perFlow == 0, $"{perFlow} bytes allocated per new flow in steady state");
    }

    [Fact]
    public void Flood_Admitted_PortSpacesFullEachSynEvictsTheOldestWithoutAllocating()
    {
        var b = new FloodBenchmarks { Case = "admitted" };
        b.Setup();
        Assert.True(b.UnderPressure);
        // Both backends' port spaces (1024–65535) nearly full: once a search has failed, a SYN whose own port is taken
        // evicts at once, so the few ports left free stay free.
        Assert.InRange(b.Entries, 120_000, 2 * 64_512);
        long flows = b.NewFlows, evictions = b.Evictions, forwarded = b.Forwarded;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++) b.FloodSyn();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - allocated);
        Assert.Equal(flows + 2000, b.NewFlows);
        Assert.Equal(forwarded + 2000, b.Forwarded);
        Assert.InRange(b.Evictions - evictions, 1000, 2000);
    }

    [Fact]
    public void Flood_OverBudget_NearlyEverySynDroppedWithoutAllocating()
    {
        var b = new FloodBenchmarks { Case = "over-budget" };
        b.Setup();
        long flows = b.NewFlows, dropped = b.Dropped;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++) b.FloodSyn();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - allocated);
        // 2 ms of the engine's clock at 10,000 new flows a second: 20 admitted.
        Assert.Equal(20, b.NewFlows - flows);
        Assert.Equal(1980, b.Dropped - dropped);
        Assert.Equal(b.Dropped, b.Scenario.Engine.Counters.Drops[(int)UserLB.Packets.DropReason.NewFlowBudget]);
    }

    [Fact]
    public void Flood_SynProxy_EverySynAnsweredNothingKeptWithoutAllocating()
    {
        var b = new FloodBenchmarks { Case = "synproxy" };
        b.Setup();
        Assert.Equal(0, b.Entries);
        long syns = b.SynProxySyns, sent = b.Scenario.Sink.Frames;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2000; i++) b.FloodSyn();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - allocated);
        Assert.Equal(syns + 2000, b.SynProxySyns);
        Assert.Equal(sent + 2000, b.Scenario.Sink.Frames);
        Assert.Equal(0, b.Entries);
        Assert.Equal(0, b.Dropped);
    }

    [Fact]
    public void ConnTable_Lookups_FindLiveTuplesAndMissOthers()
    {
        var b = new ConnTableBenchmarks { Entries = 1_000 };
        b.Setup();
        for (int i = 0; i < 500; i++)
        {
            Assert.True(b.LookupHit() >= 0);
            Assert.Equal(-1, b.LookupMiss());
        }
    }

    [Fact]
    public void ConnTable_OneMillionEntries_FitsIn256MB()
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var table = ConnTableBenchmarks.Fill(1_000_000);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(table);
        Assert.Equal(1_000_000, table.Count);
        Assert.InRange(after - before, 1_000_000 * 64L, 256L << 20);
    }

    [Fact]
    public void Checksum_Bodies_UpdatesAreReversibleAndVerifyMatchesAPlainSum()
    {
        var b = new ChecksumBenchmarks();
        b.Setup();
        ushort start = b.UpdateIpv4Address();
        for (int i = 0; i < 99; i++) b.UpdateIpv4Address();
        Assert.Equal(start, b.UpdateIpv4Address()); // swapping the addresses back and forth returns the same checksum
        ushort start6 = b.UpdateIpv6Address();
        b.UpdateIpv6Address();
        Assert.Equal(start6, b.UpdateIpv6Address());
        b.UpdatePort();
        Assert.Equal(PlainVerify(b.Small), b.VerifySegment84Bytes());
        Assert.Equal(PlainVerify(b.Full), b.VerifySegment1468Bytes());
        // And a buffer made to verify does.
        b.Small[0] = 0;
        b.Small[1] = 0;
        ushort fix = (ushort)~PlainSum(b.Small, 0x1_2345);
        b.Small[0] = (byte)(fix >> 8);
        b.Small[1] = (byte)fix;
        Assert.True(b.VerifySegment84Bytes());
    }

    private static bool PlainVerify(byte[] data) => PlainSum(data, 0x1_2345) == 0xFFFF;

    private static ushort PlainSum(byte[] data, uint initial)
    {
        ulong sum = initial;
        for (int i = 0; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if ((data.Length & 1) != 0) sum += (uint)data[^1] << 8;
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    [Theory]
    [InlineData(SchedulerKind.Weight)]
    [InlineData(SchedulerKind.RoundRobin)]
    [InlineData(SchedulerKind.Hash)]
    [InlineData(SchedulerKind.SymHash)]
    public void Scheduler_Pick_ReturnsACandidateEveryTime(SchedulerKind kind)
    {
        var b = new SchedulerBenchmarks { Kind = kind };
        b.Setup();
        var seen = new HashSet<int>();
        for (int i = 0; i < 1000; i++)
        {
            int pick = b.Pick();
            Assert.InRange(pick, 0, 9);
            seen.Add(pick);
        }
        Assert.True(seen.Count > 1, "1000 different clients all went to one of ten backends");
    }
}
