using System.Collections.Frozen;
using System.Collections.Immutable;
using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Packets;

namespace UserLB.Engine.Farms;

/// <summary>A farm as the data path sees it: immutable except for its scheduler's round-robin position.</summary>
public sealed class FarmRuntime
{
    public required int Id { get; init; }
    public required FarmConfig Config { get; init; }
    public required IpAddr VirtualAddress { get; init; }
    /// <summary>Source address for SNAT (NAT mode): source-addr, else the VIP.</summary>
    public required IpAddr SnatAddress { get; init; }
    public required bool SourceNat { get; init; }
    /// <summary><c>"synproxy": "on"</c> (UserLB's extension): TCP handshakes are answered with SYN cookies and relayed to a
    /// backend only once the client's ACK proves its address (PacketEngine.SynProxy.cs).</summary>
    public bool SynProxy { get; init; }
    public required ImmutableArray<BackendRuntime> Backends { get; init; }
    /// <summary>Backends that may take new flows: available, weight &gt; 0, priority ≤ <see cref="Level"/>. The scheduler indexes this.</summary>
    public required ImmutableArray<BackendRuntime> Candidates { get; init; }
    public required int Level { get; init; }
    public required IScheduler Scheduler { get; init; }
    public required PortRange[] Ports { get; init; }
    /// <summary>Static sessions (nftlb <c>sessions</c>): a client's key over <see cref="SessionFields"/> → its backend id.</summary>
    public FrozenDictionary<ulong, int> StaticSessions { get; init; } = FrozenDictionary<ulong, int>.Empty;
    /// <summary>The fields that name a client in sessions: the farm's persistence, else the source address.</summary>
    public HashFields SessionFields => Config.Persistence == HashFields.None ? HashFields.SrcIp : Config.Persistence;

    public string Name => Config.Name;
    /// <summary>The farm's <c>mode</c>: NAT (snat, dnat), direct server return (dsr) or stateless DNAT (stlsdnat).</summary>
    public FarmMode Mode => Config.Mode;
    public bool IsUp => Config.State == ObjectState.Up;

    public bool MatchesProtocol(byte protocol) => Config.Protocol switch
    {
        FarmProtocol.Tcp => protocol == IpProtocols.Tcp,
        FarmProtocol.Udp => protocol == IpProtocols.Udp,
        FarmProtocol.Sctp => protocol == IpProtocols.Sctp,
        FarmProtocol.All => protocol is IpProtocols.Tcp or IpProtocols.Udp or IpProtocols.Sctp,
        _ => false,
    };

    public bool MatchesPort(ushort port)
    {
        var ports = Ports;
        if (ports.Length == 0) return true;
        for (int i = 0; i < ports.Length; i++)
            if (port >= ports[i].First && port <= ports[i].Last) return true;
        return false;
    }

    /// <summary>nftlb's priority level: 1 + the unavailable backends at or below the level, iterated to a fixed point.</summary>
    public static int ComputeLevel(IReadOnlyList<(int Priority, bool Available)> backends)
    {
        int level = 1;
        for (int round = 0; round <= backends.Count; round++)
        {
            int down = 0;
            foreach (var (priority, available) in backends)
                if (priority <= level && !available) down++;
            int next = 1 + down;
            if (next == level) break;
            level = next;
        }
        return level;
    }
}
