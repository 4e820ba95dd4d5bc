#!/usr/bin/env python3
"""Traffic and measurement tools for lab/scale-out.sh (the tier of several UserLB instances behind ECMP and BGP).
  tier.py short VIP PORT RATE SECONDS TIMEOUT OUT    a stream of short HTTP/1.0 connections, RATE per second for SECONDS,
                                                     each given TIMEOUT s to be answered "bckN"; writes OUT (JSON lines:
                                                     [start unix time, seconds taken, backend or null, error or null])
  tier.py routes NS PREFIX OUT                       polls `ip -n NS route show PREFIX` every 50 ms; writes OUT (a line
                                                     "unix-time gw1,gw2,..." at start and at each change) until killed
  tier.py events URL KEY OUT                         appends the instance's NEW connections to port 80 (GET /conntrack/events,
                                                     its key) to OUT as "UNIX-TIME CLIENT-PORT" lines, until killed
  tier.py cpu PID...                                 prints "UNIX-TIME PID:CPU-SECONDS ..." (utime+stime of each process)
  tier.py wrk SECONDS URL OUT                        wrk -t1 -c64 -dSECONDS (Connection: close) to OUT, then its CPU seconds
  tier.py scale-row K WRK-OUT BEFORE AFTER SECONDS   one row of the scaling table (wrk's output and two cpu lines)
  tier.py report WORK                                reads WORK's results (see scale-out.sh) and prints the event's figures"""
import asyncio, json, os, re, subprocess, sys, time, urllib.request


async def one(vip, port, timeout, out):
    start = time.time()
    t = time.monotonic()
    try:
        async def go():
            r, w = await asyncio.open_connection(vip, port)
            w.write(b"GET / HTTP/1.0\r\n\r\n")
            data = await r.read()
            w.close()
            return data
        data = await asyncio.wait_for(go(), timeout)
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"):
            out.append([start, time.monotonic() - t, body.decode().strip(), None])
        else:
            out.append([start, time.monotonic() - t, None, f"bad reply {data[:40]!r}"])
    except (OSError, asyncio.TimeoutError) as e:
        out.append([start, time.monotonic() - t, None, type(e).__name__ + (f": {e}" if str(e) else "")])


async def short(vip, port, rate, seconds, timeout, path):
    out, tasks = [], []
    t0 = time.monotonic()
    n = int(rate * seconds)
    for i in range(n):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(vip, port, timeout, out)))
    await asyncio.gather(*tasks)
    with open(path, "w") as f:
        for row in sorted(out):
            f.write(json.dumps(row) + "\n")


def gateways(ns, prefix):
    try:
        routes = json.loads(subprocess.run(["ip", "-n", ns, "-j", "route", "show", prefix], capture_output=True, text=True).stdout or "[]")
    except json.JSONDecodeError:
        return ""
    gws = []
    for r in routes:
        if "gateway" in r:
            gws.append(r["gateway"])
        for nh in r.get("nexthops", []):
            gws.append(nh.get("gateway", "?"))
    return ",".join(sorted(gws))


def routes(ns, prefix, path):
    last = None
    with open(path, "a") as f:
        while True:
            now = time.time()
            g = gateways(ns, prefix)
            if g != last:
                f.write(f"{now:.3f} {g or '-'}\n")
                f.flush()
                last = g
            time.sleep(0.05)


def events(url, key, path):
    req = urllib.request.Request(url.rstrip("/") + "/conntrack/events?events=NEW&dport=80", headers={"Key": key})
    with urllib.request.urlopen(req, timeout=600) as r, open(path, "a") as f:
        for raw in r:
            m = re.search(rb"sport=(\d+)", raw)
            if m:
                f.write(f"{time.time():.3f} {int(m.group(1))}\n")
                f.flush()


def read_events(path):
    try:
        return [(float(t), int(p)) for t, p in (l.split() for l in open(path))]
    except FileNotFoundError:
        return []


def report(work):
    meta = json.load(open(os.path.join(work, "event.json")))
    kill, victim, n = meta["kill"], meta["victim"], meta["instances"]
    print(f"== {meta['label']}: {n} instances, instance {victim} killed with SIGKILL at t=0")
    # Withdrawal: the first route change after the kill whose gateways no longer hold the victim's.
    gone = None
    for line in open(os.path.join(work, "routes.log")):
        t, gws = line.split()
        if float(t) >= kill and meta["victim_addr"] not in gws.split(","):
            gone = float(t) - kill
            break
    print(f"  router: the victim's next hop left the VIP's multipath route after {gone * 1000:.0f} ms" if gone is not None
          else "  router: the victim's next hop did NOT leave the VIP's route")
    # Flows per instance (their NEW events), and the downloads that moved: a download port that shows up NEW on
    # another instance after the kill (a mid-stream segment picked up there).
    lo, hi = meta["ports"]
    ev = {i: read_events(os.path.join(work, f"events-{i}.log")) for i in range(n)}
    stateless = not any(ev.values())
    first = {}
    for i in range(n):
        for t, p in ev[i]:
            if lo <= p <= hi and t < kill and p not in first:
                first[p] = i
    for i in range(n):
        carried = meta["connections"].get(str(i), "?")
        tail = " (killed: its counter as last read just before the kill)" if i == victim else ""
        dl = sum(1 for p, j in first.items() if j == i)
        if stateless:
            print(f"  instance {i}: {carried} SYNs to the VIP (its nft counter){tail}")
        else:
            print(f"  instance {i}: {carried} connections carried{tail}; {dl} of the downloads started on it")
    moved = {}
    for i in range(n):
        for t, p in ev[i]:
            if lo <= p <= hi and t >= kill and first.get(p, i) != i:
                moved.setdefault(p, (first[p], i))
    if stateless:
        print("  downloads that moved: not visible (the kernel's DSR keeps no state to list)")
    else:
        from_victim = sum(1 for a, b in moved.values() if a == victim)
        print(f"  downloads that moved to another instance: {len(moved)} (from the killed one: {from_victim} of "
              f"{sum(1 for j in first.values() if j == victim)}; between survivors, ECMP's rehash: {len(moved) - from_victim})")
    # Downloads, byte for byte.
    ok = total = 0
    bad = []
    for line in open(os.path.join(work, "downloads.txt")):
        port, rc, *got = line.split()
        got = got[0] if got else "none"
        total += 1
        if rc == "0" and got == meta["sha256"]:
            ok += 1
        else:
            bad.append(f"{port}(curl {rc})")
    print(f"  long downloads complete byte for byte (sha256): {ok} of {total}" + (f"; failed: {' '.join(bad)}" if bad else ""))
    # Short connections: all, and those started within the event's window.
    rows = [json.loads(l) for l in open(os.path.join(work, "short.jsonl"))]
    win = [r for r in rows if kill - 0.5 <= r[0] <= kill + meta["window"]]
    def pct(rs):
        good = sum(1 for r in rs if r[2])
        return good, len(rs), 100.0 * good / len(rs) if rs else 0.0
    g, t, p = pct(rows)
    gw, tw, pw = pct(win)
    slow = sum(1 for r in win if r[2] and r[1] > 0.9)
    print(f"  short connections: {g} of {t} succeeded ({p:.2f} %); in the event window (-0.5 s .. +{meta['window']} s): "
          f"{gw} of {tw} ({pw:.2f} %), {slow} of them only after a SYN retransmission (> 0.9 s)")
    errors = {}
    for r in rows:
        if r[3]:
            errors[r[3]] = errors.get(r[3], 0) + 1
    if errors:
        print("  short connection errors: " + "; ".join(f"{k} x{v}" for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:4]))
    summary = {"label": meta["label"], "withdraw_ms": None if gone is None else round(gone * 1000), "downloads_ok": ok, "downloads": total,
               "moved": len(moved), "victim_downloads": sum(1 for j in first.values() if j == victim), "short_ok_pct": round(p, 2), "short_window_ok_pct": round(pw, 2)}
    with open(os.path.join(work, "summary.json"), "w") as f:
        json.dump(summary, f)
    return 0


def cpu(pids):
    hz = os.sysconf("SC_CLK_TCK")
    parts = [f"{time.time():.3f}"]
    for pid in pids:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            parts.append(f"{pid}:{(int(f[11]) + int(f[12])) / hz:.2f}")
        except (FileNotFoundError, IndexError, ValueError):
            parts.append(f"{pid}:0")
    with open("/proc/stat") as st:
        c = [int(x) for x in st.readline().split()[1:]]
    parts.append(f"idle:{c[3] + c[4]}:{sum(c)}")
    print(" ".join(parts))


def parse_cpu(line):
    t, *rest = line.split()
    procs, idle = {}, None
    for r in rest:
        a = r.split(":")
        if a[0] == "idle":
            idle = (int(a[1]), int(a[2]))
        else:
            procs[a[0]] = float(a[1])
    return float(t), procs, idle


def run_wrk(seconds, url, out):
    """wrk -t1 -c64 with Connection: close; its output and then its own CPU seconds (from the child's rusage) to OUT."""
    import resource
    p = subprocess.run(["wrk", "-t1", "-c64", f"-d{seconds}", "-H", "Connection: close", url], capture_output=True, text=True)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        f.write(p.stdout + p.stderr + f"wrk-cpu-seconds: {ru.ru_utime + ru.ru_stime:.2f}\n")


def scale_row(k, wrk_out, before, after, seconds):
    text = open(wrk_out).read()
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    rps = float(m.group(1)) if m else 0.0
    errs = re.search(r"Socket errors: (.*)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    wcpu = re.search(r"wrk-cpu-seconds: ([\d.]+)", text)
    t0, p0, i0 = parse_cpu(before)
    t1, p1, i1 = parse_cpu(after)
    dt = t1 - t0
    per = [100 * (p1[pid] - p0[pid]) / dt for pid in p0]
    idle = 100 * (os.cpu_count() or 1) * (i1[0] - i0[0]) / max(1, i1[1] - i0[1])
    wrk_cpu = f"{100 * float(wcpu.group(1)) / float(seconds):.0f}" if wcpu else "-"
    errors = (errs.group(1) if errs else "none") + (f", non-2xx {non2xx.group(1)}" if non2xx else "")
    print(f"  {k:<3} {rps:10.0f} {sum(per):12.0f}  {' '.join(f'{x:.0f}' for x in per):<26} {wrk_cpu:>8} {idle:8.0f} {errors}", flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "short":
        vip, port, rate, seconds, timeout, out = sys.argv[2:8]
        asyncio.run(short(vip, int(port), float(rate), float(seconds), float(timeout), out))
    elif cmd == "routes":
        routes(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "events":
        events(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "cpu":
        cpu(sys.argv[2:])
    elif cmd == "scale-row":
        scale_row(*sys.argv[2:7])
    elif cmd == "wrk":
        run_wrk(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "report":
        sys.exit(report(sys.argv[2]))
    else:
        print(__doc__)
        sys.exit(2)
