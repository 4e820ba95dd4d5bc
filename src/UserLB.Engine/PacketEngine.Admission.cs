using UserLB.Engine.Balancing;
using UserLB.Engine.Config;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.Engine.Limits;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>A new flow's admission, whatever its mode: limits, sessions, persistence, the scheduler, and its entry.</summary>
public sealed partial class PacketEngine
{
    /// <summary>The new flow's backend by <see cref="ChooseBackend"/>. Sharded engines share the per-client tables:
    /// admission, persistence lookup, scheduling and learning happen as one step, so that two shards cannot both admit a
    /// client's last allowed connection or persist it to two backends. Farms using neither take no lock.</summary>
    private BackendRuntime? ChooseShared(ReadOnlySpan<byte> frame, in PacketInfo p, FarmRuntime farm, EngineSnapshot snapshot, long nowNs, out bool limited, out string why)
    {
        var input = new SchedInput(p.Src, p.Dst, p.SrcPort, p.DstPort, MacAddress.Read(frame[Offsets.EthSrc..]), MacAddress.Read(frame));
        var fc = farm.Config;
        if (_shared is { } shared && (fc.NewRateLimit > 0 || fc.EstConnLimit > 0 || fc.Persistence != HashFields.None))
        {
            lock (shared.Gate) return ChooseBackend(farm, input, snapshot, nowNs, out limited, out why);
        }
        return ChooseBackend(farm, input, snapshot, nowNs, out limited, out why);
    }

    /// <summary>
    /// Makes a new flow's entry (not ASSURED yet: under pressure it gets the short timeout) with its state, forwarding,
    /// farm, backend and mark; counts it (per farm and backend), raises NEW and traces it. -1 when the table is full and
    /// nothing can be dropped early: then the flow's admission is undone and the drop counted.
    /// </summary>
    private int NewEntry(in FlowTuple tuple, in FlowTuple reply, long timeoutSeconds, ConnStatus status, TcpState state, FlowForward forward,
        FarmRuntime farm, BackendRuntime backend, bool limited, string why, long nowNs, in PacketInfo p, SctpState sctpState = SctpState.None)
    {
        int index = _table.Insert(tuple, reply, nowNs, UnassuredTimeout(timeoutSeconds * 1_000_000_000L, nowNs), status, _random);
        if (index < 0)
        {
            Trace?.Step(Inv($"conntrack: table full ({_table.Count}/{_table.Max}) and every entry is ASSURED: dropped"));
            Unadmit(farm.Id, tuple.Src, limited, backend.Id);
            DropFlow(DropReason.TableFull, farm.Id, -1);
            return -1;
        }
        ref var e = ref _table[index];
        e.TcpState = state;
        e.SctpState = sctpState;
        e.Forward = forward;
        if (p.IsIcmp)
        {
            e.IcmpType = p.IcmpType;
            e.IcmpCode = p.IcmpCode;
        }
        e.FarmId = farm.Id;
        e.BackendId = backend.Id;
        e.Mark = backend.Mark;
        if (limited) e.Status |= ConnStatus.Limited;
        TrackUnassured(index, farm, backend);
        Counters.NewFlows++;
        ref var bc = ref Counters.Backend(backend.Id);
        bc.Connections++;
        bc.Active++;
        ref var fc = ref Counters.Farm(farm.Id);
        fc.Connections++;
        fc.Active++;
        _table.Events?.OnEvent(ConnEventType.New, e, nowNs);
        if (Trace is not null) TraceNew(farm, backend, why, e, nowNs);
        return index;
    }

    /// <summary>
    /// The per-client part of a new flow (under the shared lock when sharded): new-rtlimit and est-connlimit of the
    /// client (admitted and counted at once; <paramref name="limited"/>: counted, to release when the flow ends), static
    /// session, learned persistence, the scheduler, the backend's est-connlimit (counted over every shard when sharded),
    /// and the persistence learned (before NAT, as nftlb updates its map in prerouting). Null: dropped and counted.
    /// </summary>
    private BackendRuntime? ChooseBackend(FarmRuntime farm, in SchedInput input, EngineSnapshot snapshot, long nowNs, out bool limited, out string why)
    {
        limited = false;
        why = "";
        var fc = farm.Config;
        if (fc.NewRateLimit > 0 || fc.EstConnLimit > 0)
        {
            var reason = _limiter.Admit(farm.Id, input.Src, fc.NewRateLimit, fc.NewRateLimitBurst, fc.EstConnLimit,
                fc.LimitsTtlSeconds * 1_000_000_000L, nowNs, out limited);
            if (reason != DropReason.None)
            {
                Trace?.Step(reason == DropReason.RateLimited
                    ? Inv($"filter: farm {farm.Name} new-rtlimit {fc.NewRateLimit}/second burst {SourceLimiter.BucketSize(fc.NewRateLimit, fc.NewRateLimitBurst)} exceeded by {input.Src}: dropped")
                    : Inv($"filter: farm {farm.Name} est-connlimit {fc.EstConnLimit}: {input.Src} already has {_limiter.Connections(farm.Id, input.Src)} connection(s): dropped"));
                DropFlow(reason, farm.Id, -1);
                return null;
            }
        }

        BackendRuntime? backend = null;
        if (farm.StaticSessions.Count != 0
            && farm.StaticSessions.TryGetValue(MaglevScheduler.FieldHash(input, farm.SessionFields), out int staticId)
            && snapshot.Backend(staticId) is { } sb && Contains(farm.Candidates, sb))
        {
            backend = sb;
            if (Trace is not null) why = "static session (nftlb sessions)";
        }
        if (backend is null && fc.Persistence != HashFields.None
            && _persistence.TryGet(farm.Id, input, fc.Persistence, nowNs, out int persistedId)
            && snapshot.Backend(persistedId) is { } pb && Contains(farm.Candidates, pb))
        {
            backend = pb;
            if (Trace is not null) why = "persistence: same client as before";
        }
        if (backend is null)
        {
            int pick = farm.Scheduler.Pick(input, _random, out ulong detail);
            if (pick < 0)
            {
                Trace?.Step(Inv($"farm {farm.Name}: no backend available (level {farm.Level})"));
                Unadmit(farm.Id, input.Src, limited, -1);
                DropFlow(DropReason.NoBackend, farm.Id, -1);
                return null;
            }
            backend = farm.Candidates[pick];
            if (Trace is not null) why = DescribePick(farm, pick, detail);
        }
        int limit = backend.Config.EstConnLimit;
        bool overLimit = _shared is { } shared
            ? !shared.TryAddBackend(backend.Id, limit)
            : limit > 0 && Counters.Backend(backend.Id).Active >= limit;
        if (overLimit)
        {
            Trace?.Step(Inv($"filter: backend {backend.Name} est-connlimit {limit} reached: dropped"));
            Unadmit(farm.Id, input.Src, limited, -1);
            DropFlow(DropReason.ConnLimit, farm.Id, backend.Id);
            return null;
        }
        if (backend.Address.IsV4 != input.Src.IsV4)
        {
            Trace?.Step(Inv($"farm {farm.Name}: backend {backend.Name} is of the other address family"));
            Unadmit(farm.Id, input.Src, limited, backend.Id);
            DropFlow(DropReason.NoBackend, farm.Id, -1);
            return null;
        }
        if (fc.Persistence != HashFields.None)
            _persistence.Set(farm.Id, input, fc.Persistence, backend.Id, nowNs, nowNs + fc.PersistTtlSeconds * 1_000_000_000L);
        return backend;
    }

    /// <summary>Undoes <see cref="ChooseBackend"/>'s counting for a flow that is not created after all: the client's
    /// connection (when <paramref name="limited"/>) and, when sharded, the backend's (when <paramref name="backendId"/> ≥ 0).</summary>
    private void Unadmit(int farmId, IpAddr source, bool limited, int backendId)
    {
        if (limited)
        {
            if (_shared is { } s)
            {
                lock (s.Gate) _limiter.Release(farmId, source);
            }
            else
            {
                _limiter.Release(farmId, source);
            }
        }
        if (backendId >= 0) _shared?.ReleaseBackend(backendId);
    }

    private static bool Contains(System.Collections.Immutable.ImmutableArray<BackendRuntime> list, BackendRuntime b)
    {
        foreach (var x in list) if (ReferenceEquals(x, b)) return true;
        return false;
    }
}
