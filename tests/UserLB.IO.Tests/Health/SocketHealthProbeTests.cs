using System.Net;
using System.Net.Sockets;
using System.Text;
using UserLB.Engine.Config;
using UserLB.IO.Health;

namespace UserLB.IO.Tests.Health;

/// <summary>The real probes against loopback listeners.</summary>
public sealed class SocketHealthProbeTests : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public SocketHealthProbeTests() => _listener.Start();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _listener.Dispose();
        _stop.Dispose();
    }

    private ushort Port => (ushort)((IPEndPoint)_listener.LocalEndpoint).Port;

    private static HealthTarget Target(HealthCheckType type, ushort port, string path = "/", int status = 200, double timeout = 2) =>
        new("app", "bck0", IPAddress.Loopback, port, HealthCheckConfig.Default with
        {
            Type = type, Path = path, Status = status, Timeout = TimeSpan.FromSeconds(timeout), Interval = TimeSpan.FromSeconds(5),
        });

    /// <summary>Answers one HTTP request per connection with <paramref name="statusLine"/>; records the request line.</summary>
    private Task<string> ServeHttp(string statusLine) => Task.Run(async () =>
    {
        using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
        var stream = client.GetStream();
        var buffer = new byte[4096];
        int n = 0;
        while (!Encoding.ASCII.GetString(buffer, 0, n).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int got = await stream.ReadAsync(buffer.AsMemory(n), _stop.Token);
            if (got == 0) break;
            n += got;
        }
        await stream.WriteAsync(Encoding.ASCII.GetBytes(statusLine + "\r\nContent-Length: 0\r\n\r\n"), _stop.Token);
        return Encoding.ASCII.GetString(buffer, 0, n).Split("\r\n")[0];
    });

    [Fact]
    public async Task Probe_TcpListening_Succeeds()
    {
        var result = await new SocketHealthProbe().ProbeAsync(Target(HealthCheckType.Tcp, Port), CancellationToken.None);
        Assert.True(result.Ok, result.Detail);
    }

    [Fact]
    public async Task Probe_TcpClosedPort_FailsRefused()
    {
        _listener.Stop(); // nothing listens on the port any more
        var result = await new SocketHealthProbe().ProbeAsync(Target(HealthCheckType.Tcp, Port), CancellationToken.None);
        Assert.False(result.Ok);
        Assert.Equal("connection refused", result.Detail);
    }

    [Fact]
    public async Task Probe_HttpExpectedStatus_SucceedsAndSendsThePath()
    {
        var server = ServeHttp("HTTP/1.1 200 OK");
        var result = await new SocketHealthProbe().ProbeAsync(Target(HealthCheckType.Http, Port, "/healthz"), CancellationToken.None);
        Assert.True(result.Ok, result.Detail);
        Assert.Equal("GET /healthz HTTP/1.0", await server);
    }

    [Fact]
    public async Task Probe_HttpOtherStatus_FailsNamingIt()
    {
        var server = ServeHttp("HTTP/1.0 503 Service Unavailable");
        var result = await new SocketHealthProbe().ProbeAsync(Target(HealthCheckType.Http, Port), CancellationToken.None);
        await server;
        Assert.False(result.Ok);
        Assert.Equal("HTTP status 503, expected 200", result.Detail);
    }

    [Fact]
    public async Task Probe_HttpExpects204_204Succeeds()
    {
        var server = ServeHttp("HTTP/1.0 204 No Content");
        var result = await new SocketHealthProbe().ProbeAsync(Target(HealthCheckType.Http, Port, status: 204), CancellationToken.None);
        await server;
        Assert.True(result.Ok, result.Detail);
    }

    [Fact]
    public async Task Probe_HttpNeverAnswers_FailsWithTimeout()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var result = await new SocketHealthProbe().ProbeAsync(Target(HealthCheckType.Http, Port, timeout: 0.2), cts.Token);
        Assert.False(result.Ok);
        Assert.StartsWith("timeout", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\n", 200)]
    [InlineData("HTTP/1.0 404\r\n", 404)]
    [InlineData("HTTP/1.0 2000 OK\r\n", -1)]
    [InlineData("SSH-2.0-OpenSSH\r\n", -1)]
    [InlineData("HTTP/1.1 2x0 OK", -1)]
    [InlineData("", -1)]
    public void ParseStatus_Answer_StatusOrMinusOne(string answer, int expected) =>
        Assert.Equal(expected, SocketHealthProbe.ParseStatus(Encoding.ASCII.GetBytes(answer)));

    [SkippableFact]
    public async Task Probe_IcmpLoopback_SucceedsWhenAllowed()
    {
        Skip.IfNot(Environment.UserName == "root", "raw ICMP sockets need root here");
        var result = await new SocketHealthProbe().ProbeAsync(Target(HealthCheckType.Icmp, 0), CancellationToken.None);
        Assert.True(result.Ok, result.Detail);
    }
}
