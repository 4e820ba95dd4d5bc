#!/usr/bin/env python3
"""Ties a BGP announcement to a userlb process: the VIP is announced while the process lives and its API says ready,
withdrawn when it drains (GET /ready answers 503), stops answering, or dies.
  announce.py PID READY-URL BIRD-SOCKET PROTOCOL [LOG]
    PID          the `userlb run` process (watched with a pidfd: its death is seen at once, SIGKILL included)
    READY-URL    its GET /ready (e.g. http://127.0.0.1:5555/ready), polled every 200 ms; "none": liveness only
    BIRD-SOCKET  the control socket of the BIRD beside it (bird -s); PROTOCOL the static protocol holding the VIP,
                 exported to BGP: `birdc enable PROTOCOL` announces it, `birdc disable PROTOCOL` withdraws it
    LOG          where to append "UNIX-TIME announce|withdraw|error REASON" lines (default: stdout)
Exits after withdrawing for the process's death (a new process gets a new watcher)."""
import os, select, subprocess, sys, time, urllib.error, urllib.request

POLL_S = 0.2
RESYNC_TICKS = 5  # polls between two idempotent birdc calls (a second)


def log(out, what, reason):
    out.write(f"{time.time():.3f} {what} {reason}\n")
    out.flush()


def ready(url):
    """(ready, definite, reason): a 503 is definite; a failed request may be a busy moment (three in a row count)."""
    if url == "none":
        return True, True, "alive"
    try:
        with urllib.request.urlopen(url, timeout=0.5) as r:
            return r.status == 200, True, f"GET /ready {r.status}"
    except urllib.error.HTTPError as e:
        return False, True, f"GET /ready {e.code} (draining)"
    except OSError as e:
        return False, False, f"GET /ready failed: {getattr(e, 'reason', e)}"


def birdc(sock, verb, protocol):
    """Runs `birdc -s SOCK VERB PROTOCOL`; returns None on success, else the reason."""
    try:
        p = subprocess.run(["birdc", "-s", sock, verb, protocol], capture_output=True, text=True, timeout=2)
    except FileNotFoundError:
        return "birdc is not installed (apt-get install bird2)"
    except subprocess.TimeoutExpired:
        return f"BIRD does not answer on {sock}"
    text = (p.stdout + p.stderr).strip().replace("\n", " ")
    if p.returncode != 0 or "Unable to connect" in text or "syntax error" in text or "No protocols match" in text:
        return f"BIRD on {sock}: {text or 'exit status %d' % p.returncode}"
    return None


def main():
    if len(sys.argv) not in (5, 6):
        print(__doc__, file=sys.stderr)
        return 2
    pid, url, sock, protocol = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    out = open(sys.argv[5], "a") if len(sys.argv) == 6 else sys.stdout
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        log(out, "error", f"no process {pid}: nothing to announce")
        birdc(sock, "disable", protocol)
        return 1
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    announced = None  # unknown at start: the first check sets it either way
    bird_error = None
    failures = 0
    ticks = 0
    while True:
        dead = bool(poller.poll(POLL_S * 1000))
        if dead:
            err = birdc(sock, "disable", protocol)
            log(out, "withdraw" if err is None else "error", f"userlb pid {pid} exited" + ("" if err is None else f"; withdrawing failed: {err}"))
            return 0
        ok, definite, why = ready(url)
        failures = 0 if definite else failures + 1
        if not definite and failures < 3:
            continue
        ticks += 1
        # On a change, and once a second anyway: a BIRD restarted from its config (the VIP disabled) is set again.
        if ok == announced and bird_error is None and ticks % RESYNC_TICKS:
            continue
        err = birdc(sock, "enable" if ok else "disable", protocol)
        if err is None:
            if ok != announced or bird_error is not None:
                log(out, "announce" if ok else "withdraw", why + ("" if bird_error is None else " (BIRD answers again)"))
            announced, bird_error = ok, None
        elif err != bird_error:
            # The daemon is missing or down: say so once, keep trying.
            log(out, "error", err)
            bird_error = err


if __name__ == "__main__":
    sys.exit(main())
