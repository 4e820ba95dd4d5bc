using UserLB.Engine;
using UserLB.IO.PcapFiles;
using UserLB.Packets;

namespace UserLB.IO.Replay;

/// <summary>Where replay writes: the engine's sink, told when each input frame begins and ends.</summary>
internal interface IReplayOutput : IFrameSink, IDisposable
{
    /// <summary>Frames the engine sent.</summary>
    long Written { get; }

    void BeginFrame(long nowNs);

    /// <summary>
    /// The frame numbered <paramref name="number"/> has been processed: <paramref name="received"/> is it as it arrived,
    /// <paramref name="processed"/> as the engine left it (rewritten in place when forwarded or queued).
    /// </summary>
    void EndFrame(long number, ReadOnlySpan<byte> received, ReadOnlySpan<byte> processed, in VnetHeader offload);

    void Flush();
}

/// <summary>Classic pcap: every frame the engine sends, as the wire would carry it (offloads completed in software by
/// <see cref="IFrameSink"/>'s default), stamped with the time of the frame that caused it.</summary>
internal sealed class PcapReplayOutput(PcapWriter writer) : IReplayOutput
{
    private long _nowNs;

    public long Written { get; private set; }

    public void Send(ReadOnlySpan<byte> frame, int port)
    {
        writer.Write(_nowNs, frame);
        Written++;
    }

    public void BeginFrame(long nowNs) => _nowNs = nowNs;

    public void EndFrame(long number, ReadOnlySpan<byte> received, ReadOnlySpan<byte> processed, in VnetHeader offload)
    {
    }

    public void Flush() => writer.Flush();

    public void Dispose() => writer.Dispose();
}

/// <summary>
/// pcapng: the input's frames on an interface of their own ("input", inbound), each followed by the frames the engine
/// sent while processing it on the LB port's interface (outbound), as sent: a frame with offloads keeps its partial
/// checksum or stays a super-frame, and says so in a <c>vnet: …</c> comment line. Every frame carries its story
/// (<see cref="ReplayStory"/>).
/// </summary>
internal sealed class PcapNgReplayOutput : IReplayOutput
{
    private const int MaxPending = 4096;
    private readonly PcapNgWriter _writer;
    private readonly ReplayObserver _observer;
    private readonly int _input;
    private readonly List<int> _portInterfaces = [];
    private readonly List<Sent> _sent = [];
    private readonly LinkedList<Queued> _queued = [];
    private byte[] _bytes = new byte[64 * 1024];
    private int _used;
    private long _nowNs;

    private readonly record struct Sent(int Port, int Offset, int Length, VnetHeader Offload);

    /// <summary>A frame the engine queued for an unresolved neighbour: its bytes past the MAC addresses, whose story, which frame.</summary>
    private sealed record Queued(byte[] Bytes, long Number, string What);

    public PcapNgReplayOutput(PcapNgWriter writer, ReplayObserver observer, IReadOnlyList<string> portNames, string inputDescription)
    {
        _writer = writer;
        _observer = observer;
        _input = writer.AddInterface("input", LinkTypes.Ethernet, inputDescription);
        foreach (var name in portNames) _portInterfaces.Add(writer.AddInterface(name, LinkTypes.Ethernet, "frames the LB sends"));
    }

    public long Written { get; private set; }

    public void Send(ReadOnlySpan<byte> frame, int port) => Keep(frame, port, default);

    public void Send(ReadOnlySpan<byte> frame, int port, in VnetHeader offload) => Keep(frame, port, offload);

    private void Keep(ReadOnlySpan<byte> frame, int port, in VnetHeader offload)
    {
        if (_bytes.Length - _used < frame.Length) Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + frame.Length));
        frame.CopyTo(_bytes.AsSpan(_used));
        _sent.Add(new Sent(port, _used, frame.Length, offload));
        _used += frame.Length;
        Written++;
    }

    public void BeginFrame(long nowNs)
    {
        _nowNs = nowNs;
        _sent.Clear();
        _used = 0;
    }

    public void EndFrame(long number, ReadOnlySpan<byte> received, ReadOnlySpan<byte> processed, in VnetHeader offload)
    {
        string what = ReplayStory.What(_observer);
        _writer.Write(_input, _nowNs, received, PacketDirection.Inbound, ReplayStory.Input(_observer, what, offload));
        foreach (var s in _sent)
        {
            var frame = _bytes.AsSpan(s.Offset, s.Length);
            string comment = ReplayStory.OwnFrameStep(_observer, frame) is { } own
                ? $"for #{number}: {own}"
                : TakeQueued(frame) is { } q
                    ? $"for #{q.Number} (queued until #{number}): {q.What}"
                    : $"for #{number}: {what}";
            _writer.Write(PortInterface(s.Port), _nowNs, frame, PacketDirection.Outbound, comment + ReplayStory.Vnet(s.Offload));
        }
        if (_observer.Steps.Exists(step => step.Contains("frame queued until it answers", StringComparison.Ordinal)))
        {
            // The engine queued this frame as it left it: the bytes after both MAC addresses identify it when it is sent.
            if (_queued.Count == MaxPending) _queued.RemoveFirst();
            _queued.AddLast(new Queued(processed.Length > 12 ? processed[12..].ToArray() : [], number, what));
        }
    }

    /// <summary>The queued frame <paramref name="frame"/> is (the engine sends queued frames unchanged but for the MACs), removed from the queue; or null.</summary>
    private Queued? TakeQueued(ReadOnlySpan<byte> frame)
    {
        if (_queued.Count == 0 || frame.Length <= 12) return null;
        var tail = frame[12..];
        for (var node = _queued.First; node is not null; node = node.Next)
        {
            var q = node.Value.Bytes;
            if (q.Length >= tail.Length && q.AsSpan(0, tail.Length).SequenceEqual(tail))
            {
                _queued.Remove(node);
                return node.Value;
            }
        }
        return null;
    }

    private int PortInterface(int port)
    {
        while (port >= _portInterfaces.Count) _portInterfaces.Add(_writer.AddInterface($"port{_portInterfaces.Count}", LinkTypes.Ethernet, "frames the LB sends"));
        return _portInterfaces[Math.Max(port, 0)];
    }

    public void Flush() => _writer.Flush();

    public void Dispose() => _writer.Dispose();
}
