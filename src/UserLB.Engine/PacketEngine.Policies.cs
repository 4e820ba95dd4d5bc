using System.Runtime.CompilerServices;
using UserLB.Engine.Farms;
using UserLB.Packets;

namespace UserLB.Engine;

/// <summary>
/// nftlb's policies, checked per packet of the client's direction before anything else of the farm (as nftlb's
/// netdev ingress chain runs before conntrack and the rate limits of its prerouting chains): in the farm's order, the
/// first policy holding the source decides — a blacklist drops the packet (<c>policy_blacklist</c>) when the farm's
/// verdict has drop, a whitelist lets it past the later policies when the verdict has accept; a matching policy whose
/// verdict is only log counts the packet and the next policy is checked. Sources no policy holds go on.
/// </summary>
public sealed partial class PacketEngine
{
    /// <summary>The frame whose source the policies already passed as part of a tracked flow.</summary>
    private long _policyCheckedFrame = -1;

    /// <summary>A packet of a tracked flow's client: whether the flow's farm's policies drop it. Out of line, so that
    /// the receive path's inlining is not spent on it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TrackedFlowPolicyDrops(EngineSnapshot snapshot, int farmId, in PacketInfo p)
    {
        if (snapshot.PoliciesOf(farmId) is not { } policies) return false;
        if (PolicyDrops(policies, farmId, p)) return true;
        _policyCheckedFrame = _frameNumber; // a SYN that reopens the entry is not checked (and counted) twice
        return false;
    }

    /// <summary>A new flow's first packet: whether its farm's policies drop it (not checked again after
    /// <see cref="TrackedFlowPolicyDrops"/> passed it).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool NewFlowPolicyDrops(EngineSnapshot snapshot, int farmId, in PacketInfo p) =>
        _policyCheckedFrame != _frameNumber && snapshot.PoliciesOf(farmId) is { } policies && PolicyDrops(policies, farmId, p);

    /// <summary>Whether <paramref name="policies"/> drop the packet (counted); every match counts on its element.</summary>
    private bool PolicyDrops(FarmPolicies policies, int farmId, in PacketInfo p)
    {
        var list = policies.Policies;
        for (int i = 0; i < list.Length; i++)
        {
            var policy = list[i];
            int element = policy.Find(p.Src);
            if (element < 0) continue;
            ref var c = ref Counters.PolicyElement(policy.CounterIds[element]);
            c.Packets++;
            c.Bytes += p.IpLength;
            if (policy.IsBlacklist)
            {
                if (!policies.Drop)
                {
                    Trace?.Step(Inv($"policy {policy.Name} (blacklist): {p.Src} is in {policy.Config.Elements[element].Text}: logged (verdict without drop)"));
                    continue;
                }
                Trace?.Step(Inv($"policy {policy.Name} (blacklist): {p.Src} is in {policy.Config.Elements[element].Text}: dropped"));
                DropFlow(DropReason.PolicyBlacklist, farmId, -1);
                return true;
            }
            if (policies.Accept)
            {
                Trace?.Step(Inv($"policy {policy.Name} (whitelist): {p.Src} is in {policy.Config.Elements[element].Text}: accepted"));
                return false;
            }
            Trace?.Step(Inv($"policy {policy.Name} (whitelist): {p.Src} is in {policy.Config.Elements[element].Text}: logged (verdict without accept)"));
        }
        if (Trace is not null) Trace.Step(Inv($"policies: {p.Src} is in none of the farm's {list.Length} policies: goes on"));
        return false;
    }
}
