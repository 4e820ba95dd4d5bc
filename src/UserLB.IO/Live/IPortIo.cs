using UserLB.Packets;

namespace UserLB.IO.Live;

/// <summary>One interface the engine owns: receive frames arriving at it (never its own sends), send frames out of it.</summary>
public interface IPortIo : IDisposable
{
    string Name { get; }
    MacAddress Mac { get; }

    /// <summary>Blocks up to a few milliseconds for one frame; copies it into <paramref name="buffer"/>. Returns its length, 0 on timeout, -1 when closed.</summary>
    int Receive(Span<byte> buffer);

    void Send(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Hands frames that <see cref="Send"/> batched to the kernel; called after each batch. Nothing to do for unbatched
    /// ports. Must be safe to call from any thread, also while another thread is in <see cref="Send"/>: the forwarder
    /// flushes after it lets go of the engine (the kernel's work of delivering the frames runs inside this call).
    /// </summary>
    void Flush()
    {
    }

    /// <summary>Whether another received frame is already waiting (so a batch goes on); false when unknown.</summary>
    bool Pending => false;

    /// <summary>
    /// A file descriptor poll() reports readable when frames wait, for ports whose <see cref="Pending"/> is exact (a
    /// frame is waiting exactly when it is true, so <see cref="Receive"/> after it never blocks): then one thread can
    /// serve several ports (<see cref="PortPoll"/>). -1 when the port cannot be polled that way.
    /// </summary>
    int PollFd => -1;

    /// <summary>The kernel's receive timestamp (wall clock, ns since the epoch) of the frame waiting next; 0 when none waits or unknown.</summary>
    long PendingTimestampNs => 0;

    /// <summary>Sampled wait of received frames between the kernel and userlb (AF_PACKET rings); null when unknown.</summary>
    DelayHistogram? ReceiveDelay => null;
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

    public static int IndexOf(string name) =>
        int.Parse(File.ReadAllText($"/sys/class/net/{name}/ifindex").Trim(), System.Globalization.CultureInfo.InvariantCulture);
}
