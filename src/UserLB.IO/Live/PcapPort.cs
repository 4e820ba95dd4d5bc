using SharpPcap;
using SharpPcap.LibPcap;
using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>
/// libpcap through SharpPcap: immediate mode (no 1 s batching delay), snaplen 2048, a large kernel buffer, the
/// <c>inbound</c> filter so the engine never reads its own sends; receive through the span API, send with
/// <c>SendPacket(ReadOnlySpan&lt;byte&gt;)</c> (no allocation).
/// </summary>
public sealed class PcapPort : IPortIo
{
    private readonly LibPcapLiveDevice _device;

    public PcapPort(string name)
    {
        Name = name;
        Mac = Interfaces.MacOf(name);
        LibPcapLiveDevice? found = null;
        foreach (var d in LibPcapLiveDeviceList.New())
            if (d.Name == name) found = d;
        _device = found ?? throw new InvalidOperationException($"libpcap does not list interface \"{name}\"");
        _device.Open(new DeviceConfiguration
        {
            Mode = DeviceModes.Promiscuous,
            Immediate = true,
            Snaplen = 2048,
            ReadTimeout = 5,
            BufferSize = 16 * 1024 * 1024,
        });
        _device.Filter = "inbound";
    }

    public string Name { get; }
    public MacAddress Mac { get; }

    public int Receive(Span<byte> buffer)
    {
        var status = _device.GetNextPacket(out PacketCapture capture);
        if (status == GetPacketStatus.PacketRead)
        {
            var data = capture.Data;
            int n = Math.Min(data.Length, buffer.Length);
            data[..n].CopyTo(buffer);
            return n;
        }
        return status == GetPacketStatus.ReadTimeout ? 0 : status == GetPacketStatus.NoRemainingPackets ? -1 : 0;
    }

    public void Send(ReadOnlySpan<byte> frame) => _device.SendPacket(frame);

    public void Dispose() => _device.Close();
}
