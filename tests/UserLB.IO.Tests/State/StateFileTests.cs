using UserLB.Engine.Conntrack;
using UserLB.IO.State;
using UserLB.Packets;

namespace UserLB.IO.Tests.State;

public sealed class StateFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-state-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static FlowTuple T(string src, string dst, ushort sport, ushort dport, byte proto) =>
        new(IpAddr.Parse(src), IpAddr.Parse(dst), sport, dport, proto);

    private static readonly SavedConnection[] Sample =
    [
        new()
        {
            Farm = "app", Backend = "bck0",
            Original = T("192.168.101.1", "192.168.101.250", 34846, 443, IpProtocols.Tcp),
            Reply = T("192.168.1.10", "192.168.101.250", 443, 61234, IpProtocols.Tcp),
            TcpState = TcpState.Established,
            Status = ConnStatus.SeenReply | ConnStatus.Assured | ConnStatus.SrcNat | ConnStatus.DstNat | ConnStatus.Limited,
            Mark = 0x200, Id = 7, AgeNs = 12_345_678_901, RemainingNs = 431_999_000_000_001,
            OriginalPackets = 169, OriginalBytes = 14322, ReplyPackets = 113, ReplyBytes = ulong.MaxValue,
        },
        new()
        {
            Farm = "dns \"v6\"", Backend = "b-ü",
            Original = T("2001:db8::1", "2001:db8::250", 5353, 53, IpProtocols.Udp),
            Reply = T("2001:db8:1::10", "2001:db8::1", 53, 5353, IpProtocols.Udp),
            Status = ConnStatus.DstNat, Mark = 0x201, Id = uint.MaxValue, AgeNs = 0, RemainingNs = 30_000_000_000,
            OriginalPackets = 1, OriginalBytes = 40,
        },
        new()
        {
            Farm = "s", Backend = "b",
            Original = T("10.0.0.1", "10.0.0.250", 1, 2, IpProtocols.Sctp),
            Reply = T("10.1.0.1", "10.0.0.250", 2, 1, IpProtocols.Sctp),
            Status = ConnStatus.SrcNat | ConnStatus.DstNat, RemainingNs = 1,
        },
    ];

    [Fact]
    public void SaveLoad_Entries_RoundTripExactly()
    {
        string path = PathOf("state");
        var at = new DateTimeOffset(2026, 12, 1, 20, 0, 0, 123, TimeSpan.Zero);
        StateFile.Save(path, Sample, at);
        var load = StateFile.Load(path);
        Assert.Equal(StateLoadStatus.Loaded, load.Status);
        Assert.Null(load.Message);
        Assert.Equal(0, load.BadLines);
        Assert.Equal(at, load.SavedAt);
        Assert.Equal(Sample, load.Entries);
        Assert.False(File.Exists(path + ".tmp"));
        var lines = File.ReadAllLines(path);
        Assert.Equal(4, lines.Length);
        Assert.Equal("""{"userlb-state":1,"saved":"2026-12-01T20:00:00.123Z","entries":3}""", lines[0]);
        Assert.StartsWith("""{"farm":"app","backend":"bck0","proto":6,"src":"192.168.101.1","dst":"192.168.101.250","sport":34846,"dport":443,"reply-src":"192.168.1.10","reply-dst":"192.168.101.250","reply-sport":443,"reply-dport":61234,"state":"ESTABLISHED","status":"seen-reply assured snat dnat limited","mark":512,""", lines[1]);
    }

    [Fact]
    public void SaveLoad_SynProxiedConnection_SequenceAndTimestampShiftsRoundTrip()
    {
        string path = PathOf("state");
        var proxied = Sample[0] with { Status = ConnStatus.SeenReply | ConnStatus.Assured | ConnStatus.SrcNat | ConnStatus.DstNat | ConnStatus.SeqAdjust, SeqOffset = 558_461_977, TsOffset = uint.MaxValue - 223_022, WindowShift = -2 };
        StateFile.Save(path, [proxied], DateTimeOffset.UnixEpoch);
        var load = StateFile.Load(path);
        Assert.Equal([proxied], load.Entries);
        Assert.Contains("\"status\":\"seen-reply assured snat dnat seq-adjust\",\"mark\":512,\"seq-offset\":558461977,\"ts-offset\":4294744273,\"window-shift\":-2,", File.ReadAllLines(path)[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Save_OverExistingFile_ReplacesItWhole()
    {
        string path = PathOf("state");
        StateFile.Save(path, Sample, DateTimeOffset.UnixEpoch);
        StateFile.Save(path, [Sample[2]], DateTimeOffset.UnixEpoch);
        Assert.Equal([Sample[2]], StateFile.Load(path).Entries);
    }

    [Fact]
    public void Save_NoEntries_LoadsAsEmpty()
    {
        string path = PathOf("state");
        StateFile.Save(path, [], DateTimeOffset.UnixEpoch);
        var load = StateFile.Load(path);
        Assert.Equal(StateLoadStatus.Loaded, load.Status);
        Assert.Empty(load.Entries);
        Assert.Null(load.Message);
    }

    [Fact]
    public void Load_MissingFile_ReportsMissing()
    {
        var load = StateFile.Load(PathOf("nope"));
        Assert.Equal(StateLoadStatus.Missing, load.Status);
        Assert.Empty(load.Entries);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("garbage\n", "not JSON")]
    [InlineData("{\"farms\":[]}\n", "no \"userlb-state\"")]
    [InlineData("{\"userlb-state\":2,\"entries\":0}\n", "version 2")]
    [InlineData("\0\0\0\0\0\0", "not JSON")]
    public void Load_NotAStateFile_InvalidWithAReason(string content, string reason)
    {
        string path = PathOf("state");
        File.WriteAllText(path, content);
        var load = StateFile.Load(path);
        Assert.Equal(StateLoadStatus.Invalid, load.Status);
        Assert.Empty(load.Entries);
        Assert.Contains(reason, load.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json at all", "not JSON")]
    [InlineData("[1,2]", "not an object")]
    [InlineData("""{"farm":"app","backend":"bck0","proto":6}""", "bad address or port")]
    [InlineData("""{"farm":"app","backend":"bck0","proto":6,"src":"1.2.3.4","dst":"1.2.3.5","sport":70000,"dport":1,"reply-src":"1.2.3.6","reply-dst":"1.2.3.5","reply-sport":1,"reply-dport":1}""", "bad address or port")]
    [InlineData("""{"farm":"app","backend":"bck0","proto":6,"src":"1.2.3.4","dst":"::1","sport":1,"dport":1,"reply-src":"1.2.3.6","reply-dst":"1.2.3.5","reply-sport":1,"reply-dport":1}""", "mixed address families")]
    [InlineData("""{"farm":"app","backend":"bck0","proto":6,"src":"1.2.3.4","dst":"1.2.3.5","sport":1,"dport":1,"reply-src":"1.2.3.6","reply-dst":"1.2.3.5","reply-sport":1,"reply-dport":1,"state":"DANCING"}""", "bad tcp state")]
    [InlineData("""{"farm":"app","backend":"bck0","proto":17,"src":"1.2.3.4","dst":"1.2.3.5","sport":1,"dport":1,"reply-src":"1.2.3.6","reply-dst":"1.2.3.5","reply-sport":1,"reply-dport":1,"status":"snat bogus"}""", "bad status")]
    [InlineData("""{"farm":"app","backend":"bck0","proto":17,"src":"1.2.3.4","dst":"1.2.3.5","sport":1,"dport":1,"reply-src":"1.2.3.6","reply-dst":"1.2.3.5","reply-sport":1,"reply-dport":1,"status":"","mark":1,"id":1,"age-ns":-5,"remaining-ns":1}""", "bad age-ns")]
    [InlineData("""{"farm":"app","backend":"bck0","proto":6,"src":"1.2.3.4","dst":"1.2.3.5","sport":1,"dport":1,"reply-src":"1.2.3.6","reply-dst":"1.2.3.5","reply-sport":1,"reply-dport":1,"state":"ESTABLISHED","status":"seq-adjust","mark":1,"id":1,"age-ns":5,"remaining-ns":1,"packets":[1,1],"bytes":[1,1]}""", "bad seq-offset")]
    public void Load_OneDamagedLine_SkippedCountedAndNamedTheOthersLoaded(string badLine, string reason)
    {
        string path = PathOf("state");
        StateFile.Save(path, Sample, DateTimeOffset.UnixEpoch);
        var lines = File.ReadAllLines(path).ToList();
        lines.Insert(2, badLine);
        File.WriteAllLines(path, lines);
        var load = StateFile.Load(path);
        Assert.Equal(StateLoadStatus.Loaded, load.Status);
        Assert.Equal(1, load.BadLines);
        Assert.Equal(Sample, load.Entries);
        Assert.Contains("line 3", load.Message, StringComparison.Ordinal);
        Assert.Contains(reason, load.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_TruncatedFile_KeepsTheCompleteLinesAndSaysSo()
    {
        string path = PathOf("state");
        StateFile.Save(path, Sample, DateTimeOffset.UnixEpoch);
        var bytes = File.ReadAllBytes(path);
        int cut = Array.LastIndexOf(bytes, (byte)'\n', bytes.Length - 2) + 20; // into the last entry
        File.WriteAllBytes(path, bytes[..cut]);
        var load = StateFile.Load(path);
        Assert.Equal(StateLoadStatus.Loaded, load.Status);
        Assert.Equal(1, load.BadLines);
        Assert.Equal(Sample[..2], load.Entries);
    }

    [Fact]
    public void Load_FewerEntriesThanTheHeaderAnnounces_Warns()
    {
        string path = PathOf("state");
        StateFile.Save(path, Sample, DateTimeOffset.UnixEpoch);
        File.WriteAllLines(path, File.ReadAllLines(path)[..3]);
        var load = StateFile.Load(path);
        Assert.Equal(0, load.BadLines);
        Assert.Equal(Sample[..2], load.Entries);
        Assert.Contains("announces 3 entries, the file holds 2", load.Message, StringComparison.Ordinal);
    }
}
