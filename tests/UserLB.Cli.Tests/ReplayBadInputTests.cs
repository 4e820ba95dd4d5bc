using System.Buffers.Binary;
using System.Text;
using UserLB.Engine.Config;
using UserLB.IO.PcapFiles;
using UserLB.IO.Replay;
using UserLB.IO.Tests.PcapFiles;
using static UserLB.Cli.Tests.ReplayFiles;

namespace UserLB.Cli.Tests;

/// <summary>
/// Bad input to replay: a truncated pcapng block, a packet on an interface that does not exist, a comment that is not
/// UTF-8, a bad vnet line. Each stops the replay at that frame with an error naming the block or record; nothing throws,
/// and what was replayed before it is in the output and the events file, which readers (ours, tshark) read whole.
/// </summary>
public sealed class ReplayBadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-replay-bad-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The handshake capture (7 frames, see <see cref="WriteHandshakeThenInvalid"/>) with its 5th packet block damaged.</summary>
    private string Damaged(string name, Action<byte[], int> damage, Func<byte[], byte[]>? cut = null)
    {
        string good = Path.Combine(_dir, "good.pcapng");
        WriteHandshakeThenInvalid(good);
        var bytes = File.ReadAllBytes(good);
        damage(bytes, PacketBlockOffsets(bytes)[4]);
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, cut is null ? bytes : cut(bytes));
        return path;
    }

    /// <summary>Byte offsets of the Enhanced Packet Blocks of a little-endian pcapng file.</summary>
    private static List<int> PacketBlockOffsets(byte[] file)
    {
        var offsets = new List<int>();
        for (int at = 0; at + 8 <= file.Length; at += (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 4)))
            if (BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at)) == 6) offsets.Add(at);
        return offsets;
    }

    public static TheoryData<string, string> Cases => new()
    {
        { "truncated", "corrupt or truncated enhanced packet block (block type 0x00000006) at byte offset {0} (reading record #5): truncated packet data: needs 54 bytes but the file ends after 12 (at byte offset {1})" },
        { "no-such-interface", "corrupt or truncated enhanced packet block (block type 0x00000006) at byte offset {0} (reading record #5): packet references interface 3 but the section has 1 interface(s)" },
        { "comment-not-utf8", "corrupt or truncated enhanced packet block (block type 0x00000006) at byte offset {0} (reading record #5): opt_comment is not valid UTF-8 (byte 0xff at position 0 of 4)" },
        { "bad-vnet-line", "record #5: comment line \"vnet: gso=tcpv9 size=1\": \"gso=tcpv9\": the gso type is not tcpv4, tcpv6, udp_l4, udp or typeN, with an optional +ecn; replay stopped there" },
    };

    private string Make(string kind, out int blockOffset)
    {
        int offset = 0;
        string path = kind switch
        {
            "truncated" => Damaged("truncated.pcapng", (_, at) => offset = at, b => b[..(offset + 40)]),
            "no-such-interface" => Damaged("noif.pcapng", (b, at) => { offset = at; BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at + 8), 3); }),
            "comment-not-utf8" => WithComment("latin.pcapng", "ÿþ\u0000\u0000", latin1: true, out offset),
            _ => WithComment("vnet.pcapng", "vnet: gso=tcpv9 size=1", latin1: false, out offset),
        };
        blockOffset = offset;
        return path;
    }

    /// <summary>The handshake capture again, the 5th frame with a comment (written as Latin-1 bytes when asked: not UTF-8).</summary>
    private string WithComment(string name, string comment, bool latin1, out int offset)
    {
        string path = Path.Combine(_dir, name);
        string plain = Path.Combine(_dir, "plain-" + name);
        WriteHandshakeThenInvalid(plain);
        using (var r = PcapReader.Open(plain))
        using (var w = PcapNgWriter.Create(path))
        {
            int eth = w.AddInterface("eth0");
            for (int i = 1; r.TryReadNext(out var rec); i++)
                w.Write(eth, rec.TimestampNanos, rec.Data, PacketDirection.Inbound, i == 5 ? (latin1 ? "XXXX" : comment) : null);
        }
        var bytes = File.ReadAllBytes(path);
        offset = PacketBlockOffsets(bytes)[4];
        if (latin1)
        {
            int at = bytes.AsSpan(offset).IndexOf("XXXX"u8) + offset;
            Encoding.Latin1.GetBytes(comment).CopyTo(bytes, at);
            File.WriteAllBytes(path, bytes);
        }
        return path;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Run_BadFifthFrame_ErrorNamesItAndTheFourBeforeAreWritten(string kind, string error)
    {
        string input = Make(kind, out int offset);
        string output = Path.Combine(_dir, kind + ".out.pcapng");
        using var events = new MemoryStream();
        var result = ReplayRunner.Run(ConfigParser.Parse(ReferenceFarm), input, output, new ReplayOptions { Events = events });

        Assert.Equal($"{input}: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, error, offset, offset + 40), result.ReadError);
        Assert.Equal(4, result.FramesIn);
        // The output holds the four frames replayed, and what they made the LB send (the SYN to bck0), complete.
        var frames = ReadNg(output);
        Assert.Equal(["#1: ", "#2: ", "#3: ", "#4: "], frames.Where(f => f.Interface == "input").Select(f => f.Comment[..4]));
        Assert.Single(frames, f => f.Interface == "port0" && f.Comment.Contains("DNAT to 192.168.1.10:443", StringComparison.Ordinal));
        // The NEW event of frame #4 is in the events stream.
        Assert.Equal("NEW", Assert.Single(UserLB.Engine.Conntrack.ConntrackEventReader.Read(new StringReader(Encoding.UTF8.GetString(events.ToArray())), "events")).Event);
        if (Tshark.Available) Assert.Equal(frames.Count, Tshark.Fields(output, "frame.number").Count);
    }

    [Fact]
    public void Run_BadFrameIntoClassicPcap_OutputFlushedUpToIt()
    {
        string input = Make("truncated", out _);
        string output = Path.Combine(_dir, "truncated.out.pcap");
        var result = ReplayRunner.Run(ConfigParser.Parse(ReferenceFarm), input, output, new ReplayOptions());
        Assert.Contains("truncated packet data", result.ReadError, StringComparison.Ordinal);
        Assert.Single(ReadPcap(output));
    }

    [Fact]
    public void Run_NotACapture_ThrowsInvalidDataAndWritesNoOutput()
    {
        string input = Path.Combine(_dir, "farms.json"), output = Path.Combine(_dir, "never.pcapng");
        File.WriteAllText(input, ReferenceFarm);
        var ex = Assert.Throws<InvalidDataException>(() => ReplayRunner.Run(ConfigParser.Parse(ReferenceFarm), input, output, new ReplayOptions()));
        Assert.Contains("is not a pcap or pcapng file", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }
}
