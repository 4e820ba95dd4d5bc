using System.Globalization;
using System.Text;
using UserLB.IO.Live;
using UserLB.Packets;

namespace UserLB.Cli.Views;

/// <summary>
/// <see cref="StatsSnapshot"/> in the Prometheus text exposition format (version 0.0.4): one family per counter or
/// gauge, with HELP and TYPE lines; farms and backends as labels. Engine-wide drops are listed for every reason (stable
/// series); per farm and backend only the reasons seen.
/// </summary>
internal static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Format(StatsSnapshot s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var w = new Writer();
        var e = s.Engine;
        w.Gauge("userlb_uptime_seconds", "Seconds since the API started.", s.UptimeSeconds);
        w.Gauge("userlb_config_generation", "Generation of the configuration in the engine (+1 per change).", s.Generation);
        w.Counter("userlb_rx_frames_total", "Frames received by the engine.", e.RxFrames);
        w.Counter("userlb_rx_bytes_total", "Bytes received by the engine.", e.RxBytes);
        w.Counter("userlb_tx_frames_total", "Frames sent by the engine (forwarded and its own ARP/NDP/ICMP).", e.TxFrames);
        w.Counter("userlb_tx_bytes_total", "Bytes sent by the engine.", e.TxBytes);
        w.Counter("userlb_forwarded_frames_total", "Received frames sent on after NAT.", e.Forwarded);
        w.Counter("userlb_answered_frames_total", "Received frames answered or absorbed by the engine (ARP, NDP, echo to a VIP).", e.Answered);
        w.Counter("userlb_connections_total", "Connections created (conntrack NEW).", e.Connections);
        w.Counter("userlb_nat_port_remaps_total", "SNAT source ports changed to avoid a clash (get_unique_tuple).", e.NatPortRemaps);
        w.Counter("userlb_nat_port_evictions_total", "Unassured connections (their client never completed a handshake) evicted because no SNAT port was free for a new connection (their port was taken).", e.NatPortEvictions);
        w.Counter("userlb_new_flow_budget_retries_total", "Packets over the new-flow budget admitted because their tuple was dropped a moment before (a client's retry).", e.NewFlowBudgetRetries);
        w.Counter("userlb_synproxy_syns_total", "SYNs the SYN proxy answered with a cookie SYN-ACK (no state kept).", e.SynProxy.SynsAnswered);
        w.Counter("userlb_synproxy_cookies_valid_total", "Client ACKs with a valid cookie: connections the SYN proxy opened to a backend.", e.SynProxy.CookiesValid);
        w.Counter("userlb_synproxy_retransmits_total", "SYNs the SYN proxy sent a backend again on a client's probe.", e.SynProxy.Retransmits);
        w.Counter("userlb_synproxy_handshakes_total", "Backend SYN-ACKs that completed a SYN-proxied connection.", e.SynProxy.Handshakes);
        w.Counter("userlb_icmp_errors_relayed_total", "ICMP errors about tracked connections relayed.", e.IcmpErrorsRelayed);
        w.Gauge("userlb_neighbor_pending_frames", "Frames waiting for a neighbour to answer ARP/NDP.", e.PendingNeighbor);

        w.Family("userlb_drops_total", "counter", "Received frames dropped, by reason.");
        for (int r = 1; r < (int)DropReason.Count; r++)
        {
            string name = ((DropReason)r).Name();
            w.Sample("userlb_drops_total", Labels(("reason", name)), CountOf(s.Drops, name));
        }

        w.Gauge("userlb_conntrack_entries", "Entries in the connection table.", s.Table.Entries);
        w.Gauge("userlb_conntrack_max", "Size of the connection table (nf_conntrack_max).", s.Table.Max);
        w.Counter("userlb_conntrack_early_drops_total", "Unassured entries evicted to make room (early_drop).", s.Table.EarlyDrops);
        w.Gauge("userlb_conntrack_event_subscribers", "Clients following the conntrack event stream.", s.Events.Subscribers);
        w.Counter("userlb_conntrack_events_total", "Conntrack events handed to subscribers.", s.Events.Delivered);
        w.Counter("userlb_conntrack_events_dropped_total", "Conntrack events lost to a subscriber's full buffer.", s.Events.Dropped);

        w.Gauge("userlb_queue_depth", "Frames waiting in the receive queue for the engine's worker.", s.Queue.Depth);
        w.Gauge("userlb_queue_capacity", "Capacity of the receive queue.", s.Queue.Capacity);
        w.Counter("userlb_queue_drops_total", "Frames dropped because the receive queue was full.", s.Queue.Drops);
        w.Counter("userlb_oversize_frames_total", "Frames that filled the receive buffer (possibly truncated).", s.Queue.Oversize);
        w.Family("userlb_port_kernel_drops_total", "counter", "Frames the kernel dropped before userlb read them (a full receive ring: tp_drops / ps_drop), by port.");
        foreach (var p in s.Queue.Ports) w.Sample("userlb_port_kernel_drops_total", Labels(("port", p.Port)), p.KernelDrops);
        w.Family("userlb_port_handshake_drops_total", "counter", "TCP SYNs the kernel dropped because the port's handshake ring was full (a SYN flood; afpacket), by port.");
        foreach (var p in s.Queue.Ports) w.Sample("userlb_port_handshake_drops_total", Labels(("port", p.Port)), p.HandshakeDrops);
        w.Family("userlb_port_tx_drops_total", "counter", "Frames that could not be sent (the transmit ring stayed full, or the send failed), by port.");
        foreach (var p in s.Queue.Ports) w.Sample("userlb_port_tx_drops_total", Labels(("port", p.Port)), p.TxDrops);
        w.Family("userlb_port_rx_truncated_total", "counter", "Received super-frames cut short (the kernel's copy queue was full), by port.");
        foreach (var p in s.Queue.Ports) w.Sample("userlb_port_rx_truncated_total", Labels(("port", p.Port)), p.RxTruncated);
        w.Family("userlb_workers", "gauge", "Forwarding workers (engines); dispatch=\"inline\" when the receive threads run the engine.");
        w.Sample("userlb_workers", Labels(("dispatch", s.Queue.Dispatch)), s.Queue.Workers);
        if (s.Queue.Receive is { } receive)
        {
            w.Gauge("userlb_busy_poll_seconds", "The most the one receive thread keeps polling the rings after the last frame (--busy-poll).", receive.BusyPollUs / 1e6);
            w.Gauge("userlb_busy_poll_window_seconds", "How long it keeps polling now: the adaptive window, twice the recent short gaps between frames.", receive.WindowUs / 1e6);
            w.Counter("userlb_busy_poll_polled_seconds_total", "Time the one receive thread spent polling empty rings (--busy-poll): the CPU busy polling costs.", receive.PolledSeconds);
            w.Counter("userlb_busy_poll_held_back_total", "20 ms windows in which the polling thread did not poll because it had waited for a CPU itself (the CPUs were all taken).", receive.HeldBack);
            w.Counter("userlb_rx_sleeps_total", "Times the one receive thread slept in poll() (each idle 5 ms counts once).", receive.Sleeps);
            if (receive.Threads == "auto")
            {
                w.Gauge("userlb_rx_threads_engaged", "--rx-threads auto: 1 while a thread per interface receives beside the one thread (it was saturated).", receive.Engaged ? 1 : 0);
                w.Counter("userlb_rx_threads_engagements_total", "--rx-threads auto: times a thread per interface was engaged.", receive.Engagements);
            }
        }

        w.Family("userlb_farm_up", "gauge", "1 when the farm's state is up.");
        foreach (var f in s.Farms) w.Sample("userlb_farm_up", Labels(("farm", f.Name)), f.State == "up" ? 1 : 0);
        w.Family("userlb_farm_priority_level", "gauge", "The farm's priority level (1 + unavailable backends at lower priorities).");
        foreach (var f in s.Farms) w.Sample("userlb_farm_priority_level", Labels(("farm", f.Name)), f.Level);
        w.Family("userlb_farm_active_connections", "gauge", "The farm's connections in the table.");
        foreach (var f in s.Farms) w.Sample("userlb_farm_active_connections", Labels(("farm", f.Name)), f.Active);
        w.Family("userlb_farm_connections_total", "counter", "The farm's connections created.");
        foreach (var f in s.Farms) w.Sample("userlb_farm_connections_total", Labels(("farm", f.Name)), f.Connections);
        w.Family("userlb_farm_packets_total", "counter", "Packets of the farm's connections, both directions.");
        foreach (var f in s.Farms) w.Sample("userlb_farm_packets_total", Labels(("farm", f.Name)), f.Packets);
        w.Family("userlb_farm_bytes_total", "counter", "IP bytes of the farm's connections, both directions.");
        foreach (var f in s.Farms) w.Sample("userlb_farm_bytes_total", Labels(("farm", f.Name)), f.Bytes);
        w.Family("userlb_farm_drops_total", "counter", "The farm's dropped packets, by reason.");
        foreach (var f in s.Farms)
        {
            for (int r = 1; r < (int)DropReason.Count; r++)
            {
                string name = ((DropReason)r).Name();
                w.Sample("userlb_farm_drops_total", Labels(("farm", f.Name), ("reason", name)), CountOf(f.DropReasons, name));
            }
        }

        w.Family("userlb_policy_packets_total", "counter", "Client packets from a source the policy holds (dropped by a blacklist, let past the later policies by a whitelist), by policy.");
        foreach (var p in s.Policies ?? []) w.Sample("userlb_policy_packets_total", Labels(("policy", p.Name), ("type", p.Type)), p.Packets);
        w.Family("userlb_policy_bytes_total", "counter", "IP bytes of those packets, by policy.");
        foreach (var p in s.Policies ?? []) w.Sample("userlb_policy_bytes_total", Labels(("policy", p.Name), ("type", p.Type)), p.Bytes);
        w.Family("userlb_policy_elements", "gauge", "Addresses, networks and ranges in the policy.");
        foreach (var p in s.Policies ?? []) w.Sample("userlb_policy_elements", Labels(("policy", p.Name), ("type", p.Type)), p.Elements);

        w.Family("userlb_backend_up", "gauge", "1 when the backend takes new connections now (state up, healthy, within the priority level, weight > 0).");
        foreach (var (f, b) in Backends(s)) w.Sample("userlb_backend_up", Labels(("farm", f.Name), ("backend", b.Name)), b.Candidate ? 1 : 0);
        w.Family("userlb_backend_healthy", "gauge", "1 when the backend passes its health check (or has none).");
        foreach (var (f, b) in Backends(s)) w.Sample("userlb_backend_healthy", Labels(("farm", f.Name), ("backend", b.Name)), b.Health == "down" ? 0 : 1);
        w.Family("userlb_backend_info", "gauge", "The backend's configured state and health check state, as labels.");
        foreach (var (f, b) in Backends(s))
            w.Sample("userlb_backend_info", Labels(("farm", f.Name), ("backend", b.Name), ("address", b.Address), ("state", b.State), ("health", b.Health)), 1);
        w.Family("userlb_backend_weight", "gauge", "The backend's configured weight.");
        foreach (var (f, b) in Backends(s)) w.Sample("userlb_backend_weight", Labels(("farm", f.Name), ("backend", b.Name)), b.Weight);
        w.Family("userlb_backend_share", "gauge", "The backend's share of the farm's new connections (0-1) as configured now.");
        foreach (var (f, b) in Backends(s)) w.Sample("userlb_backend_share", Labels(("farm", f.Name), ("backend", b.Name)), b.Share);
        w.Family("userlb_backend_active_connections", "gauge", "The backend's connections in the table.");
        foreach (var (f, b) in Backends(s)) w.Sample("userlb_backend_active_connections", Labels(("farm", f.Name), ("backend", b.Name)), b.Active);
        w.Family("userlb_backend_connections_total", "counter", "Connections given to the backend.");
        foreach (var (f, b) in Backends(s)) w.Sample("userlb_backend_connections_total", Labels(("farm", f.Name), ("backend", b.Name)), b.Connections);
        w.Family("userlb_backend_packets_total", "counter", "Packets of the backend's connections, both directions.");
        foreach (var (f, b) in Backends(s)) w.Sample("userlb_backend_packets_total", Labels(("farm", f.Name), ("backend", b.Name)), b.Packets);
        w.Family("userlb_backend_bytes_total", "counter", "IP bytes of the backend's connections, both directions.");
        foreach (var (f, b) in Backends(s)) w.Sample("userlb_backend_bytes_total", Labels(("farm", f.Name), ("backend", b.Name)), b.Bytes);
        w.Family("userlb_backend_drops_total", "counter", "The backend's dropped packets, by reason.");
        foreach (var (f, b) in Backends(s))
        {
            foreach (var d in b.DropReasons)
                w.Sample("userlb_backend_drops_total", Labels(("farm", f.Name), ("backend", b.Name), ("reason", d.Reason)), d.Count);
        }

        if (s.Queue.RxDelay is { } delay)
        {
            w.Family("userlb_rx_delay_seconds", "histogram", "Sampled wait of received frames between the kernel's receive timestamp and userlb reading them (afpacket rings), since the start.");
            long cumulative = 0;
            for (int b = 0; b < delay.Buckets.Count; b++)
            {
                cumulative += delay.Buckets[b];
                double bound = DelayHistogram.UpperBoundMicroseconds(b);
                string le = double.IsPositiveInfinity(bound) ? "+Inf" : (bound / 1e6).ToString("R", CultureInfo.InvariantCulture);
                w.Sample("userlb_rx_delay_seconds_bucket", Labels(("le", le)), cumulative);
            }
            w.Sample("userlb_rx_delay_seconds_sum", "", delay.SumSeconds);
            w.Sample("userlb_rx_delay_seconds_count", "", delay.Samples);
        }
        Process(w);
        return w.ToString();
    }

    private static long CountOf(IReadOnlyList<DropCount> drops, string reason)
    {
        foreach (var d in drops)
            if (d.Reason == reason) return d.Count;
        return 0;
    }

    private static IEnumerable<(FarmStats Farm, BackendStats Backend)> Backends(StatsSnapshot s)
    {
        foreach (var f in s.Farms)
        {
            foreach (var b in f.Backends)
                yield return (f, b);
        }
    }

    private static string Labels(params (string Name, string Value)[] labels)
    {
        var sb = new StringBuilder("{");
        for (int i = 0; i < labels.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(labels[i].Name).Append("=\"");
            foreach (char c in labels[i].Value)
            {
                switch (c)
                {
                    case '\\': sb.Append("\\\\"); break;
                    case '"': sb.Append("\\\""); break;
                    case '\n': sb.Append("\\n"); break;
                    default: sb.Append(c); break;
                }
            }
            sb.Append('"');
        }
        return sb.Append('}').ToString();
    }
    /// <summary>
    /// The process, in Prometheus' standard process_* names, and the garbage collector's work (the per-packet path
    /// allocates nothing in steady state, so these stay flat under traffic; a GC pause holds the forwarding threads).
    /// </summary>
    private static void Process(Writer w)
    {
        using (var self = System.Diagnostics.Process.GetCurrentProcess())
        {
            w.Gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.", new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1e3);
            w.Counter("process_cpu_seconds_total", "Total user and system CPU time spent, in seconds.", self.TotalProcessorTime.TotalSeconds);
            w.Gauge("process_resident_memory_bytes", "Resident memory size, in bytes.", self.WorkingSet64);
            w.Gauge("process_virtual_memory_bytes", "Virtual memory size, in bytes.", self.VirtualMemorySize64);
            w.Gauge("process_open_fds", "Open file descriptors.", OpenFds());
        }
        w.Family("userlb_gc_collections_total", "counter", "Garbage collections of the process, by generation.");
        for (int g = 0; g <= GC.MaxGeneration; g++)
            w.Sample("userlb_gc_collections_total", Labels(("generation", g.ToString(CultureInfo.InvariantCulture))), GC.CollectionCount(g));
        w.Counter("userlb_gc_pause_seconds_total", "Time the process spent paused by the garbage collector.", GC.GetTotalPauseDuration().TotalSeconds);
        w.Counter("userlb_allocated_bytes_total", "Bytes allocated by the process (all threads).", GC.GetTotalAllocatedBytes());
    }

    private static long OpenFds()
    {
        try
        {
            return Directory.GetFiles("/proc/self/fd").Length;
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private sealed class Writer
    {
        private readonly StringBuilder _sb = new(8192);

        public void Family(string name, string type, string help) =>
            _sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

        public void Counter(string name, string help, long value)
        {
            Family(name, "counter", help);
            Sample(name, "", value);
        }

        public void Counter(string name, string help, double value)
        {
            Family(name, "counter", help);
            Sample(name, "", value);
        }

        public void Gauge(string name, string help, long value)
        {
            Family(name, "gauge", help);
            Sample(name, "", value);
        }

        public void Gauge(string name, string help, double value)
        {
            Family(name, "gauge", help);
            Sample(name, "", value);
        }

        public void Sample(string name, string labels, long value) =>
            _sb.Append(name).Append(labels).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');

        public void Sample(string name, string labels, double value) =>
            _sb.Append(name).Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

        public override string ToString() => _sb.ToString();
    }
}
