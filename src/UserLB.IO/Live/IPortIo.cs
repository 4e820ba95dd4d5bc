using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>One interface the engine owns: receive frames arriving at it (never its own sends), send frames out of it.</summary>
public interface IPortIo : IDisposable
{
    string Name { get; }
    MacAddress Mac { get; }

    /// <summary>
    /// Blocks up to a few milliseconds for one frame; copies it into <paramref name="buffer"/> (room for
    /// <see cref="LiveForwarder.BufferSize"/> bytes: a super-frame fits) with its offload state (plain when the port
    /// cannot tell). Returns its length, 0 on timeout, -1 when closed.
    /// </summary>
    int Receive(Span<byte> buffer, out VnetHeader offload);

    /// <summary>Sends a frame with its offload state; a port that cannot pass offloads to the kernel completes the
    /// checksum and segments the frame in software first.</summary>
    void Send(ReadOnlySpan<byte> frame, in VnetHeader offload);

    /// <summary>
    /// Hands frames that <see cref="Send"/> batched to the kernel; called after each batch (nothing to do for unbatched
    /// ports). Safe to call from any thread, also while another thread is in <see cref="Send"/>: the forwarder flushes
    /// after it lets go of the engine (the kernel's work of delivering the frames runs inside this call).
    /// </summary>
    void Flush();
}

/// <summary>
/// A port one thread can serve together with others (AF_PACKET rings): <see cref="Pending"/> tells exactly whether a
/// frame waits (so <see cref="IPortIo.Receive"/> after it never blocks), and poll() on <see cref="PollFd"/> sleeps until one does.
/// </summary>
public interface IPollablePort : IPortIo
{
    /// <summary>Whether another received frame is already waiting.</summary>
    bool Pending { get; }

    /// <summary>A file descriptor poll() reports readable when frames wait; -1 once closed.</summary>
    int PollFd { get; }

    /// <summary>The kernel's receive timestamp (wall clock, ns since the epoch) of the frame waiting next; 0 when none waits or unknown.</summary>
    long PendingTimestampNs { get; }

    /// <summary>Sampled wait of received frames between the kernel and userlb; null when unknown.</summary>
    DelayHistogram? ReceiveDelay { get; }
}

public static class Interfaces
{
    /// <summary>Throws a clear error when the interface does not exist.</summary>
    public static MacAddress MacOf(string name)
    {
        string path = $"/sys/class/net/{name}/address";
        if (string.IsNullOrWhiteSpace(name) || name.Contains('/', StringComparison.Ordinal) || !File.Exists(path))
            throw new InvalidOperationException($"interface \"{name}\" does not exist (see `ip link`)");
        var text = File.ReadAllText(path).Trim();
        return MacAddress.TryParse(text, out var mac) ? mac : throw new InvalidOperationException($"interface \"{name}\" has no Ethernet address (\"{text}\")");
    }

    /// <summary>The interface's IP MTU (1500 when it cannot be read).</summary>
    public static int MtuOf(string name) =>
        int.TryParse(File.Exists($"/sys/class/net/{name}/mtu") ? File.ReadAllText($"/sys/class/net/{name}/mtu").Trim() : "", System.Globalization.CultureInfo.InvariantCulture, out int mtu) ? mtu : 1500;

    public static int IndexOf(string name) =>
        int.Parse(File.ReadAllText($"/sys/class/net/{name}/ifindex").Trim(), System.Globalization.CultureInfo.InvariantCulture);
}
