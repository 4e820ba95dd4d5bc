using System.Net.Sockets;
using System.Text;

namespace UserLB.Cli.Tests.Api;

/// <summary>A hand-driven HTTP/1.1 connection to the fixture's API, for clients no HttpClient imitates: slow, stalled, oversize.</summary>
internal sealed class RawHttp : IDisposable
{
    private readonly TcpClient _tcp = new();

    public RawHttp(ApiFixture api)
    {
        _tcp.Connect(api.Host.Address.Host, api.Host.Address.Port);
        _tcp.ReceiveTimeout = 30_000; // a bound for a server that never answers, not a measurement
        Stream = _tcp.GetStream();
    }

    public NetworkStream Stream { get; }

    /// <summary>Writes text; false once the server has closed the connection (it stopped reading).</summary>
    public bool TryWrite(string text) => TryWrite(Encoding.ASCII.GetBytes(text));

    public bool TryWrite(byte[] bytes)
    {
        try
        {
            Stream.Write(bytes);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Everything the server sends until it closes the connection (or resets it).</summary>
    public string ReadToClose()
    {
        var all = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            int n;
            while ((n = Stream.Read(buffer)) > 0) all.Write(buffer, 0, n);
        }
        catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            // a reset after the response: what was read stands
        }
        return Encoding.UTF8.GetString(all.ToArray());
    }

    /// <summary>Headers of a request with the fixture's key.</summary>
    public static string Head(string method, string path, string extra) =>
        $"{method} {path} HTTP/1.1\r\nHost: test\r\nKey: {ApiFixture.Key}\r\nContent-Type: application/json\r\n{extra}\r\n";

    public void Dispose() => _tcp.Dispose();
}
