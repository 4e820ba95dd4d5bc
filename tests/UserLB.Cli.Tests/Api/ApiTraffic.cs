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

    /// <summary>The backend (as "farm/backend") of each tracked connection, by client port.</summary>
    public static Task<Dictionary<int, string>> ConnectionsAsync(ApiFixture api) =>
        api.Forwarder.InvokeAsync((engine, now) =>
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

    /// <summary>Feeds frames and waits until the worker has processed them all.</summary>
    public static async Task SendAsync(ApiFixture api, params byte[][] frames)
    {
        long before = await api.Forwarder.InvokeAsync((e, _) => e.Counters.RxFrames);
        foreach (var f in frames) api.Port.Incoming.Add(f);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await api.Forwarder.InvokeAsync((e, _) => e.Counters.RxFrames) < before + frames.Length)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the engine did not process the frames");
            await Task.Delay(5);
        }
    }
}
