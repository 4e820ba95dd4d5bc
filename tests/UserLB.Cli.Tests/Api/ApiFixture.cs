using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using UserLB.Cli.Api;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.IO.Health;
using UserLB.IO.Live;
using UserLB.IO.Tests.Live;
using UserLB.Packets;

namespace UserLB.Cli.Tests.Api;

/// <summary>
/// A running control plane for API tests: a LiveForwarder over an in-memory port ("m0", both sides of every farm) with
/// one worker or several (engines sharing one <see cref="SharedFlowState"/>, as <c>userlb run --workers N</c> makes
/// them), the API host on 127.0.0.1 with a kernel-chosen port, and an HTTP client that sends the key.
/// </summary>
internal sealed class ApiFixture : IAsyncDisposable
{
    public const string Key = "test-key-123";
    public const string TwoBackends = """
        {"farms":[{"name":"app","virtual-addr":"192.168.101.250","virtual-ports":"80","mode":"snat","scheduler":"weight","iface":"m0",
          "backends":[{"name":"bck0","ip-addr":"192.168.1.10"},{"name":"bck1","ip-addr":"192.168.1.11"}]}]}
        """;

    private ApiFixture(MemoryPort port, LiveForwarder forwarder, ControlPlane control, HealthMonitor? health, ApiHost host, HttpClient http)
    {
        Port = port;
        Forwarder = forwarder;
        Control = control;
        Health = health;
        Host = host;
        Http = http;
    }

    public MemoryPort Port { get; }
    public LiveForwarder Forwarder { get; }
    public ControlPlane Control { get; }
    public HealthMonitor? Health { get; }
    public ApiHost Host { get; }
    /// <summary>Sends the right key.</summary>
    public HttpClient Http { get; }

    public static async Task<ApiFixture> StartAsync(string configJson = TwoBackends, IHealthProbe? probe = null, TimeProvider? time = null, int workers = 1, string? defaultIface = null, ApiLimits? limits = null)
    {
        var port = new MemoryPort("m0");
        var forwarder = workers == 1
            ? new LiveForwarder([port], sink => new PacketEngine(new EngineOptions { Seed = 1, PortNames = ["m0"] }, sink), time)
            : NewSharded(port, workers, time);
        var health = probe is null ? null : new HealthMonitor(probe, time ?? TimeProvider.System, NullLogger.Instance);
        var control = new ControlPlane(forwarder, ConfigParser.Parse(configJson), ["m0"], health, NullLogger.Instance, defaultIface);
        if (health is not null)
        {
            health.ConfigSource = () => control.Config;
            health.OnChange = control.OnHealthChangeAsync;
        }
        await control.StartAsync();
        forwarder.Start();
        var host = ApiHost.Create(control, new IPEndPoint(IPAddress.Loopback, 0), Key, limits: limits);
        await host.StartAsync();
        var http = new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Add("Key", Key);
        return new ApiFixture(port, forwarder, control, health, host, http);
    }

    private static LiveForwarder NewSharded(MemoryPort port, int workers, TimeProvider? time)
    {
        var options = new EngineOptions { Seed = 1, PortNames = ["m0"], ShardCount = workers, Shared = new SharedFlowState(seed: 1) };
        return new LiveForwarder([port], (sink, shard) => new PacketEngine(options with { ShardIndex = shard, Seed = 1 + shard }, sink), workers, time);
    }

    public Task<HttpResponseMessage> PostAsync(string path, string body) =>
        Http.PostAsync(path, new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Host.StopAsync();
        await Host.DisposeAsync();
        Forwarder.Dispose();
        Control.Dispose();
    }
}
