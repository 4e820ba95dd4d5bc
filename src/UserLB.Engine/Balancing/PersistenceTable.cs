using UserLB.Engine.Config;
using UserLB.Packets;

namespace UserLB.Engine.Balancing;

/// <summary>
/// Source persistence (nftlb's persistence map, Zevenet's "recent" match): the key fields of a client → the backend it got,
/// for persist-ttl seconds after its last new connection.
/// </summary>
public sealed class PersistenceTable
{
    private readonly Dictionary<(int Farm, ulong Key), PersistedClient> _map = [];
    private readonly int _max;

    public PersistenceTable(int maxEntries = 1 << 20) => _max = maxEntries;

    public int Count => _map.Count;

    private static ulong KeyOf(in SchedInput input, HashFields fields) => MaglevScheduler.FieldHash(input, fields);

    public bool TryGet(int farmId, in SchedInput input, HashFields fields, long nowNs, out int backendId)
    {
        var key = (farmId, KeyOf(input, fields));
        if (_map.TryGetValue(key, out var v))
        {
            if (v.ExpiresNs > nowNs)
            {
                backendId = v.BackendId;
                return true;
            }
            _map.Remove(key);
        }
        backendId = -1;
        return false;
    }

    public void Set(int farmId, in SchedInput input, HashFields fields, int backendId, long nowNs, long expiresNs)
    {
        if (_map.Count >= _max) Purge(nowNs);
        _map[(farmId, KeyOf(input, fields))] = new PersistedClient(farmId, input, backendId, expiresNs);
    }

    /// <summary>Adds the live entries of farm <paramref name="farmId"/> to <paramref name="into"/> (control plane: the API's sessions).</summary>
    public void Collect(int farmId, long nowNs, List<PersistedClient> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        foreach (var kv in _map)
            if (kv.Key.Farm == farmId && kv.Value.ExpiresNs > nowNs) into.Add(kv.Value);
    }

    /// <summary>Forgets the entry of this client (its key fields) in farm <paramref name="farmId"/>; false if there is none.</summary>
    public bool Remove(int farmId, in SchedInput client, HashFields fields) => _map.Remove((farmId, KeyOf(client, fields)));

    private void Purge(long nowNs)
    {
        List<(int, ulong)>? dead = null;
        foreach (var kv in _map) if (kv.Value.ExpiresNs <= nowNs) (dead ??= []).Add(kv.Key);
        if (dead is null) return; // all live: the new key still goes in (the map grows past its soft limit)
        foreach (var k in dead) _map.Remove(k);
    }
}

/// <summary>A learned persistence entry: the client (the fields of its first connection), its backend, when it expires.</summary>
public readonly record struct PersistedClient(int FarmId, SchedInput Client, int BackendId, long ExpiresNs);
