using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;

namespace UserLB.Engine;

/// <summary>The connection table across a restart: export every live entry, import them into a fresh engine.</summary>
public sealed partial class PacketEngine
{
    /// <summary>
    /// The live entries of the connection table, farms and backends by name, times relative to <paramref name="nowNs"/>.
    /// Entries of backends the current configuration no longer has are left out. Control plane: allocates; call on the
    /// worker thread or while it is stopped.
    /// </summary>
    public List<SavedConnection> ExportConnections(long nowNs)
    {
        var snapshot = Snapshot;
        var farms = new Dictionary<int, FarmRuntime>();
        foreach (var f in snapshot.Farms) farms[f.Id] = f;
        var list = new List<SavedConnection>(_table.Count);
        for (int i = 0; i < _table.HighWater; i++)
        {
            ref readonly var e = ref _table[i];
            if (!e.InUse || e.ExpiresNs <= nowNs || (e.Status & ConnStatus.SynProxyPending) != 0) continue; // a handshake the client will retry
            if (!farms.TryGetValue(e.FarmId, out var farm) || snapshot.Backend(e.BackendId) is not { } backend) continue;
            list.Add(new SavedConnection
            {
                Farm = farm.Name,
                Backend = backend.Name,
                Original = e.Original,
                Reply = e.Reply,
                TcpState = e.TcpState,
                SctpState = e.SctpState,
                Status = e.Status & ~ConnStatus.InUse,
                SeqOffset = e.SeqOffset,
                TsOffset = e.TsOffset,
                WindowShift = e.WindowShift,
                Mark = e.Mark,
                IcmpType = e.IcmpType,
                IcmpCode = e.IcmpCode,
                Id = e.Id,
                AgeNs = Math.Max(0, nowNs - e.CreatedNs),
                RemainingNs = e.ExpiresNs - nowNs,
                OriginalPackets = e.OriginalPackets,
                OriginalBytes = e.OriginalBytes,
                ReplyPackets = e.ReplyPackets,
                ReplyBytes = e.ReplyBytes,
            });
        }
        return list;
    }

    /// <summary>
    /// Puts saved entries back into the table after the configuration is applied: each continues with its state, NAT
    /// (the same reply tuple, so the same SNAT port), mark, backend and counters, its timeout resuming from the saved
    /// remaining time. Skipped and counted: entries whose farm or backend is gone; whose farm or backend changed so that
    /// the saved translation no longer matches (VIP, backend address or port, NAT mode); whose tuples clash with an
    /// entry already present; and those beyond the table's size.
    /// </summary>
    public ImportResult ImportConnections(IEnumerable<SavedConnection> saved, long nowNs)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var snapshot = Snapshot;
        int imported = 0, unknown = 0, changed = 0, clashing = 0, full = 0;
        foreach (var s in saved)
        {
            var farm = snapshot.FindFarmByName(s.Farm);
            BackendRuntime? backend = null;
            if (farm is not null)
            {
                foreach (var b in farm.Backends)
                    if (b.Name == s.Backend) backend = b;
            }

            if (farm is null || backend is null)
            {
                unknown++;
                continue;
            }
            if (!Matches(farm, backend, s))
            {
                changed++;
                continue;
            }
            if (_table.Count >= _table.Max)
            {
                full++;
                continue;
            }
            var entry = new ConnEntry
            {
                Original = s.Original,
                Reply = s.Reply,
                CreatedNs = nowNs - Math.Max(0, s.AgeNs),
                ExpiresNs = nowNs + Math.Max(1, s.RemainingNs),
                OriginalPackets = s.OriginalPackets,
                OriginalBytes = s.OriginalBytes,
                ReplyPackets = s.ReplyPackets,
                ReplyBytes = s.ReplyBytes,
                Id = s.Id,
                Mark = s.Mark,
                IcmpType = s.IcmpType,
                IcmpCode = s.IcmpCode,
                FarmId = farm.Id,
                BackendId = backend.Id,
                Status = (s.Status & ~(ConnStatus.Limited | ConnStatus.SynProxyPending)) | ConnStatus.InUse,
                SeqOffset = s.SeqOffset,
                TsOffset = s.TsOffset,
                WindowShift = s.WindowShift,
                TcpState = s.TcpState,
                Forward = farm.Mode != Config.FarmMode.Dsr ? FlowForward.Nat : backend.Ipip ? FlowForward.DsrIpip : FlowForward.Dsr,
                SctpState = s.SctpState,
            };
            int index = _table.Restore(entry, nowNs);
            if (index < 0)
            {
                clashing++;
                continue;
            }
            ref var e = ref _table[index];
            var fc = farm.Config;
            if ((fc.NewRateLimit > 0 || fc.EstConnLimit > 0) && RestoreLimit(farm, e.Original.Src, nowNs)) e.Status |= ConnStatus.Limited;
            if (fc.Persistence != HashFields.None) RestorePersistence(farm, backend, e.Original, nowNs);
            if (!e.Assured) TrackUnassured(index, farm, backend);
            _shared?.TryAddBackend(backend.Id, 0); // released with the entry (OnRemoved), like a new flow's
            Counters.Backend(backend.Id).Active++;
            Counters.Farm(farm.Id).Active++;
            imported++;
        }
        return new ImportResult(imported, unknown, changed, clashing, full);
    }

    /// <summary>
    /// A restored connection's client is persisted to its backend again (a fresh persist-ttl from now), so that the
    /// client's next connections after a restart go where its open ones are. The state file holds connections, not the
    /// persistence table: a client with no open connection left is scheduled anew, and fields the tuple does not carry
    /// (srcmac, dstmac) cannot be rebuilt.
    /// </summary>
    private void RestorePersistence(FarmRuntime farm, BackendRuntime backend, in FlowTuple original, long nowNs)
    {
        var fields = farm.Config.Persistence;
        if ((fields & (HashFields.SrcMac | HashFields.DstMac)) != 0) return;
        var client = new SchedInput(original.Src, original.Dst, original.SrcPort, original.DstPort, default, default);
        long expires = nowNs + farm.Config.PersistTtlSeconds * 1_000_000_000L;
        WithSourceTables((persistence, _) =>
        {
            persistence.Set(farm.Id, client, fields, backend.Id, nowNs, expires);
            return 0;
        });
    }

    private bool RestoreLimit(FarmRuntime farm, Packets.IpAddr source, long nowNs)
    {
        var fc = farm.Config;
        long ttl = fc.LimitsTtlSeconds * 1_000_000_000L;
        return WithSourceTables((_, limiter) => limiter.Restore(farm.Id, source, fc.NewRateLimit, fc.NewRateLimitBurst, ttl, nowNs));
    }

    /// <summary>The saved translation still describes this farm and backend: same VIP and protocol, NAT mode, backend
    /// address and port (dsr: no translation at all).</summary>
    private static bool Matches(FarmRuntime farm, BackendRuntime backend, SavedConnection s)
    {
        if (s.Original.Dst != farm.VirtualAddress || !farm.MatchesProtocol(s.Original.Protocol)) return false;
        // dsr: nothing translated, the reply tuple the original's inverse.
        if (farm.Mode == Config.FarmMode.Dsr) return (s.Status & (ConnStatus.SrcNat | ConnStatus.DstNat)) == 0 && s.Reply == s.Original.Invert();
        if (s.Reply.Protocol != s.Original.Protocol || s.Reply.Src != backend.Address) return false;
        bool snat = (s.Status & ConnStatus.SrcNat) != 0;
        if (snat != farm.SourceNat || (s.Status & ConnStatus.DstNat) == 0) return false;
        if (snat && s.Reply.Dst != (backend.SourceAddress ?? farm.SnatAddress)) return false;
        if (!snat && s.Reply.Dst != s.Original.Src) return false;
        bool hasPorts = s.Original.Protocol is Packets.IpProtocols.Tcp or Packets.IpProtocols.Udp or Packets.IpProtocols.Sctp;
        if (hasPorts && s.Reply.SrcPort != (backend.Port != 0 ? backend.Port : s.Original.DstPort)) return false;
        return true;
    }
}
