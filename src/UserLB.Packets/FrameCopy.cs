using System.Runtime.CompilerServices;

namespace UserLB.Packets;

/// <summary>
/// Copies a frame's bytes for the per-packet path (ring slot to buffer, buffer to TX slot) as one block move
/// (<c>cpblk</c>, the runtime's native memmove), whose cost does not depend on how the two buffers are aligned.
/// </summary>
public static class FrameCopy
{
    /// <summary>Copies <paramref name="source"/> to the start of <paramref name="destination"/>, which must be at least as long.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if ((uint)source.Length > (uint)destination.Length) ThrowTooShort();
        if (source.IsEmpty) return;
        Unsafe.CopyBlockUnaligned(ref destination[0], ref Unsafe.AsRef(in source[0]), (uint)source.Length);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowTooShort() => throw new ArgumentException("the destination is shorter than the frame", "destination");
}
