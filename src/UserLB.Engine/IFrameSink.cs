using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>Where the engine's transmitted frames go (a live interface, a capture file, a test list).</summary>
public interface IFrameSink
{
    /// <summary>Sends a frame with a full checksum that is no super-frame.</summary>
    void Send(ReadOnlySpan<byte> frame, int port);

    /// <summary>
    /// Sends a forwarded frame with its offload state (a partial checksum, a GSO super-frame), for the kernel or the peer
    /// to complete. Sinks that cannot pass it on complete the checksum and segment in software first (the default).
    /// </summary>
    void Send(ReadOnlySpan<byte> frame, int port, in VnetHeader offload)
    {
        if (offload.IsPlain) Send(frame, port);
        else SoftwareOffloadSink.Send(this, frame, port, offload);
    }
}

/// <summary>The software completion (<see cref="SoftwareOffload"/>) of frames with offloads for sinks that take plain frames only.</summary>
public static class SoftwareOffloadSink
{
    /// <summary>The IP MTU software segmentation cuts super-frames for.</summary>
    public const int Mtu = 1500;

    [ThreadStatic] private static byte[]? t_frame, t_scratch;

    /// <summary>Completes <paramref name="frame"/>'s checksum and cuts it into segments of at most <see cref="Mtu"/>, each sent plain.</summary>
    public static void Send(IFrameSink sink, ReadOnlySpan<byte> frame, int port, in VnetHeader offload)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var copy = t_frame ??= new byte[PacketParser.MaxGsoFrameLength];
        var scratch = t_scratch ??= new byte[SoftwareOffload.MaxSegmentFrame];
        if (frame.Length > copy.Length) return;
        frame.CopyTo(copy);
        var emitter = new SinkEmitter(sink, port);
        SoftwareOffload.Emit(copy.AsSpan(0, frame.Length), offload, Mtu, scratch, ref emitter);
    }

    private readonly struct SinkEmitter(IFrameSink sink, int port) : IFrameEmitter
    {
        public void Emit(ReadOnlySpan<byte> frame) => sink.Send(frame, port);
    }
}

/// <summary>Receives the story of each frame when tracing is on (allocation is fine here: tracing is not the fast path).</summary>
public interface IPacketTrace
{
    void Frame(long frameNumber, long nowNs, string summary);
    void Step(string text);
}
