using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using UserLB.Cli.Api;
using UserLB.Cli.Service;
using UserLB.Engine;
using UserLB.Engine.Config;
using UserLB.Engine.Farms;
using UserLB.IO.Health;
using UserLB.IO.Live;
using UserLB.IO.Live.Receivers;
using UserLB.IO.Routes;
using UserLB.Packets;

namespace UserLB.Cli.Commands;

internal static partial class RunCommand
{
    public const string Usage = """
        usage: userlb run --config FARMS.json [--engine afpacket|pcap|tap] [--workers N] [--seed N] [--max-conns N]
                          [--api ADDR:PORT|off] [--key KEY] [--status-file PATH] [--state-file PATH] [--busy-poll USEC]
                          [--new-flow-budget N [--new-flow-burst B]] [--gateway ADDR] [--iface IF[,IF...]] [--key-file PATH]
                          [--host ADDR] [--port PORT] [--log LEVEL] [--log-output OUTPUT]

        Forwards live until Ctrl-C or SIGTERM. Each farm's iface (client side) and oface (backend side, default: iface)
        name the interfaces the engine owns; it answers ARP/NDP for the VIPs on them (not for dsr farms' VIPs, which
        their backends own: route those to this host's address). A farm without them is placed by this namespace's
        routes, followed as they change: oface where its backends are routed (behind a gateway: sent to its MAC), iface
        --iface's first, else where the VIP is routed, else oface (docs/live.md); the interfaces so found at start are
        opened (not with the tap engine, whose TAP devices sit behind the kernel's routing). A farm that cannot be
        placed (or on an interface not owned) is stored, shown by the API and logged by name with the reason; the engine
        does not run it. Keep the other VIPs off the kernel's interfaces and IP forwarding off in this host
        (namespace), so that the kernel does not answer that traffic too.
        Interfaces may keep their offloads on: partial checksums and GSO/GRO super-frames are forwarded as they came.
          --engine     afpacket (default: raw AF_PACKET sockets with memory-mapped rings and virtio-net headers, the
                       fastest), pcap (libpcap via SharpPcap; offloads done in software) or tap (iface/oface name TAP
                       devices, attached or created through /dev/net/tun; the kernel routes the VIPs into them)
          --workers N  forwarding threads, 1 to 64 (default 1): each owns the connections of its share of the clients'
                       ports in its own table (an equal share of --max-conns); persistence and limits are shared by all.
                       With one, the receive threads run the engine themselves (no hand-off per packet); with more,
                       they hand frames to the workers through bounded channels (full: counted drops)
          --busy-poll USEC   afpacket: the receive thread keeps checking the rings after the last frame before it
                       sleeps, at most USEC microseconds (default 0: never; ≤ 100000), while it receives alone and a CPU
                       is spare: lower request latency for a CPU spent polling (userlb stats shows how long it polled)
          --seed N     repeatable random choices
          --max-conns  connection table size (default 262144)
          --new-flow-budget N  at most N new connections a second over all workers (default: no budget); a packet that
                       would start one beyond it is dropped before scheduling (drop reason new_flow_budget), so a flood
                       of SYNs costs little; packets of tracked connections never count. --new-flow-burst B: the
                       bucket, in connections (default: one second's worth)
          --status-file PATH  rewrite PATH every second with counters and the connection table (conntrack -L format)
          --state-file PATH   save the connection table to PATH on a clean stop (SIGTERM, Ctrl-C) and load it at start,
                              so that connections survive a restart with the same configuration (JSON lines)
          --gateway ADDR      dsr farms' "tunnel": "ipip" backends: the router their IP-in-IP packets go through
                              (default: none, the backends are resolved by ARP/NDP on the link)
          --api ADDR:PORT     the REST control API (nftlb's: /farms ...), default 127.0.0.1:5555; off: none
          --host ADDR, --port PORT   nftlb's way to give the API's address (instead of --api; defaults 127.0.0.1, 5555)
          --log LEVEL         log from syslog level LEVEL up: 0-2 critical, 3 error, 4 warning, 5-6 information (default), 7 debug
          --log-output OUTPUT 0 syslog (/dev/log), 1 stdout (default), 2 stderr, 3 syslog+stdout, 4 syslog+stderr
          --key KEY           the API key (header "Key: KEY"); default: --key-file, else $USERLB_KEY, else $NFTLB_SERVER_KEY
                              (nftlb's; empty is ignored), else generated and printed at start
          --key-file PATH     the API key from the first line of PATH (it does not show in ps)
          --iface IF,...      interfaces to own besides the farms' ones (and those routed to); a farm without iface
                              runs on the first. "routed" stands for every interface with a route in this namespace's
                              main table (Ethernet ones; not lo, not IPv6 link-local alone), for farms the API adds
                              later without iface
        Health checks ("health-check" on a farm or backend) run from this host's stack and mark backends down and up.
        nftlb's short names work too: -c (--config), -k (--key), -H (--host), -P (--port), -l (--log), -L (--log-output).
        SIGHUP reads FARMS.json again and makes it the running configuration (farms no longer in it are removed,
        unchanged farms keep their connections; a bad file changes nothing and the log says why). Under systemd
        (Type=notify) it reports READY=1, RELOADING=1 and STOPPING=1 to $NOTIFY_SOCKET (docs/service.md).
        """;

    private static string? NonEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    /// <summary>The key in <paramref name="path"/> (its first line), so that it never shows in <c>ps</c>.</summary>
    private static string? KeyFromFile(string? path)
    {
        if (path is null) return null;
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"option --key-file: cannot read \"{path}\": {ex.Message}");
        }
        string key = text.Split('\n')[0].Trim();
        return key.Length > 0 ? key : throw new UsageException($"option --key-file: \"{path}\" holds no key");
    }

    /// <summary>Options removed from <c>userlb run</c> (experiments; README's changelog), with what replaced them.</summary>
    private static readonly (string Name, string Instead)[] Removed =
    [
        ("rings", "afpacket always uses its rings"),
        ("dispatch", "one worker runs inline, several through queues"),
        ("rx-threads", "afpacket adds a receive thread per interface while one is saturated"),
    ];

    public static int Run(string[] argv)
    {
        var args = new Args(argv, ["config", "engine", "rings", "workers", "seed", "max-conns", "status-file", "api", "key", "state-file", "dispatch", "rx-threads", "busy-poll", "new-flow-budget", "new-flow-burst", "iface", "key-file", .. DaemonOptions.Valued], [], DaemonOptions.Aliases);
        if (args.Help) { Console.Out.WriteLine(Usage); return 0; }
        foreach (var (name, instead) in Removed)
            if (args.Get(name) is not null) throw new UsageException($"option --{name} was removed: {instead} (see the README's changelog)");
        int workers = ParseWorkers(args);
        string configPath = args.Require("config");
        string engineKind = args.Get("engine") ?? "afpacket";
        if (engineKind is not ("pcap" or "afpacket" or "tap")) throw new UsageException($"option --engine: \"{engineKind}\" is not afpacket, pcap or tap");
        long busyPollNs = ParseBusyPoll(args, engineKind, workers);
        args.TryGetInt("seed", out int? seed);
        args.TryGetInt("max-conns", out int? maxConns);
        var (budget, burst) = ParseBudget(args, workers);
        var apiListen = DaemonOptions.Listen(args, out string apiText);
        var logOutput = LogOutput.Parse(args.Get("log"), args.Get("log-output"));
        string? key = args.Get("key") ?? KeyFromFile(args.Get("key-file")) ?? Environment.GetEnvironmentVariable("USERLB_KEY")
            ?? NonEmpty(Environment.GetEnvironmentVariable("NFTLB_SERVER_KEY"));
        if (key is { Length: 0 }) throw new UsageException("option --key: the key cannot be empty");
        IpAddr? gateway = args.Get("gateway") is { } gw
            ? System.Net.IPAddress.TryParse(gw, out var g) ? IpAddr.FromIPAddress(g) : throw new UsageException($"option --gateway: \"{gw}\" is not an IP address")
            : null;
        var file = ConfigLoader.LoadFile(configPath); // after the options: a bad option is reported before any file is read
        var config = file.Config;
        var objects = file.Objects(); // the API's objects, stored farms included: their errors before any port is opened

        using var loggerFactory = LoggerFactory.Create(b => logOutput.Configure(b));
        var log = loggerFactory.CreateLogger("userlb");
        using var routes = RouteWatcher.Open(log); // farms without iface or oface are placed by route
        var (names, defaultIface) = RunRoutes.Opened(args.Get("iface"), config, routes.Current, engineKind);
        bool byRoute = engineKind != "tap"; // a TAP device sits behind the kernel's routing: farms name it
        if (engineKind != "tap") // a missing TAP device is created
            foreach (var n in names) Interfaces.MacOf(n); // clear error for a missing interface before opening anything

        var ports = new IPortIo[names.Count];
        try
        {
            for (int i = 0; i < names.Count; i++)
            {
                ports[i] = engineKind switch
                {
                    "afpacket" => new AfPacketPort(names[i]),
                    "tap" => new TapPort(names[i]),
                    _ => new PcapPort(names[i]),
                };
            }
        }
        catch
        {
            foreach (var p in ports) p?.Dispose();
            throw;
        }

        foreach (var p in ports)
            if (p is AfPacketPort { HandshakeRingUnavailable: { } why }) Log.NoHandshakeRing(log, p.Name, why);
        var macs = new MacAddress[ports.Length];
        for (int i = 0; i < ports.Length; i++) macs[i] = ports[i].Mac;
        var mtus = new int[ports.Length];
        for (int i = 0; i < ports.Length; i++) mtus[i] = engineKind == "tap" ? 1500 : Interfaces.MtuOf(names[i]);
        var options = new EngineOptions
        {
            Seed = seed,
            MaxConnections = (int)(((long)(maxConns ?? 262_144) + workers - 1) / workers), // each worker's table: an equal share
            PortMacs = macs,
            PortNames = names,
            PortMtus = mtus,
            Gateway = gateway,
            ShardCount = workers,
            NewFlowBudget = budget,
            PreallocateTable = true,
            SynProxySecret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), // one for every worker
            NewFlowBurst = burst,
            // One worker keeps its persistence and limits to itself, with no lock.
            Shared = workers > 1 ? new SharedFlowState(seed: seed) : null,
        };
        // One worker runs inline (afpacket: the polled receiver, the others a thread per interface), several through queues.
        using var forwarder = new LiveForwarder(ports, (sink, shard) => new PacketEngine(options with { ShardIndex = shard, Seed = seed + shard }, sink), workers,
            polling: busyPollNs > 0 ? new PollOptions { BusyPollNs = busyPollNs } : null);
        if (args.Get("status-file") is { } statusPath)
        {
            var status = new StatusFile(statusPath, workers, () => forwarder.QueueDrops);
            forwarder.Periodic = status.OnPeriodic;
        }
        forwarder.InvokeAllAsync((e, _) =>
        {
            e.OffloadDetected += reason => Log.Offload(log, reason.Name());
            return true;
        }).GetAwaiter().GetResult();
        var health = new HealthMonitor(new SocketHealthProbe(), TimeProvider.System, loggerFactory.CreateLogger("userlb.health"));
        using var control = new ControlPlane(forwarder, config, names, health, log, defaultIface, byRoute ? () => routes.Current : null, objects);
        health.ConfigSource = () => control.Config;
        health.OnChange = control.OnHealthChangeAsync;
        control.StartAsync().GetAwaiter().GetResult();
        using var gateways = byRoute ? RunRoutes.Follow(routes, control, log) : null;
        string? statePath = args.Get("state-file");
        if (statePath is not null) RunState.Load(statePath, forwarder, log);

        using var stop = new ManualResetEventSlim();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
        using var notify = SdNotify.FromEnvironment();
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true;
            _ = Task.Run(() => ReloadAsync(control, configPath, log, notify)); // changes are serialized by the control plane
        });
        forwarder.Start();
        using var stopHealth = new CancellationTokenSource();
        var healthTask = Task.Run(() => health.RunAsync(stopHealth.Token));
        ApiHost? api = null;
        try
        {
            if (apiListen is not null)
            {
                if (key is null)
                {
                    key = ApiHost.NewKey();
                    Console.Out.WriteLine($"userlb: API key: {key} (generated; choose one with --key or USERLB_KEY)");
                }
                api = ApiHost.Create(control, apiListen, key, b => logOutput.Configure(b, LogLevel.Warning));
                try
                {
                    api.StartAsync().GetAwaiter().GetResult();
                }
                catch (IOException ex)
                {
                    throw new InvalidOperationException($"the API cannot listen on {apiText}: {ex.Message} (choose another with --api ADDR:PORT, or --api off)", ex);
                }
                string listening = api.Address.ToString();
                Log.ApiListening(log, listening);
            }
            string interfaces = string.Join(", ", names);
            string dispatchName = forwarder.Receiver.Description;
            Log.Started(log, engineKind, interfaces, config.Farms.Length, forwarder.WorkerCount, dispatchName);
            notify?.Ready($"forwarding on {interfaces}");
            stop.Wait();
        }
        finally
        {
            notify?.Stopping();
            if (api is not null)
            {
                api.StopAsync().GetAwaiter().GetResult();
                api.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            routes.Dispose(); // no re-placement while stopping
            gateways?.Dispose();
            stopHealth.Cancel();
            healthTask.Wait(TimeSpan.FromSeconds(5));
            forwarder.Stop();
        }
        if (statePath is not null) RunState.Save(statePath, forwarder, log);
        var c = new EngineCounters();
        foreach (var part in forwarder.InvokeAllAsync((e, _) => e.Counters).GetAwaiter().GetResult()) c.Add(part);
        Log.Stopped(log, c.RxFrames, c.Forwarded, c.Consumed, c.Dropped, c.NewFlows, forwarder.QueueDrops);
        return 0;
    }

    /// <summary>
    /// --busy-poll, in ns: with afpacket and one worker (the polled receiver: one thread receives from every ring, joined
    /// by a thread per interface while it is saturated, <see cref="ReceiveThreadPolicy"/>) it polls the rings up to USEC
    /// after the last frame; other engines and several workers cannot poll. perf/RESULTS.md has the measurements.
    /// </summary>
    internal static long ParseBusyPoll(Args args, string engineKind, int workers)
    {
        ArgumentNullException.ThrowIfNull(args);
        bool canPoll = engineKind == "afpacket" && workers == 1;
        long busyPollNs = 0;
        if (args.TryGetInt("busy-poll", out int? usec))
        {
            if (usec is < 0 or > 100_000) throw new UsageException($"option --busy-poll: {usec} is not between 0 and 100000 microseconds");
            busyPollNs = usec!.Value * 1000L;
        }
        if (busyPollNs > 0 && !canPoll)
            throw new UsageException("option --busy-poll: polls afpacket's rings from the one receive thread (--engine afpacket, one worker)");
        return busyPollNs;
    }

    /// <summary>--new-flow-budget N and --new-flow-burst B, as each worker's share (rounded up): (0, 0) without a budget.</summary>
    internal static (int Budget, int Burst) ParseBudget(Args args, int workers)
    {
        ArgumentNullException.ThrowIfNull(args);
        args.TryGetInt("new-flow-budget", out int? budget);
        args.TryGetInt("new-flow-burst", out int? burst);
        if (budget is < 1) throw new UsageException($"option --new-flow-budget: {budget} is not a positive number of connections a second");
        if (burst is < 1) throw new UsageException($"option --new-flow-burst: {burst} is not a positive number of connections");
        if (burst is not null && budget is null) throw new UsageException("option --new-flow-burst: needs --new-flow-budget");
        static int Share(int? n, int workers) => n is { } v ? (int)(((long)v + workers - 1) / workers) : 0;
        return (Share(budget, workers), Share(burst, workers));
    }

    /// <summary>--workers: 1 (default) to <see cref="LiveForwarder.MaxWorkers"/>.</summary>
    internal static int ParseWorkers(Args args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (!args.TryGetInt("workers", out int? n)) return 1;
        if (n is < 1 or > LiveForwarder.MaxWorkers)
            throw new UsageException($"option --workers: {n} is not between 1 and {LiveForwarder.MaxWorkers} (forwarding threads; 1 = one thread, as without the option)");
        return n.Value;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "control API on {Address} (header Key required)")]
        public static partial void ApiListening(ILogger logger, string address);

        [LoggerMessage(Level = LogLevel.Information, Message = "forwarding with the {Engine} engine on {Interfaces}: {Farms} farm(s), {Workers} worker(s), {Dispatch}")]
        public static partial void Started(ILogger logger, string engine, string interfaces, int farms, int workers, string dispatch);

        [LoggerMessage(Level = LogLevel.Information, Message = "stopped: {Rx} frames received, {Forwarded} forwarded, {Answered} handled by the LB (ARP/NDP/echo), {Dropped} dropped; {Flows} connections; {QueueDrops} queue drops")]
        public static partial void Stopped(ILogger logger, long rx, long forwarded, long answered, long dropped, long flows, long queueDrops);

        [LoggerMessage(Level = LogLevel.Warning, Message = "frames with offloads dropped ({Reason}): super-frames or partial checksums that came without their virtio-net header could not be forwarded")]
        public static partial void Offload(ILogger logger, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: no handshake ring ({Why}); TCP SYNs share the receive ring with established flows, so a SYN flood can delay them")]
        public static partial void NoHandshakeRing(ILogger logger, string port, string why);
    }
}
