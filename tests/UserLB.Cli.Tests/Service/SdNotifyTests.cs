using System.Net.Sockets;
using System.Text;
using UserLB.Cli.Commands;
using UserLB.Cli.Service;
using UserLB.Cli.Tests.Api;

namespace UserLB.Cli.Tests.Service;

/// <summary>sd_notify as systemd receives it: datagrams on a unix socket the test binds in place of systemd's.</summary>
public sealed class SdNotifyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-notify-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A bound datagram socket, as systemd's notify socket.</summary>
    private static Socket Listen(string address)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        s.Bind(new UnixDomainSocketEndPoint(address));
        return s;
    }

    private static string Receive(Socket s)
    {
        var buffer = new byte[4096];
        int n = s.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    [Fact]
    public void Send_PathSocket_ReadyReloadingStoppingArriveAsSystemdReadsThem()
    {
        string path = Path.Combine(_dir, "notify");
        using var systemd = Listen(path);
        using var notify = new SdNotify(path);

        Assert.True(notify.Ready("forwarding on lbc, lbs"));
        Assert.True(notify.Reloading());
        Assert.True(notify.Stopping());

        Assert.Equal("READY=1\nSTATUS=forwarding on lbc, lbs", Receive(systemd));
        string reloading = Receive(systemd);
        Assert.Matches(@"^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*$", reloading);
        Assert.Equal("STOPPING=1", Receive(systemd));
        Assert.Null(notify.LastError);
    }

    [Fact]
    public void Send_AbstractSocket_Arrives()
    {
        string name = "userlb-test-" + Guid.NewGuid().ToString("N");
        using var systemd = Listen("\0" + name);
        using var notify = new SdNotify("@" + name);
        Assert.True(notify.Stopping());
        Assert.Equal("STOPPING=1", Receive(systemd));
    }

    [Fact]
    public void Send_NobodyListening_ReturnsFalseWithoutThrowing()
    {
        using var notify = new SdNotify(Path.Combine(_dir, "nobody"));
        Assert.False(notify.Ready("x"));
        Assert.NotNull(notify.LastError);
    }

    [Fact]
    public async Task Reload_WithNotifier_ReloadingThenReadyEvenWhenTheFileIsBad()
    {
        string path = Path.Combine(_dir, "notify");
        using var systemd = Listen(path);
        using var notify = new SdNotify(path);
        await using var api = await ApiFixture.StartAsync();
        string bad = Path.Combine(_dir, "bad.json");
        await File.WriteAllTextAsync(bad, "{");

        Assert.False(await RunCommand.ReloadAsync(api.Control, bad, new ListLogger(), notify));

        Assert.StartsWith("RELOADING=1\n", Receive(systemd), StringComparison.Ordinal);
        Assert.StartsWith("READY=1\nSTATUS=forwarding; configuration generation 1", Receive(systemd), StringComparison.Ordinal);
    }
}
