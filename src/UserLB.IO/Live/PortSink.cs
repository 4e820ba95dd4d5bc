using UserLB.Engine;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>A worker's way out: straight to the port, or under the port's lock when several workers share it.</summary>
internal sealed class PortSink(IPortIo[] ports, object[]? locks) : IFrameSink
{
    public void Send(ReadOnlySpan<byte> frame, int port)
    {
        if ((uint)port >= (uint)ports.Length) return;
        if (locks is null)
        {
            ports[port].Send(frame, default);
            return;
        }
        lock (locks[port]) ports[port].Send(frame, default);
    }

    public void Send(ReadOnlySpan<byte> frame, int port, in VnetHeader offload)
    {
        if ((uint)port >= (uint)ports.Length) return;
        if (locks is null)
        {
            ports[port].Send(frame, offload);
            return;
        }
        lock (locks[port]) ports[port].Send(frame, offload);
    }

    public void Flush()
    {
        // No port lock: Flush is safe beside another thread's Send (IPortIo.Flush), and its send() is the heavy part.
        for (int i = 0; i < ports.Length; i++) ports[i].Flush();
    }
}
