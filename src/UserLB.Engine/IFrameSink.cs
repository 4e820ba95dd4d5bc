namespace UserLB.Engine;

/// <summary>Where the engine's transmitted frames go (a live interface, a capture file, a test list).</summary>
public interface IFrameSink
{
    void Send(ReadOnlySpan<byte> frame, int port);
}

/// <summary>Receives the story of each frame when tracing is on (allocation is fine here: tracing is not the fast path).</summary>
public interface IPacketTrace
{
    void Frame(long frameNumber, long nowNs, string summary);
    void Step(string text);
}
