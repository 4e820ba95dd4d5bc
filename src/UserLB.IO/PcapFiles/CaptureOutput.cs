namespace UserLB.IO.PcapFiles;

/// <summary>
/// The buffer a capture writer stages records or blocks in, and its stream: written out when the writer needs room, on
/// <see cref="Flush"/> and on <see cref="Dispose"/> (which disposes the stream unless it was left open).
/// </summary>
internal sealed class CaptureOutput(Stream stream, bool leaveOpen, int bufferSize) : IDisposable
{
    /// <summary>The staging buffer (a writer may replace it with a larger one when it is empty).</summary>
    public byte[] Buffer = new byte[bufferSize];

    /// <summary>Bytes staged in <see cref="Buffer"/>.</summary>
    public int Count;

    public bool Disposed { get; private set; }

    public Stream Stream => stream;

    /// <summary>Writes the staged bytes to the stream.</summary>
    public void FlushBuffer()
    {
        if (Count > 0)
        {
            stream.Write(Buffer, 0, Count);
            Count = 0;
        }
    }

    /// <summary>Writes the staged bytes and flushes the stream.</summary>
    public void Flush()
    {
        FlushBuffer();
        stream.Flush();
    }

    public void Dispose()
    {
        if (Disposed)
        {
            return;
        }

        try
        {
            Flush();
        }
        finally
        {
            Disposed = true;
            if (!leaveOpen)
            {
                stream.Dispose();
            }
        }
    }
}
