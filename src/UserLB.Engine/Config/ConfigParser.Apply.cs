namespace UserLB.Engine.Config;

/// <summary>ConfigParser: a patch applied to the running configuration (a copy; all or nothing).</summary>
public static partial class ConfigParser
{
    // ---- applying -----------------------------------------------------------------------------------

    private static void ApplyFarm(FarmDraft draft, FarmPatch fp, Where w)
    {
        foreach (var set in fp.Setters)
        {
            set(draft);
            draft.Dirty = true;
        }

        foreach (var bp in fp.Backends)
        {
            var bw = w.ForBackend(bp.Name, bp.Index);
            var at = draft.FindBackend(bp.Name);
            if (bp.Action == ConfigAction.Delete)
            {
                if (at < 0)
                {
                    throw bw.WithKey("action").Error("cannot delete: there is no such backend in this farm");
                }

                draft.Backends.RemoveAt(at);
                draft.Sessions.RemoveAll(s => string.Equals(s.Backend, bp.Name, StringComparison.Ordinal));
                draft.Dirty = true;
                continue;
            }

            BackendDraft bd;
            if (at < 0)
            {
                bd = new BackendDraft(bp.Name) { Dirty = true };
                draft.Backends.Add(bd);
                draft.Dirty = true;
            }
            else
            {
                bd = draft.Backends[at];
            }

            foreach (var set in bp.Setters)
            {
                set(bd);
                bd.Dirty = true;
            }
        }

        foreach (var sp in fp.Sessions)
        {
            var at = draft.FindSession(sp.Client);
            if (sp.Action == ConfigAction.Delete)
            {
                if (at < 0)
                {
                    throw w.ForSession(sp.Client, 0).WithKey("action").Error("cannot delete: there is no such session in this farm");
                }

                draft.Sessions.RemoveAt(at);
                draft.Dirty = true;
                continue;
            }

            if (sp.Backend is null)
            {
                if (at < 0)
                {
                    throw w.ForSession(sp.Client, 0).Error("missing key \"backend\" (a new session needs one)");
                }

                continue;
            }

            var session = new StaticSession(sp.Client, sp.Backend);
            if (at < 0)
            {
                draft.Sessions.Add(session);
                draft.Dirty = true;
            }
            else if (draft.Sessions[at] != session)
            {
                draft.Sessions[at] = session;
                draft.Dirty = true;
            }
        }
    }
}
