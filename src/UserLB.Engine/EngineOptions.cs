using UserLB.Engine.Conntrack;
using UserLB.Packets;

namespace UserLB.Engine;

public sealed record EngineOptions
{
    /// <summary>nf_conntrack_max.</summary>
    public int MaxConnections { get; init; } = 262_144;
    /// <summary>Seed for every random choice (scheduling, hash key, NAT port search). Null = unpredictable.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Flows are sharded over this many engines by <see cref="FlowShard"/>; when SNAT must change a client's source
    /// port it picks only ports of <see cref="ShardIndex"/>'s shard, so replies come back to this engine. 1 = no sharding.
    /// </summary>
    public int ShardCount { get; init; } = 1;

    /// <summary>This engine's shard, 0 ≤ ShardIndex &lt; ShardCount.</summary>
    public int ShardIndex { get; init; }

    /// <summary>
    /// State shared by the engines of one load balancer (learned persistence, per-client limits, per-backend connection
    /// counts), needed when flows are sharded over several engines. Null = the engine's own, with no lock.
    /// </summary>
    public SharedFlowState? Shared { get; init; }

    /// <summary>Slots of the per-client limiter (new-rtlimit, est-connlimit): clients tracked at once per engine.</summary>
    public int LimiterSlots { get; init; } = 65_536;
    public ConntrackTimeoutSettings Timeouts { get; init; } = ConntrackTimeoutSettings.Default;
    /// <summary>nf_conntrack_tcp_loose: pick up TCP connections mid-stream (a farm's tcp-strict turns it off for that farm).</summary>
    public bool TcpLoose { get; init; } = true;
    /// <summary>The engine's MAC on each port (port = index). Frames it sends carry it as their source.</summary>
    public IReadOnlyList<MacAddress> PortMacs { get; init; } = [DefaultMac];
    /// <summary>Accept IP frames whatever their destination MAC (replay: the capture holds only what reached the LB).</summary>
    public bool AcceptAnyDestinationMac { get; init; }
    /// <summary>Port names (for farms' iface/oface) by port index.</summary>
    public IReadOnlyList<string> PortNames { get; init; } = [];
    /// <summary>Each port's IP MTU, by port index (1500 for a port not listed): IP-in-IP encapsulation checks against it.</summary>
    public IReadOnlyList<int> PortMtus { get; init; } = [];
    /// <summary>The next hop for IP-in-IP backends that are not on a connected network (<c>userlb run --gateway</c>); null:
    /// every such backend is resolved by ARP on the link.</summary>
    public IpAddr? Gateway { get; init; }
    /// <summary>The most an entry that is not ASSURED (TCP before its handshake completes, UDP before its reply) is given while the
    /// engine is under pressure (the table ≥ 90 % full, or a SNAT port search was crowded in the last 10 s:
    /// PacketEngine.Pressure.cs), in seconds.</summary>
    public long PressureUnassuredTimeoutSeconds { get; init; } = 5;
    /// <summary>
    /// A global budget of new flows per second (0: none): a token bucket of <see cref="NewFlowBurst"/> flows (0: one
    /// second's worth) refilled at this rate; a packet that would start a flow when it is empty is dropped before
    /// scheduling and table insertion (<c>new_flow_budget</c>), unless its tuple was dropped in the last 10 s (a client's
    /// retry: admitted). Packets of tracked flows never take that path.
    /// </summary>
    public int NewFlowBudget { get; init; }
    /// <summary>The bucket of <see cref="NewFlowBudget"/>, in flows (0: one second's worth).</summary>
    public int NewFlowBurst { get; init; }
    /// <summary>Echo replies the engine sends a second for its VIPs at most (0: no limit), in a bucket of
    /// <see cref="EchoReplyBurst"/>: an echo flood to a VIP costs a counted drop (<c>icmp_rate_limited</c>), not a reply
    /// each. The defaults are the kernel's icmp_msgs_per_sec and icmp_msgs_burst.</summary>
    public int EchoRepliesPerSecond { get; init; } = 1000;
    /// <summary>The bucket of <see cref="EchoRepliesPerSecond"/>, in replies.</summary>
    public int EchoReplyBurst { get; init; } = 50;
    /// <summary>The SYN proxy's cookie secret (32 bytes: two SipHash keys); empty: derived from the engine's seeded
    /// hash key. Engines that may see one client's SYN and ACK must share it.</summary>
    public ReadOnlyMemory<byte> SynProxySecret { get; init; }
    /// <summary>Allocate the whole connection table at start (<c>userlb run</c>): a flood then fills it without growing
    /// its arrays (copies and full garbage collections while the worker waits).</summary>
    public bool PreallocateTable { get; init; }
    /// <summary>Slots of the connection table examined per received frame by the incremental sweep.</summary>
    public int SweepPerFrame { get; init; } = 4;

    /// <summary>A locally administered address ("02:75:6c:62" = "ulb"), used when nothing better is known.</summary>
    public static readonly MacAddress DefaultMac = new(0x0275_6C62_0001UL);
}
