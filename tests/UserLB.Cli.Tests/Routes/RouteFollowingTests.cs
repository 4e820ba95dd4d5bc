using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using UserLB.Cli.Api;
using UserLB.Cli.Tests.Api;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.L2;
using UserLB.IO.Live;
using UserLB.IO.Routes;
using UserLB.IO.Tests.Live;
using UserLB.Packets;
using static UserLB.IO.Tests.Routes.TestRoutes;

namespace UserLB.Cli.Tests.Routes;

/// <summary>
/// The control plane over two in-memory ports (m0, m1) with a routing table the test changes: a farm without iface or
/// oface runs where the routes say, and moves or stops when they change.
/// </summary>
public sealed class RouteFollowingTests : IAsyncDisposable
{
    private const string Farm = """
        {"farms":[{"name":"web","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private readonly MemoryPort _m0 = new("m0"), _m1 = new("m1");
    private readonly LiveForwarder _forwarder;
    private readonly ControlPlane _control;
    private RouteTable _routes = new([R("192.168.101.0/24", "m0"), R("192.168.1.0/24", "m1")]);

    public RouteFollowingTests()
    {
        _forwarder = new LiveForwarder([_m0, _m1], sink => new PacketEngine(new EngineOptions { Seed = 1, PortNames = ["m0", "m1"] }, sink));
        _control = new ControlPlane(_forwarder, ConfigParser.Parse(Farm), ["m0", "m1"], null, NullLogger.Instance, routes: () => _routes);
    }

    private async Task<(string? Iface, string? Oface)> RunningAsync() =>
        await _forwarder.InvokeAsync((e, _) => e.Snapshot.FindFarmByName("web") is { } f ? (f.Config.Iface, f.Config.Oface ?? f.Config.Iface) : (null, null));

    [Fact]
    public async Task Start_FarmWithoutIface_PlacedOnRoutedInterfacesAndSolicitsBackendThere()
    {
        await _control.StartAsync();
        _forwarder.Start();
        Assert.Equal(("m0", "m1"), await RunningAsync());
        Assert.Empty(_control.Unplaced);

        _m0.Incoming.Add(ApiTraffic.Tcp(40000, syn: true));
        await WaitAsync(() => _m1.Sent.Any(IsArpRequest)); // the backend is resolved on the backend side
        Assert.DoesNotContain(_m0.Sent, IsArpRequest);
    }

    [Fact]
    public async Task RoutesChanged_BackendsElsewhereThenSplitThenBack_MovesUnplacesPlacesAgain()
    {
        await _control.StartAsync();
        long generation = _control.Generation;

        _routes = new([R("192.168.101.0/24", "m0"), R("192.168.1.0/24", "m0")]);
        await _control.RoutesChangedAsync();
        Assert.Equal(("m0", "m0"), await RunningAsync());
        Assert.True(_control.Generation > generation);

        _routes = new([R("192.168.101.0/24", "m0"), R("192.168.1.10/32", "m0"), R("192.168.1.0/24", "m1")]);
        await _control.RoutesChangedAsync();
        Assert.Equal((null, null), await RunningAsync());
        Assert.Equal("backends are routed out of different interfaces: m0 (bck0); m1 (bck1)", _control.Unplaced["web"]);
        Assert.Contains(_control.Objects.Farms, f => f.Name == "web"); // still stored

        _routes = new([R("192.168.101.0/24", "m0")]); // `ip route del 192.168.1.0/24`
        await _control.RoutesChangedAsync();
        Assert.StartsWith("no route to backend bck0 (192.168.1.10), bck1 (192.168.1.11)", _control.Unplaced["web"], StringComparison.Ordinal);

        _routes = new([R("192.168.101.0/24", "m0"), R("192.168.1.0/24", "m1")]);
        await _control.RoutesChangedAsync();
        Assert.Equal(("m0", "m1"), await RunningAsync());
        Assert.Empty(_control.Unplaced);
    }

    [Fact]
    public async Task RoutesChanged_FarmMoved_BackendResolvedAgainOnNewInterface()
    {
        await _control.StartAsync();
        _forwarder.Start();
        _m0.Incoming.Add(ApiTraffic.Tcp(40000, syn: true));
        await WaitAsync(() => _m1.Sent.Any(IsArpRequest));
        var reply = new byte[64];
        int n = NeighborMessages.WriteArp(reply, NeighborMessages.ArpReply, EngineOptions.DefaultMac, MacAddress.Parse("02:00:00:00:01:10"),
            IpAddr.Parse("192.168.1.10").V4, EngineOptions.DefaultMac, IpAddr.Parse("192.168.1.1").V4);
        _m1.Incoming.Add(reply[..n]);
        var backend = IpAddr.Parse("192.168.1.10");
        await WaitAsync(async () => await _forwarder.InvokeAsync((e, now) => e.Neighbors.TryGet(backend, out var mac, out int port) && port == 1 && !mac.IsZero));

        _routes = new([R("192.168.101.0/24", "m0"), R("192.168.1.0/24", "m0")]); // the backends are now on the clients' link
        await _control.RoutesChangedAsync();
        Assert.False(await _forwarder.InvokeAsync((e, _) => e.Neighbors.Contains(backend))); // learned on m1: forgotten
        _m0.Incoming.Add(ApiTraffic.Tcp(40001, syn: true));
        await WaitAsync(() => _m0.Sent.Any(IsArpRequest)); // resolved again where the route now leads
    }

    private static async Task WaitAsync(Func<bool> done) => await WaitAsync(() => Task.FromResult(done()));

    private static async Task WaitAsync(Func<Task<bool>> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the engine did not get there");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task RoutesChanged_NothingMoved_NoNewGeneration()
    {
        await _control.StartAsync();
        long generation = _control.Generation;
        _routes = new([R("192.168.101.0/24", "m0"), R("192.168.1.0/24", "m1"), R("10.0.0.0/8", "m1")]);
        await _control.RoutesChangedAsync();
        Assert.Equal(generation, _control.Generation); // the farm's text did not change: the engines keep their snapshot
    }

    private static bool IsArpRequest(byte[] frame) =>
        frame.Length >= 42 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) == 0x0806 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(20)) == 1
        && frame.AsSpan(38, 4).SequenceEqual(new byte[] { 192, 168, 1, 10 });

    public async ValueTask DisposeAsync()
    {
        await Task.Yield();
        _forwarder.Dispose();
        _control.Dispose();
    }
}
