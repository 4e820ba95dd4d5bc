using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using UserLB.Engine;

namespace UserLB.Cli.Tests.Api;

/// <summary>Client frames for the fixture's farm (VIP 192.168.101.250:80) and a look at the engine's connection table.</summary>
internal static class ApiTraffic
{
    public const string ClientMac = "02:00:00:00:00:01";

    public static byte[] Tcp(ushort clientPort, bool syn, string client = "192.168.101.1")
    {
        var tcp = new TcpPacket(clientPort, 80) { Synchronize = syn, Acknowledgment = !syn, SequenceNumber = 1, AcknowledgmentNumber = syn ? 0u : 1u, WindowSize = 1000 };
        var ip = new IPv4Packet(IPAddress.Parse(client), IPAddress.Parse("192.168.101.250")) { TimeToLive = 64, PayloadPacket = tcp };
        var eth = new EthernetPacket(PhysicalAddress.Parse(ClientMac), PhysicalAddress.Parse(EngineOptions.DefaultMac.ToString()), EthernetType.IPv4) { PayloadPacket = ip };
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return eth.Bytes;
    }

    /// <summary>The backend (as "farm/backend") of each tracked connection of every worker, by client port.</summary>
    public static async Task<Dictionary<int, string>> ConnectionsAsync(ApiFixture api)
    {
        var parts = await api.Forwarder.InvokeAllAsync((engine, now) =>
        {
            var result = new Dictionary<int, string>();
            var snap = engine.Snapshot;
            for (int i = 0; i < engine.Table.HighWater; i++)
            {
                ref var e = ref engine.Table[i];
                if (!e.InUse) continue;
                var b = snap.Backend(e.BackendId);
                result[e.Original.SrcPort] = b is null ? "(removed)" : b.Name;
            }
            return result;
        });
        var all = new Dictionary<int, string>();
        foreach (var part in parts)
            foreach (var (port, backend) in part) all.Add(port, backend);
        return all;
    }

    /// <summary>Frames received by every worker's engine (ARP/NDP, copied to every worker, count once per worker).</summary>
    public static async Task<long> ReceivedAsync(ApiFixture api) => (await api.Forwarder.InvokeAllAsync((e, _) => e.Counters.RxFrames)).Sum();

    /// <summary>Feeds frames (no ARP/NDP) and waits until the workers have processed them all.</summary>
    public static async Task SendAsync(ApiFixture api, params byte[][] frames)
    {
        long before = await ReceivedAsync(api);
        foreach (var f in frames) api.Port.Incoming.Add(f);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await ReceivedAsync(api) < before + frames.Length)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the engine did not process the frames");
            await Task.Delay(5);
        }
    }
}
