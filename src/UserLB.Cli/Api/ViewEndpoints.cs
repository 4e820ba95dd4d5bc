using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Primitives;
using UserLB.Cli.Views;
using UserLB.Engine.Conntrack;
using UserLB.Engine.Farms;
using UserLB.IO.Live;
using UserLB.IO.Live.Receivers;

namespace UserLB.Cli.Api;

/// <summary>
/// Views of the running engine for operators and students:
/// <list type="bullet">
/// <item>GET <c>/conntrack?FILTER</c>: the entries, one <c>conntrack -L</c> line each (text, streamed in chunks read between
/// frames on the engine's thread); DELETE <c>/conntrack?FILTER</c>: <c>{"response": "success", "deleted": N}</c>;
/// GET <c>/conntrack/count?FILTER</c>: the number, as text.</item>
/// <item>GET <c>/conntrack/events?FILTER&amp;events=NEW,UPDATE,DESTROY</c>: <c>conntrack -E</c> lines as they happen
/// (chunked text, until the client goes); lost events are reported as <c># N event(s) lost …</c> lines.</item>
/// <item>GET <c>/stats</c> (JSON; <c>?format=text</c> for the table), GET <c>/status</c> (one screen of text;
/// <c>?format=json</c>), GET <c>/metrics</c> (Prometheus text).</item>
/// </list>
/// FILTER keys are <see cref="ConntrackFilter.Keys"/> (proto, src, dst, reply-src, reply-dst, sport, dport, …, farm,
/// backend); a bad one is a 400 naming it. Every endpoint needs the key except <c>/metrics</c>: Prometheus scrapers are
/// usually configured without custom headers, the metrics are counters (no addresses of clients), and the API listens on
/// loopback by default.
/// </summary>
internal static class ViewEndpoints
{
    /// <summary>Entries copied per step of a listing (one step runs between two frames on the engine's thread).</summary>
    public const int ListChunk = 2048;

    public static void MapViewEndpoints(this IEndpointRouteBuilder app, ControlPlane control)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(control);
        var lifetime = app.ServiceProvider.GetService<IHostApplicationLifetime>();
        var views = new ViewState(control, TimeProvider.System, lifetime?.ApplicationStopping ?? CancellationToken.None);
        app.MapGet("/conntrack", (HttpContext context) => ListAsync(context, views));
        app.MapDelete("/conntrack", (HttpRequest request) => DeleteAsync(request.HttpContext, views));
        app.MapGet("/conntrack/count", (HttpRequest request) => CountAsync(request.HttpContext, views));
        app.MapGet("/conntrack/events", (HttpContext context) => EventsAsync(context, views));
        app.MapGet("/stats", (HttpRequest request) => StatsAsync(request.HttpContext, views));
        app.MapGet("/status", (HttpRequest request) => StatusAsync(request.HttpContext, views));
        app.MapGet("/metrics", (HttpRequest request) => MetricsAsync(views)).WithMetadata(KeyNotRequired.Instance);
    }

    // ---- conntrack ---------------------------------------------------------------------------------

    private static ConntrackFilter FilterFrom(IQueryCollection query, params string[] extraKeys)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var (key, values) in query)
        {
            if (Array.IndexOf(extraKeys, key) >= 0) continue;
            pairs.Add(KeyValuePair.Create(key, values.Count > 0 ? values[^1] ?? "" : ""));
        }
        try
        {
            return ConntrackFilter.Parse(pairs);
        }
        catch (ConntrackFilterException ex)
        {
            throw new ApiException(StatusCodes.Status400BadRequest, ex.Message);
        }
    }

    private const string OutputKey = "output";

    /// <summary>The <c>output</c> parameter (conntrack's <c>-o</c>: extended, id, timestamp, json); a bad one is a 400.</summary>
    private static ConntrackOutput OutputFrom(IQueryCollection query, bool events)
    {
        if (!query.TryGetValue(OutputKey, out StringValues v) || v.Count == 0) return ConntrackOutput.None;
        if (!ConntrackFormatter.TryParseOutput(v[^1] ?? "", out var output, out string? error))
            throw new ApiException(StatusCodes.Status400BadRequest, "filter " + error);
        if (!events && (output & ConntrackOutput.Timestamp) != 0)
            throw new ApiException(StatusCodes.Status400BadRequest, "filter output timestamp goes with events");
        return output;
    }

    /// <summary>An entry as a listing line in <paramref name="output"/>'s format (JSON names the farm and backend).</summary>
    private static string EntryLine(in ConnEntry e, long nowNs, ConntrackOutput output, LiveClock clock, EngineSnapshot snapshot) =>
        (output & ConntrackOutput.Json) != 0
            ? ConntrackEventJson.EntryLine(clock.ToWall(e), clock.ToWall(nowNs), Names(e, snapshot))
            : ConntrackFormatter.Line(e, nowNs, output: output);

    /// <summary>The farm and backend names of an entry, for its JSON.</summary>
    private static ConnEventContext Names(in ConnEntry e, EngineSnapshot snapshot)
    {
        string? farm = null;
        foreach (var f in snapshot.Farms)
            if (f.Id == e.FarmId) { farm = f.Name; break; }
        return new ConnEventContext(farm, snapshot.Backend(e.BackendId)?.Name, null);
    }

    private static async Task ListAsync(HttpContext context, ViewState views)
    {
        var filter = FilterFrom(context.Request.Query, OutputKey);
        var output = OutputFrom(context.Request.Query, events: false);
        var clock = views.Clock();
        var ct = context.RequestAborted;
        context.Response.ContentType = "text/plain; charset=utf-8";
        var buffer = new ConnEntry[ListChunk];
        var forwarder = views.Control.Forwarder;
        int workers = forwarder.WorkerCount;
        var cursor = TableCursor.Start;
        var sb = new StringBuilder(ListChunk * 200);
        while (!cursor.IsDone(workers))
        {
            // One step reads one worker's table (the others return at once); worker i's engine is shard i.
            var at = cursor;
            var steps = await forwarder.InvokeAllAsync((engine, now) =>
            {
                if (engine.ShardIndex != at.Worker) return default;
                filter.Bind(engine.Snapshot);
                int c = at.Index;
                int k = engine.Table.CopyMatching(filter, now, ref c, buffer);
                return new ListStep(k, now, c, c >= engine.Table.HighWater);
            }).ConfigureAwait(false);
            var step = steps[at.Worker];
            cursor = cursor.After(step.Next, step.TableDone);
            sb.Clear();
            var snapshot = forwarder.Engine.Snapshot;
            for (int i = 0; i < step.Copied; i++) sb.Append(EntryLine(buffer[i], step.NowNs, output, clock, snapshot)).Append('\n');
            if (sb.Length > 0) await context.Response.WriteAsync(sb.ToString(), ct).ConfigureAwait(false);
        }
    }

    /// <summary>One step of a listing: entries copied, the engine's time, the table's cursor after it, whether it reached the end.</summary>
    private readonly record struct ListStep(int Copied, long NowNs, int Next, bool TableDone);

    /// <summary>
    /// conntrack -D: removes the matching entries; with <c>entries=1</c> the reply also lists each as it was before it went
    /// (<c>"entries": [lines]</c>, in the <c>output</c> format), which <c>userlb conntrack -D</c> prints as conntrack does.
    /// </summary>
    private static async Task<IResult> DeleteAsync(HttpContext context, ViewState views)
    {
        const string EntriesKey = "entries";
        var query = context.Request.Query;
        var filter = FilterFrom(query, OutputKey, EntriesKey);
        var output = OutputFrom(query, events: false);
        bool list = query.TryGetValue(EntriesKey, out var flag) && flag.Count > 0 && flag[^1] is "1" or "true";
        var clock = views.Clock();
        var parts = await views.Control.Forwarder.InvokeAllAsync((engine, now) =>
        {
            var removed = list ? new List<ConnEntry>() : null;
            int n = engine.Table.RemoveMatching(filter.Bind(engine.Snapshot), now, removed);
            var lines = new List<string>(removed?.Count ?? 0);
            if (removed is not null)
                foreach (var e in removed) lines.Add(EntryLine(e, now, output, clock, engine.Snapshot));
            return (Deleted: n, Lines: lines);
        }).ConfigureAwait(false);
        int deleted = 0;
        foreach (var p in parts) deleted += p.Deleted;
        if (!list) return ApiHost.JsonText(Inv($"{{\"response\": \"success\", \"deleted\": {deleted}}}\n"));
        var all = new List<string>(deleted);
        foreach (var p in parts) all.AddRange(p.Lines);
        return ApiHost.JsonText(JsonSerializer.Serialize(new DeleteReply("success", deleted, all), ViewsJson.Default.DeleteReply) + "\n");
    }

    private static async Task<IResult> CountAsync(HttpContext context, ViewState views)
    {
        var filter = FilterFrom(context.Request.Query);
        int n = await ControlPlane.SumAsync(views.Control.Forwarder.InvokeAllAsync((engine, now) => engine.Table.CountMatching(filter.Bind(engine.Snapshot), now))).ConfigureAwait(false);
        return Results.Text(Inv($"{n}\n"), "text/plain", Encoding.UTF8);
    }

    private static async Task EventsAsync(HttpContext context, ViewState views)
    {
        const string MaskKey = "events";
        var filter = FilterFrom(context.Request.Query, MaskKey, OutputKey);
        var output = OutputFrom(context.Request.Query, events: true);
        var clock = views.Clock();
        HashSet<ConnEventType> mask;
        try
        {
            mask = context.Request.Query.TryGetValue(MaskKey, out StringValues m) && m.Count > 0
                ? Commands.ConntrackCommand.ParseEventMask(m[^1] ?? "")
                : [ConnEventType.New, ConnEventType.Update, ConnEventType.Destroy];
        }
        catch (UsageException ex)
        {
            throw new ApiException(StatusCodes.Status400BadRequest, ex.Message.Replace("conntrack: event mask", "filter events:", StringComparison.Ordinal));
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, views.Stopping);
        var ct = stop.Token;
        var forwarder = views.Control.Forwarder;
        var snapshot = forwarder.Engine.Snapshot;
        filter.Bind(snapshot);
        var subscription = views.Hub.Subscribe();
        try
        {
            await views.AttachHubAsync().ConfigureAwait(false);
            context.Response.ContentType = "text/plain; charset=utf-8";
            context.Response.Headers.CacheControl = "no-cache";
            await context.Response.StartAsync(ct).ConfigureAwait(false);
            await context.Response.Body.FlushAsync(ct).ConfigureAwait(false);
            var reader = subscription.Reader;
            var sb = new StringBuilder();
            long reported = 0;
            while (!ct.IsCancellationRequested)
            {
                using (var tick = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    tick.CancelAfter(TimeSpan.FromSeconds(1));
                    try
                    {
                        if (!await reader.WaitToReadAsync(tick.Token).ConfigureAwait(false)) break;
                    }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        // a second without events: report losses, if any
                    }
                }
                var current = forwarder.Engine.Snapshot;
                if (!ReferenceEquals(current, snapshot)) filter.Bind(snapshot = current);
                while (reader.TryRead(out var ev))
                {
                    if (mask.Contains(ev.Type) && filter.Matches(ev.Entry))
                        sb.Append(EventLine(ev, output, clock, snapshot)).Append('\n');
                }

                long lost = subscription.Dropped;
                if (lost > reported)
                {
                    sb.Append(Inv($"# {lost - reported} event(s) lost: the buffer ({ConntrackEventHub.DefaultCapacity} events) was full\n"));
                    reported = lost;
                }
                if (sb.Length == 0) continue;
                await context.Response.WriteAsync(sb.ToString(), ct).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                sb.Clear();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the client went away, or the instance is stopping
        }
        catch (IOException) when (ct.IsCancellationRequested || context.RequestAborted.IsCancellationRequested)
        {
        }
        finally
        {
            subscription.Dispose();
            await views.AttachHubAsync().ConfigureAwait(false);
        }
    }

    /// <summary>An event as a <c>conntrack -E</c> line in <paramref name="output"/>'s format, or as JSON (the times the wall clock's).</summary>
    private static string EventLine(in ConnEvent ev, ConntrackOutput output, LiveClock clock, EngineSnapshot snapshot)
    {
        if ((output & ConntrackOutput.Json) == 0)
            return ConntrackFormatter.EventLine(ev.Type, ev.Entry, ev.NowNs, output, clock.ToWall(ev.NowNs));
        var entry = clock.ToWall(ev.Entry);
        long now = clock.ToWall(ev.NowNs);
        return ConntrackEventJson.Line(ev.Type, entry, now, ConnEventCause.Of(ev.Type, entry, now, 0), Names(ev.Entry, snapshot));
    }

    // ---- stats, status, metrics --------------------------------------------------------------------

    private static async Task<IResult> StatsAsync(HttpContext context, ViewState views)
    {
        string format = Format(context, "json");
        var s = await views.CaptureAsync().ConfigureAwait(false);
        return format == "json"
            ? ApiHost.JsonText(JsonSerializer.Serialize(s, ViewsJson.Default.StatsSnapshot) + "\n")
            : Results.Text(ViewText.Stats(s), "text/plain", Encoding.UTF8);
    }

    private static async Task<IResult> StatusAsync(HttpContext context, ViewState views)
    {
        string format = Format(context, "text");
        var s = await views.CaptureAsync().ConfigureAwait(false);
        var reference = views.Rates.Reference(s);
        if (reference is null)
        {
            // No capture 1-10 s old: measure over the next second.
            reference = s;
            await Task.Delay(RateTracker.MinSpan, views.Time, context.RequestAborted).ConfigureAwait(false);
            s = await views.CaptureAsync().ConfigureAwait(false);
        }
        var rates = Rates.Between(reference, s);
        return format == "json"
            ? ApiHost.JsonText(JsonSerializer.Serialize(new StatusDocument(s, rates), ViewsJson.Default.StatusDocument) + "\n")
            : Results.Text(ViewText.Status(s, rates), "text/plain", Encoding.UTF8);
    }

    private static async Task<IResult> MetricsAsync(ViewState views)
    {
        var s = await views.CaptureAsync().ConfigureAwait(false);
        return Results.Text(PrometheusText.Format(s), PrometheusText.ContentType);
    }

    private static string Format(HttpContext context, string defaultFormat)
    {
        string? f = context.Request.Query.TryGetValue("format", out var v) ? v[^1] : null;
        foreach (var (key, _) in context.Request.Query)
            if (key != "format") throw new ApiException(StatusCodes.Status400BadRequest, $"unknown parameter \"{key}\" (only format=json|text)");
        f ??= defaultFormat;
        if (f is not ("json" or "text")) throw new ApiException(StatusCodes.Status400BadRequest, $"format \"{f}\" is not json or text");
        return f;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>What the views share: the event hub, recent captures for rates, the start time.</summary>
    private sealed class ViewState(ControlPlane control, TimeProvider time, CancellationToken stopping)
    {
        private readonly DateTimeOffset _started = time.GetUtcNow();

        public ControlPlane Control { get; } = control;
        public TimeProvider Time { get; } = time;
        public CancellationToken Stopping { get; } = stopping;
        public ConntrackEventHub Hub { get; } = new();
        public RateTracker Rates { get; } = new();

        /// <summary>The engine's clock against the wall clock, now.</summary>
        public LiveClock Clock() => LiveClock.Of(Control.Forwarder.Time, Control.Forwarder.NowNs());

        /// <summary>
        /// Hooks the hub into every worker's table while someone listens, and unhooks it after the last one (the data path
        /// pays one null check otherwise). Called after every subscribe and unsubscribe; each call reads the count when it
        /// runs on a worker's thread, in order, so the last one sees the last count. The workers publish to the hub at once.
        /// </summary>
        public async Task AttachHubAsync()
        {
            var hub = Hub;
            await Control.Forwarder.InvokeAllAsync((engine, _) => engine.Table.Events = hub.HasSubscribers ? hub : null).ConfigureAwait(false);
        }

        /// <summary>The ports' sampled receive delays merged (null when no port measures them).</summary>
        private static RxDelayStats? RxDelayOf(LiveForwarder f)
        {
            var counts = new long[DelayHistogram.Bounded + 1];
            long sumNs = 0;
            bool any = false;
            foreach (var p in f.Ports)
            {
                if (p is not IPollablePort { ReceiveDelay: { } h }) continue;
                sumNs += h.AddTo(counts);
                any = true;
            }
            if (!any) return null;
            long samples = 0;
            int top = 0;
            for (int i = 0; i < counts.Length; i++)
            {
                samples += counts[i];
                if (counts[i] > 0) top = i;
            }
            return new RxDelayStats(samples, DelayHistogram.Quantile(counts, 0.5), DelayHistogram.Quantile(counts, 0.99),
                samples == 0 ? 0 : DelayHistogram.UpperBoundMicroseconds(top), sumNs / 1e9) { Buckets = counts };
        }

        private static List<PortDropStats> PortDropsOf(LiveForwarder f)
        {
            var list = new List<PortDropStats>();
            foreach (var p in f.Ports)
            {
                if (p is IPortStats counted && counted.Stats is var st)
                    list.Add(new PortDropStats(p.Name, st.KernelDrops, st.TxDrops, st.RxTruncated, st.HandshakeDrops));
            }

            return list;
        }

        public async Task<StatsSnapshot> CaptureAsync()
        {
            var checkedBackends = new HashSet<string>(StringComparer.Ordinal);
            if (Control.Health is { } health)
                foreach (var t in health.Targets) checkedBackends.Add(t.Key);
            var f = Control.Forwarder;
            var queue = new QueueStats(Math.Max(0, f.QueueDepth), f.QueueCapacity, f.QueueDrops, f.OversizeFrames, f.WorkerCount,
                f.Receiver.Dispatch, RxDelayOf(f), f.Receiver is PolledReceiver p
                    ? new ReceiveStats(p.BusyPollNs / 1000, p.Sleeps, p.WindowNs / 1000, "auto", p.Policy.Engaged, p.Policy.Engagements,
                        p.PolledNs / 1e9, p.HeldBackWindows)
                    : null) { Ports = PortDropsOf(f) };
            var events = new EventStats(Hub.Subscribers, Hub.Delivered, Hub.Dropped);
            // Each worker copies its engine's figures on its thread; the load balancer's are their sum.
            var parts = await f.InvokeAllAsync((engine, _) => EngineFigures.Of(engine)).ConfigureAwait(false);
            var now = Time.GetUtcNow();
            var s = StatsSnapshot.Capture(EngineFigures.Sum(parts), now, (now - _started).TotalSeconds, queue, events, checkedBackends);
            Rates.Add(s);
            return s;
        }
    }
}

/// <summary>
/// Where a listing of the connection tables of several workers stands: the worker whose table is being read and the slot
/// to read next in it (<see cref="Engine.Conntrack.ConnTable.CopyMatching"/>'s cursor). Worker by worker, each table from
/// its first slot to its end.
/// </summary>
internal readonly record struct TableCursor(int Worker, int Index)
{
    public static TableCursor Start => default;

    /// <summary>Every worker's table has been read.</summary>
    public bool IsDone(int workers) => Worker >= workers;

    /// <summary>The cursor after a step that left the table's cursor at <paramref name="next"/>; <paramref name="tableDone"/>:
    /// it reached the end of the table, so the next step reads the next worker's from its start.</summary>
    public TableCursor After(int next, bool tableDone) => tableDone ? new TableCursor(Worker + 1, 0) : new TableCursor(Worker, next);
}

/// <summary>DELETE /conntrack?entries=1's reply: nftlb's response and count, and each deleted entry's line.</summary>
internal sealed record DeleteReply(string Response, int Deleted, List<string> Entries);

/// <summary>
/// The engine's clock (monotonic) against the wall clock, read once: converts an entry's times to nanoseconds since
/// 1970 for the JSON and the <c>-o timestamp</c> of a live instance's events.
/// </summary>
internal readonly record struct LiveClock(long OffsetNs)
{
    public static LiveClock Of(TimeProvider time, long engineNowNs) =>
        new((time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100 - engineNowNs);

    public long ToWall(long engineNs) => engineNs + OffsetNs;

    /// <summary>The entry with its creation and expiry on the wall clock (its timeout in seconds is unchanged).</summary>
    public ConnEntry ToWall(in ConnEntry e)
    {
        var copy = e;
        copy.CreatedNs += OffsetNs;
        copy.ExpiresNs += OffsetNs;
        return copy;
    }
}

/// <summary>Endpoint metadata: the API key is not asked for (<c>/metrics</c>).</summary>
internal sealed class KeyNotRequired
{
    public static readonly KeyNotRequired Instance = new();

    private KeyNotRequired()
    {
    }
}
