using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using UserLB.Engine.Config;

namespace UserLB.IO.Health;

/// <summary>One backend's check: where to probe and how.</summary>
public sealed record HealthTarget(string Farm, string Backend, IPAddress Address, ushort Port, HealthCheckConfig Check)
{
    /// <summary>"farm/backend", as <see cref="UserLB.Engine.Farms.EngineSnapshot.Build"/> takes unhealthy backends.</summary>
    public string Key => Farm + "/" + Backend;
}

/// <summary>The outcome of one probe; <see cref="Detail"/> says why it failed (for the log).</summary>
public readonly record struct ProbeResult(bool Ok, string Detail)
{
    public static ProbeResult Success { get; } = new(true, "ok");

    public static ProbeResult Fail(string detail) => new(false, detail);
}

/// <summary>Runs one probe.</summary>
public interface IHealthProbe
{
    /// <summary>Probes <paramref name="target"/>; <paramref name="cancellationToken"/> is cancelled when the check's timeout expires.</summary>
    Task<ProbeResult> ProbeAsync(HealthTarget target, CancellationToken cancellationToken);
}

/// <summary>
/// The real probes, from this host's kernel stack (so the host needs a route and an address toward the backends; in the
/// lab, the LB namespace's 192.168.1.1 on the backend side): TCP connect, HTTP/1.0 GET with the expected status, ICMP echo.
/// </summary>
public sealed class SocketHealthProbe : IHealthProbe
{
    private const int MaxStatusLine = 1024;

    public async Task<ProbeResult> ProbeAsync(HealthTarget target, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        try
        {
            return target.Check.Type switch
            {
                HealthCheckType.Http => await HttpAsync(target, cancellationToken).ConfigureAwait(false),
                HealthCheckType.Icmp => await IcmpAsync(target, cancellationToken).ConfigureAwait(false),
                _ => await TcpAsync(target, cancellationToken).ConfigureAwait(false),
            };
        }
        catch (OperationCanceledException)
        {
            return ProbeResult.Fail("timeout after " + HealthCheckConfig.PrintSeconds(target.Check.Timeout) + " s");
        }
        catch (SocketException ex)
        {
            return ProbeResult.Fail(ex.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.HostUnreachable or SocketError.NetworkUnreachable => "unreachable",
                SocketError.ConnectionReset => "connection reset",
                _ => ex.Message,
            });
        }
        catch (Exception ex) when (ex is IOException or PingException)
        {
            return ProbeResult.Fail(ex.Message);
        }
    }

    private static async Task<ProbeResult> TcpAsync(HealthTarget t, CancellationToken ct)
    {
        using var socket = new Socket(t.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(t.Address, t.Port), ct).ConfigureAwait(false);
        return ProbeResult.Success;
    }

    private static async Task<ProbeResult> HttpAsync(HealthTarget t, CancellationToken ct)
    {
        using var socket = new Socket(t.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(t.Address, t.Port), ct).ConfigureAwait(false);
        string host = t.Address.AddressFamily == AddressFamily.InterNetworkV6 ? "[" + t.Address + "]" : t.Address.ToString();
        var request = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"GET {t.Check.Path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: userlb-health-check\r\nConnection: close\r\n\r\n"));
        await socket.SendAsync(request, SocketFlags.None, ct).ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(MaxStatusLine);
        try
        {
            int n = 0;
            while (n < MaxStatusLine)
            {
                int got = await socket.ReceiveAsync(buffer.AsMemory(n, MaxStatusLine - n), SocketFlags.None, ct).ConfigureAwait(false);
                if (got == 0) break;
                n += got;
                if (buffer.AsSpan(0, n).IndexOf((byte)'\n') >= 0) break;
            }
            int status = ParseStatus(buffer.AsSpan(0, n));
            if (status < 0) return ProbeResult.Fail("no HTTP status line in the answer");
            return status == t.Check.Status
                ? ProbeResult.Success
                : ProbeResult.Fail(string.Create(CultureInfo.InvariantCulture, $"HTTP status {status}, expected {t.Check.Status}"));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The status code of <c>HTTP/1.x NNN ...</c>; -1 if the text is not a status line.</summary>
    internal static int ParseStatus(ReadOnlySpan<byte> answer)
    {
        if (!answer.StartsWith("HTTP/"u8)) return -1;
        int space = answer.IndexOf((byte)' ');
        if (space < 0 || answer.Length < space + 4) return -1;
        var code = answer.Slice(space + 1, 3);
        int status = 0;
        foreach (var c in code)
        {
            if (c < '0' || c > '9') return -1;
            status = (status * 10) + (c - '0');
        }
        return answer.Length == space + 4 || answer[space + 4] is (byte)' ' or (byte)'\r' or (byte)'\n' ? status : -1;
    }

    private static async Task<ProbeResult> IcmpAsync(HealthTarget t, CancellationToken ct)
    {
        using var ping = new Ping();
        var reply = await ping.SendPingAsync(t.Address, t.Check.Timeout, null, null, ct).ConfigureAwait(false);
        return reply.Status == IPStatus.Success ? ProbeResult.Success : ProbeResult.Fail("ICMP echo: " + reply.Status);
    }
}
