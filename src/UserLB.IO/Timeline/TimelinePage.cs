using System.Globalization;
using System.Net;
using System.Text;

namespace UserLB.IO.Timeline;

/// <summary>
/// The timeline picture: one self-contained HTML page (inline SVG, inline style and script, nothing fetched) with a lane
/// per connection, time on the x axis, the connection's conntrack states as coloured bands, each frame as a tick above
/// (original direction) or below (reply) the band, and the timers: a dashed mark where a state's timeout would fire, the
/// DESTROY (×, red when the timer did it), and for a connection alive at the end its deadline. Hover shows a frame's
/// story (summary, NAT translation, backend, verdict); the wheel zooms the time axis, dragging pans, a double-click resets.
/// </summary>
public static class TimelinePage
{
    private const int Width = 1280, LabelWidth = 380, Right = 24, Top = 34, LaneHeight = 64, BandTop = 23, BandHeight = 18;

    /// <summary>Band colours by state (TCP and SCTP states as the kernel names them; UNREPLIED/REPLIED/ASSURED for other protocols).</summary>
    public static readonly IReadOnlyDictionary<string, string> StateColours = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["SYN_SENT"] = "#f2c94c", ["SYN_SENT2"] = "#e2b93b", ["SYN_RECV"] = "#f2994a", ["ESTABLISHED"] = "#27ae60",
        ["FIN_WAIT"] = "#2f80ed", ["CLOSE_WAIT"] = "#9b51e0", ["LAST_ACK"] = "#d35db0", ["TIME_WAIT"] = "#95a5a6",
        ["CLOSE"] = "#eb5757", ["NONE"] = "#cccccc", ["UNREPLIED"] = "#f2c94c", ["REPLIED"] = "#6fcf97", ["ASSURED"] = "#27ae60",
        // SCTP (nf_conntrack_proto_sctp.c's names)
        ["CLOSED"] = "#bdbdbd", ["COOKIE_WAIT"] = "#f2c94c", ["COOKIE_ECHOED"] = "#f2994a", ["SHUTDOWN_SENT"] = "#2f80ed",
        ["SHUTDOWN_RECD"] = "#9b51e0", ["SHUTDOWN_ACK_SENT"] = "#d35db0", ["HEARTBEAT_SENT"] = "#56ccf2",
    };

    /// <summary>The page for <paramref name="model"/>, titled after <paramref name="source"/>.</summary>
    public static string Render(TimelineModel model, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        int height = Top + Math.Max(1, model.Lanes.Count) * LaneHeight + 40;
        long span = Math.Max(1_000_000, model.EndNs - model.StartNs);
        // The view: a little room before the first event and after the last, for the end markers.
        double v0 = -0.02 * span / 1e9, v1 = 1.35 * span / 1e9;
        var sb = new StringBuilder(16 * 1024);
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>userlb timeline: ").Append(Html(source)).Append("</title>\n");
        sb.Append("<style>").Append(Style).Append("</style></head>\n<body>\n");
        sb.Append(Inv($"<h1>conntrack timeline <small>{Html(source)} · {model.Lanes.Count} connection(s) · start {Seconds(model.StartNs)} s</small></h1>\n"));
        sb.Append("<p class=\"help\">Bands: the connection's conntrack state. Ticks: its frames, above the band from the client (original direction), below from the backend (reply); red: dropped. Dashed: a state's timeout running out. ×: DESTROY (red: by its timer). Wheel: zoom · drag: pan · double-click: reset.</p>\n");
        sb.Append("<div id=\"info\">hover a band or a frame</div>\n");
        sb.Append(Inv($"<svg id=\"tl\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" data-v0=\"{v0:R}\" data-v1=\"{v1:R}\" data-x0=\"{LabelWidth}\" data-x1=\"{Width - Right}\">\n"));
        sb.Append(Inv($"<rect class=\"plot\" x=\"{LabelWidth}\" y=\"{Top - 4}\" width=\"{Width - Right - LabelWidth}\" height=\"{height - Top - 36}\"/>\n"));
        sb.Append("<g id=\"axis\"></g>\n");
        if (model.Lanes.Count == 0) sb.Append(Inv($"<text x=\"{LabelWidth + 10}\" y=\"{Top + 30}\">no connections in these events</text>\n"));
        for (int i = 0; i < model.Lanes.Count; i++) AppendLane(sb, model.Lanes[i], Top + i * LaneHeight, model.StartNs);
        AppendLegend(sb, model, height - 18);
        sb.Append("</svg>\n");
        if (!model.HasPackets) sb.Append("<p class=\"help\">These events carry no frames (a live run's <code>conntrack -E -o json</code>, or replay without <code>--packet-events</code>): states and timers only.</p>\n");
        sb.Append("<script>").Append(Script).Append("</script>\n</body></html>\n");
        return sb.ToString();
    }

    private static void AppendLane(StringBuilder sb, Lane lane, int y, long startNs)
    {
        sb.Append(Inv($"<g class=\"lane\" data-id=\"{lane.Id}\" transform=\"translate(0,{y})\">\n"));
        sb.Append(Inv($"<line class=\"sep\" x1=\"0\" x2=\"{Width}\" y1=\"{LaneHeight - 1}\" y2=\"{LaneHeight - 1}\"/>\n"));
        sb.Append(Inv($"<text class=\"label\" x=\"6\" y=\"20\">{Html(lane.Title)}</text>\n"));
        string who = (lane.Farm is null ? "" : "farm " + lane.Farm + ", ") + (lane.Backend is null ? "" : "backend " + lane.Backend);
        sb.Append(Inv($"<text class=\"sub\" x=\"6\" y=\"36\">{Html(who)}</text>\n"));
        sb.Append(Inv($"<text class=\"sub\" x=\"6\" y=\"51\">{Html(lane.Translation)}</text>\n"));
        int mid = BandTop + BandHeight / 2;
        sb.Append(Inv($"<line class=\"axisline\" data-t0=\"0\" x1=\"{LabelWidth}\" x2=\"{Width - Right}\" y1=\"{mid}\" y2=\"{mid}\"/>\n"));
        foreach (var b in lane.Bands)
        {
            string colour = StateColours.GetValueOrDefault(b.State, "#bbbbbb");
            // The state a connection is in at the end lasts until its timeout: drawn to its deadline (the view clips it).
            long until = ReferenceEquals(b, lane.Bands[^1]) && !lane.End.Destroyed ? lane.End.DeadlineNs : b.EndNs;
            string info = Inv($"connection {lane.Id}: {b.State} from +{Shown(b.StartNs, startNs)} s {(until == b.EndNs ? "to" : "until its timeout at")} +{Shown(until, startNs)} s, timeout {b.TimeoutSeconds} s");
            sb.Append(Inv($"<rect class=\"band\" data-state=\"{b.State}\" data-t0=\"{Rel(b.StartNs, startNs)}\" data-t1=\"{Rel(until, startNs)}\" y=\"{BandTop}\" height=\"{BandHeight}\" fill=\"{colour}\" data-info=\"{Html(info)}\"><title>{Html(info)}</title></rect>\n"));
            long deadline = b.StartNs + b.TimeoutSeconds * 1_000_000_000L;
            if (deadline <= b.EndNs)
                sb.Append(Inv($"<line class=\"timer\" data-t=\"{Rel(deadline, startNs)}\" y1=\"{BandTop - 6}\" y2=\"{BandTop + BandHeight + 6}\" data-info=\"{Html(b.State)} timeout ({b.TimeoutSeconds} s) runs out\"/>\n"));
        }
        foreach (var p in lane.Packets)
        {
            string kind = p.Verdict == "dropped" ? "drop" : p.Verdict == "queued" ? "queued" : "fwd";
            var text = new StringBuilder(Inv($"#{p.Packet} +{Shown(p.TimeNs, startNs)} s {(p.Reply ? "reply" : "original")}: {p.Summary}"));
            if (p.Nat is not null) text.Append(" → ").Append(p.Nat);
            if (p.Backend is not null) text.Append(" (backend ").Append(p.Backend).Append(')');
            text.Append("; ").Append(p.Verdict).Append(p.Drop is null ? "" : ": " + p.Drop);
            (int y1, int y2) = p.Reply ? (BandTop + BandHeight, LaneHeight - 6) : (5, BandTop);
            sb.Append(Inv($"<line class=\"tick {kind}\" data-t=\"{Rel(p.TimeNs, startNs)}\" data-dir=\"{(p.Reply ? "reply" : "original")}\" y1=\"{y1}\" y2=\"{y2}\" data-info=\"{Html(text.ToString())}\"><title>{Html(text.ToString())}</title></line>\n"));
            sb.Append(Inv($"<text class=\"tl {kind}\" data-t=\"{Rel(p.TimeNs, startNs)}\" data-dir=\"{(p.Reply ? "reply" : "original")}\" y=\"{(p.Reply ? LaneHeight - 8 : 13)}\">{Html(TickLabel(p))}</text>\n"));
        }
        var end = lane.End;
        if (end.Destroyed)
        {
            string what = end.ByTimer ? "DESTROY: its timeout ran out" : "DESTROY";
            sb.Append(Inv($"<text class=\"end{(end.ByTimer ? " expired" : "")}\" data-t=\"{Rel(end.TimeNs, startNs)}\" y=\"{mid + 5}\" data-info=\"{what} at +{Shown(end.TimeNs, startNs)} s\">×<title>{what}</title></text>\n"));
        }
        else
        {
            string state = lane.Bands.Count > 0 ? lane.Bands[^1].State : "";
            string text = Inv($"{state} until +{Shown(end.DeadlineNs, startNs)} s");
            sb.Append(Inv($"<text class=\"alive\" data-t=\"{Rel(end.TimeNs, startNs)}\" y=\"{BandTop + 13}\" data-info=\"alive at the end of the events; {Html(state)} until its timeout at +{Shown(end.DeadlineNs, startNs)} s\">{Html(text)} →</text>\n"));
        }
        sb.Append("</g>\n");
    }

    /// <summary>A frame's short label beside its tick: its TCP flags (or protocol) and where the LB sent it — the
    /// backend's address and name for the client's frames (DNAT), the client's for the backend's; the reason of a drop.</summary>
    public static string TickLabel(PacketRecord p)
    {
        ArgumentNullException.ThrowIfNull(p);
        string s = p.Summary;
        int open = s.IndexOf('[', StringComparison.Ordinal), close = s.IndexOf(']', StringComparison.Ordinal);
        string what = open >= 0 && close > open ? s[(open + 1)..close] : s.Split(' ', ',').FirstOrDefault(w => w is "udp" or "sctp" or "icmp" or "icmpv6") ?? "";
        if (p.Verdict == "dropped") return what + " × " + p.Drop;
        string? to = p.Nat is null ? null
            : p.Reply ? After(p.Nat, "destination back to ") ?? After(p.Nat, "source back to ")
            : After(p.Nat, "DNAT to ");
        return (what + (to is null ? "" : " → " + to) + (p.Reply || p.Backend is null ? "" : " " + p.Backend)).Trim();
    }

    /// <summary>The text after <paramref name="prefix"/> up to the next comma, or null.</summary>
    private static string? After(string text, string prefix)
    {
        int i = text.IndexOf(prefix, StringComparison.Ordinal);
        if (i < 0) return null;
        int start = i + prefix.Length, comma = text.IndexOf(',', start);
        return comma < 0 ? text[start..] : text[start..comma];
    }

    private static void AppendLegend(StringBuilder sb, TimelineModel model, int y)
    {
        var seen = new List<string>();
        foreach (var lane in model.Lanes)
        {
            foreach (var b in lane.Bands)
                if (!seen.Contains(b.State)) seen.Add(b.State);
        }

        int x = LabelWidth;
        sb.Append(Inv($"<g class=\"legend\" transform=\"translate(0,{y})\">"));
        foreach (var state in seen)
        {
            sb.Append(Inv($"<rect x=\"{x}\" y=\"-10\" width=\"14\" height=\"12\" fill=\"{StateColours.GetValueOrDefault(state, "#bbbbbb")}\"/><text x=\"{x + 18}\" y=\"0\">{state}</text>"));
            x += 30 + state.Length * 8;
        }
        sb.Append("</g>\n");
    }

    /// <summary>Seconds since the first event, to the nanosecond (invariant culture).</summary>
    private static string Rel(long ns, long startNs) => ((ns - startNs) / 1e9).ToString("0.#########", CultureInfo.InvariantCulture);

    /// <summary>Seconds since the first event as shown to a reader: to the microsecond.</summary>
    private static string Shown(long ns, long startNs) => ((ns - startNs) / 1e9).ToString("0.######", CultureInfo.InvariantCulture);

    private static string Seconds(long ns) => (ns / 1e9).ToString("0.000000", CultureInfo.InvariantCulture);

    private static string Html(string s) => WebUtility.HtmlEncode(s);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private const string Style = """
        body{font:13px system-ui,sans-serif;margin:16px;color:#222;background:#fff}
        h1{font-size:17px;margin:0 0 4px}h1 small{font-weight:normal;color:#666}
        .help{color:#555;margin:2px 0 6px}#info{font:12px ui-monospace,monospace;background:#f6f6f6;border:1px solid #ddd;padding:4px 6px;min-height:16px;margin-bottom:6px;white-space:pre-wrap}
        svg{user-select:none;cursor:grab;border:1px solid #ddd}.plot{fill:#fcfcfc}
        .label{font-weight:600;font-size:12px}.sub{font-size:11px;fill:#555}.sep{stroke:#e4e4e4}.axisline{stroke:#ccc}
        .band{stroke:#fff;stroke-width:0.5}.band:hover{stroke:#000;stroke-width:1.5}
        .tick{stroke-width:2}.tick.fwd{stroke:#333}.tick.drop{stroke:#d00}.tick.queued{stroke:#c80}.tick:hover{stroke-width:4}
        .timer{stroke:#555;stroke-dasharray:3 2}.end{font-size:16px;fill:#333;text-anchor:middle}.end.expired{fill:#d00}
        .alive{font-size:11px;fill:#111;pointer-events:none}.tl{font-size:9px;fill:#444;pointer-events:none}.tl.drop{fill:#d00}.grid{stroke:#eee}.axis text{font-size:10px;fill:#666;text-anchor:middle}.legend text{font-size:11px}
        """;

    /// <summary>Positions everything from its data-t / data-t0,data-t1 (seconds since the first event) for the current view; zoom, pan, hover.</summary>
    private const string Script = """
        (function(){
        var svg=document.getElementById('tl'),info=document.getElementById('info');
        var X0=+svg.dataset.x0,X1=+svg.dataset.x1,F0=+svg.dataset.v0,F1=+svg.dataset.v1,v0=F0,v1=F1;
        var H=+svg.getAttribute('height');
        function x(t){return X0+(t-v0)/(v1-v0)*(X1-X0);}
        function fmt(t,step){var d=Math.max(0,Math.ceil(-Math.log10(step)));return '+'+t.toFixed(Math.min(9,d))+' s';}
        function axis(){var g=document.getElementById('axis');while(g.firstChild)g.removeChild(g.firstChild);
          var raw=(v1-v0)/8,p=Math.pow(10,Math.floor(Math.log10(raw))),m=raw/p,step=(m<2?2:m<5?5:10)*p;
          for(var t=Math.ceil(v0/step)*step;t<=v1;t+=step){var xx=x(t);
            var l=document.createElementNS(svg.namespaceURI,'line');l.setAttribute('class','grid');l.setAttribute('x1',xx);l.setAttribute('x2',xx);l.setAttribute('y1',24);l.setAttribute('y2',H-36);g.appendChild(l);
            var s=document.createElementNS(svg.namespaceURI,'text');s.setAttribute('x',xx);s.setAttribute('y',20);s.textContent=fmt(t,step);g.appendChild(s);}
          g.setAttribute('class','axis');}
        function draw(){axis();
          svg.querySelectorAll('[data-t1]').forEach(function(r){var a=Math.max(X0,x(+r.dataset.t0)),b=Math.min(X1,x(+r.dataset.t1));
            r.style.display=b<a?'none':'';r.setAttribute('x',a);r.setAttribute('width',Math.max(0,b-a));});
          svg.querySelectorAll('[data-t]').forEach(function(e){var xx=x(+e.dataset.t),out=xx<X0-1||xx>X1+1;e.style.display=out?'none':'';
            if(e.tagName==='line'){e.setAttribute('x1',xx);e.setAttribute('x2',xx);}else{e.setAttribute('x',e.classList.contains('alive')?Math.min(xx+4,X1-4-e.getComputedTextLength()):e.classList.contains('tl')?xx+3:xx);}});
          // a frame's label only where it does not run into the next one of its lane and direction
          var ticks={},last={};svg.querySelectorAll('line.tick').forEach(function(t){var k=t.parentNode.dataset.id+t.dataset.dir;(ticks[k]=ticks[k]||[]).push(+t.getAttribute('x1'));});
          var seen={};svg.querySelectorAll('text.tl').forEach(function(e){var k=e.parentNode.dataset.id+e.dataset.dir,i=seen[k]=(seen[k]||0)+1;
            if(e.style.display==='none')return;var x0=+e.getAttribute('x'),w=e.getComputedTextLength(),next=(ticks[k]||[])[i];
            if(x0<(last[k]||0)+4||x0+w>X1||(next!==undefined&&x0+w>next-2)){e.style.display='none';return;}last[k]=x0+w;});}
        function timeAt(ev){var r=svg.getBoundingClientRect(),px=(ev.clientX-r.left)*svg.viewBox.baseVal.width/r.width;return v0+(px-X0)/(X1-X0)*(v1-v0);}
        svg.addEventListener('wheel',function(ev){ev.preventDefault();var t=timeAt(ev),k=ev.deltaY<0?0.8:1.25;v0=t-(t-v0)*k;v1=t+(v1-t)*k;draw();},{passive:false});
        var drag=null;svg.addEventListener('mousedown',function(ev){drag={t:timeAt(ev),v0:v0,v1:v1};svg.style.cursor='grabbing';});
        window.addEventListener('mousemove',function(ev){if(!drag)return;var d=timeAt(ev)-drag.t;v0-=d;v1-=d;draw();drag.t=timeAt(ev);});
        window.addEventListener('mouseup',function(){drag=null;svg.style.cursor='';});
        svg.addEventListener('dblclick',function(){v0=F0;v1=F1;draw();});
        svg.addEventListener('mouseover',function(ev){var e=ev.target.closest('[data-info]');if(e)info.textContent=e.dataset.info;});
        draw();})();
        """;
}
