using UserLB.Engine.Config;
using UserLB.Packets;

namespace UserLB.Engine.Farms;

/// <summary>A backend as the data path sees it: immutable, part of one snapshot.</summary>
public sealed class BackendRuntime
{
    public required int Id { get; init; }
    public required string Name { get; init; }
    public required int FarmId { get; init; }
    public required IpAddr Address { get; init; }
    /// <summary>0 = keep the client's destination port.</summary>
    public required ushort Port { get; init; }
    public required int Weight { get; init; }
    public required int Priority { get; init; }
    public required ObjectState State { get; init; }
    public required bool Healthy { get; init; }
    public required uint Mark { get; init; }
    /// <summary>Position in the farm's configured backend list (the N in the FARM_&lt;farm&gt;_N_ comment).</summary>
    public required int Index { get; init; }
    public IpAddr? SourceAddress { get; init; }
    /// <summary><c>ether-addr</c>: the backend's MAC for the modes that forward at layer 2 (dsr, stlsdnat); zero:
    /// resolved by ARP/NDP.</summary>
    public MacAddress EtherAddr { get; init; }
    /// <summary><c>"tunnel": "ipip"</c> (dsr): the client's packets reach the backend inside an outer IPv4 header.</summary>
    public bool Ipip { get; init; }
    /// <summary>The outer source address of <see cref="Ipip"/> packets: the backend's <c>source-addr</c>, else the farm's.</summary>
    public IpAddr TunnelSource { get; init; }
    public required BackendConfig Config { get; init; }

    /// <summary>Up and passing its health check.</summary>
    public bool Available => State == ObjectState.Up && Healthy;
}
