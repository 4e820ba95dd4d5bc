using System.Text;
using UserLB.Engine.Farms;
using UserLB.IO.PcapFiles;
using UserLB.Packets;

namespace UserLB.IO.Replay;

/// <summary>
/// The capture replay reads: a <see cref="PcapReader"/> over a file or a pipe, with a look-ahead for the LB's MAC that
/// works on pipes too (the frames read ahead are kept and replayed), and the offload state pcapng comments give frames.
/// </summary>
internal sealed class ReplayInput : IDisposable
{
    /// <summary>How far a pipe is read ahead for the LB's MAC (a file is scanned whole, as before).</summary>
    public const int MaxLookAheadFrames = 100_000;

    private readonly PcapReader _reader;
    private readonly Queue<Buffered> _ahead = [];
    private Buffered? _current;

    private sealed record Buffered(long Ts, byte[] Data, int OriginalLength, int LinkType, int InterfaceId, byte[] Comments, uint Flags);

    public ReplayInput(PcapReader reader) => _reader = reader;

    public PcapReader Reader => _reader;

    /// <summary>
    /// The LB's MAC as the capture shows it: the destination of the first unicast IP frame addressed to a VIP. A seekable
    /// stream is scanned by a second reader and rewound; a pipe is read ahead (up to <see cref="MaxLookAheadFrames"/>).
    /// </summary>
    public static MacAddress? InferOwnMac(Stream stream, string name, EngineSnapshot snapshot, out ReplayInput? lookAhead)
    {
        lookAhead = null;
        if (stream.CanSeek)
        {
            long start = stream.Position;
            try
            {
                using var scan = new PcapReader(stream, name, leaveOpen: true);
                while (scan.TryReadNext(out var record))
                    if (IsToVip(record, snapshot) is { } mac) return mac;
                return null;
            }
            finally
            {
                stream.Position = start;
            }
        }
        var input = new ReplayInput(new PcapReader(stream, name, leaveOpen: true));
        lookAhead = input;
        return input.LookAhead(snapshot);
    }

    private MacAddress? LookAhead(EngineSnapshot snapshot)
    {
        while (_ahead.Count < MaxLookAheadFrames && _reader.TryReadNext(out var record))
        {
            _ahead.Enqueue(new Buffered(record.TimestampNanos, record.Data.ToArray(), record.OriginalLength, record.LinkType,
                record.InterfaceId, record.Comments.ToArray(), record.Flags));
            if (IsToVip(record, snapshot) is { } mac) return mac;
        }
        return null;
    }

    private static MacAddress? IsToVip(in PcapRecord record, EngineSnapshot snapshot)
    {
        if (PacketParser.Parse(record.Data, out var p) != DropReason.None || p.Kind != FrameKind.Ip) return null;
        var dst = MacAddress.Read(record.Data);
        return !dst.IsMulticast && snapshot.LocalAddresses.Contains(p.Dst) ? dst : null;
    }

    /// <summary>The next frame: those read ahead first, then the reader's.</summary>
    public bool TryReadNext(out PcapRecord record)
    {
        if (_ahead.TryDequeue(out var b))
        {
            _current = b; // keeps the bytes alive until the next call
            record = new PcapRecord(b.Ts, b.Data, b.OriginalLength, b.LinkType, b.InterfaceId, b.Comments, b.Flags);
            return true;
        }
        _current = null;
        return _reader.TryReadNext(out record);
    }

    /// <summary>
    /// The offload state a frame's comment gives it: a line <c>vnet: …</c> in <see cref="VnetHeader.ToString"/>'s format
    /// (plain when there is none). False, with why, when the line does not parse or there are two.
    /// </summary>
    public static bool TryGetOffload(ReadOnlySpan<byte> comments, out VnetHeader offload, out string? error)
    {
        offload = default;
        error = null;
        bool found = false;
        while (!comments.IsEmpty)
        {
            int nl = comments.IndexOf((byte)'\n');
            var line = nl < 0 ? comments : comments[..nl];
            comments = nl < 0 ? [] : comments[(nl + 1)..];
            if (!line.StartsWith("vnet:"u8)) continue;
            string text = Encoding.UTF8.GetString(line);
            if (found)
            {
                error = $"a second comment line \"{text}\": one vnet line per frame";
                return false;
            }
            if (!VnetHeader.TryParse(text.AsSpan("vnet:".Length), out offload, out string? why))
            {
                error = $"comment line \"{text}\": {why}";
                return false;
            }
            found = true;
        }
        return true;
    }

    public void Dispose() => _reader.Dispose();
}
