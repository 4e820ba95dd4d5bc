namespace UserLB.Engine.Config;

/// <summary>How a farm forwards traffic to its backends (nftlb <c>mode</c>).</summary>
public enum FarmMode
{
    /// <summary><c>snat</c>: destination NAT to the backend and source NAT to the LB (default).</summary>
    Snat,

    /// <summary><c>dnat</c>: destination NAT only; the LB must be the backends' gateway.</summary>
    Dnat,

    /// <summary><c>dsr</c>: direct server return (MAC rewrite, no NAT).</summary>
    Dsr,

    /// <summary><c>stlsdnat</c>: stateless destination NAT.</summary>
    StlsDnat,

    /// <summary><c>local</c>: traffic terminates on the LB itself (filtering only).</summary>
    Local,
}

/// <summary>Address family of a farm (nftlb <c>family</c>).</summary>
public enum AddressFamilyKind
{
    /// <summary><c>ipv4</c> (default).</summary>
    Ipv4,

    /// <summary><c>ipv6</c>.</summary>
    Ipv6,

    /// <summary><c>inet</c>: IPv4 and IPv6 addresses may both be used.</summary>
    Inet,
}

/// <summary>Transport protocol a farm listens for (nftlb <c>protocol</c>).</summary>
public enum FarmProtocol
{
    /// <summary><c>tcp</c> (default).</summary>
    Tcp,

    /// <summary><c>udp</c>.</summary>
    Udp,

    /// <summary><c>sctp</c>.</summary>
    Sctp,

    /// <summary><c>all</c>: any protocol.</summary>
    All,
}

/// <summary>Backend selection algorithm (nftlb <c>scheduler</c>).</summary>
public enum SchedulerKind
{
    /// <summary><c>rr</c>: round robin (default).</summary>
    RoundRobin,

    /// <summary><c>weight</c>: random, proportional to backend weights.</summary>
    Weight,

    /// <summary><c>hash</c>: hash of the <c>sched-param</c> fields.</summary>
    Hash,

    /// <summary><c>symhash</c>: symmetric hash (same result for both directions).</summary>
    SymHash,
}

/// <summary>Packet fields used for hashing (<c>sched-param</c>) or persistence (<c>persistence</c>).</summary>
[Flags]
public enum HashFields
{
    /// <summary><c>none</c>.</summary>
    None = 0,

    /// <summary><c>srcip</c>.</summary>
    SrcIp = 1,

    /// <summary><c>dstip</c>.</summary>
    DstIp = 2,

    /// <summary><c>srcport</c>.</summary>
    SrcPort = 4,

    /// <summary><c>dstport</c>.</summary>
    DstPort = 8,

    /// <summary><c>srcmac</c>.</summary>
    SrcMac = 16,

    /// <summary><c>dstmac</c>.</summary>
    DstMac = 32,
}

/// <summary>Administrative state of a farm or backend (nftlb <c>state</c>).</summary>
public enum ObjectState
{
    /// <summary><c>up</c>: in service (default).</summary>
    Up,

    /// <summary><c>down</c>: out of service (e.g. failed health check).</summary>
    Down,

    /// <summary><c>off</c>: maintenance; existing connections are kept, no new ones.</summary>
    Off,
}

/// <summary>Where a farm logs new connections (nftlb <c>log</c>: <c>none</c> or any of <c>input forward output</c>).</summary>
[Flags]
public enum LogTargets
{
    /// <summary><c>none</c> (default).</summary>
    None = 0,

    /// <summary><c>input</c>.</summary>
    Input = 1,

    /// <summary><c>forward</c>.</summary>
    Forward = 2,

    /// <summary><c>output</c>.</summary>
    Output = 4,
}

/// <summary>The nftlb <c>action</c> key of a farm, backend or session in an upsert document.</summary>
public enum ConfigAction
{
    /// <summary><c>none</c>.</summary>
    None,

    /// <summary><c>start</c>.</summary>
    Start,

    /// <summary><c>stop</c>.</summary>
    Stop,

    /// <summary><c>reload</c>.</summary>
    Reload,

    /// <summary><c>delete</c>: <see cref="ConfigParser.Apply"/> removes the object.</summary>
    Delete,

    /// <summary><c>flush</c>.</summary>
    Flush,
}
