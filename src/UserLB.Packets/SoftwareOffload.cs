namespace UserLB.Packets;

// TEMPORARY STUB: replaced by the real implementation from branch offload-sw.
public interface IFrameEmitter { void Emit(ReadOnlySpan<byte> frame); }

public static class SoftwareOffload
{
    public const int MaxSegmentFrame = 9216 + 18 + 4;
    public static bool CompleteChecksum(Span<byte> frame, int packetEnd, in VnetHeader offload) => throw new NotImplementedException();
    public static DropReason Emit<TEmitter>(Span<byte> frame, in VnetHeader offload, int mtu, Span<byte> scratch, ref TEmitter emitter) where TEmitter : IFrameEmitter => throw new NotImplementedException();
}
