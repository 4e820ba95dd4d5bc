using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace UserLB.Cli.Service;

/// <summary>
/// systemd's readiness protocol (<c>sd_notify</c>): one datagram per state change to the unix socket named by
/// <c>$NOTIFY_SOCKET</c> (a path, or <c>@name</c> in the abstract namespace). A unit with <c>Type=notify</c> is started
/// once READY=1 arrives; RELOADING=1 … READY=1 frames a reload, STOPPING=1 a stop. Sending never throws: a service
/// manager that does not listen must not stop the load balancer.
/// </summary>
internal sealed class SdNotify : IDisposable
{
    public const string Variable = "NOTIFY_SOCKET";

    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly UnixDomainSocketEndPoint _target;

    /// <param name="address">A socket path, or <c>@name</c> for Linux's abstract namespace.</param>
    public SdNotify(string address)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        Address = address;
        _target = new UnixDomainSocketEndPoint(address[0] == '@' ? "\0" + address[1..] : address);
    }

    /// <summary>Where the notifications go.</summary>
    public string Address { get; }

    /// <summary>The error of the last send that failed; null when every send went out.</summary>
    public string? LastError { get; private set; }

    /// <summary>A notifier for <c>$NOTIFY_SOCKET</c>, or null when the process was not started by a service manager that listens.</summary>
    public static SdNotify? FromEnvironment() =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } address ? new SdNotify(address) : null;

    /// <summary>READY=1: started (or done reloading), with a status line.</summary>
    public bool Ready(string status) => Send($"READY=1\nSTATUS={status}");

    /// <summary>RELOADING=1 with the CLOCK_MONOTONIC time systemd (253 and later) checks against the reload's start.</summary>
    public bool Reloading() => Send(string.Create(CultureInfo.InvariantCulture, $"RELOADING=1\nMONOTONIC_USEC={MonotonicMicroseconds()}"));

    /// <summary>STOPPING=1: shutting down.</summary>
    public bool Stopping() => Send("STOPPING=1");

    /// <summary>Sends one notification (lines of KEY=VALUE); false, with <see cref="LastError"/>, when it could not.</summary>
    public bool Send(string state)
    {
        ArgumentNullException.ThrowIfNull(state);
        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(state), _target);
            return true;
        }
        catch (SocketException ex)
        {
            LastError = ex.Message;
            return false;
        }
    }

    /// <summary>CLOCK_MONOTONIC in microseconds (the clock Stopwatch reads on Linux).</summary>
    private static long MonotonicMicroseconds() => Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1_000_000);

    public void Dispose() => _socket.Dispose();
}
