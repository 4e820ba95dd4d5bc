#!/usr/bin/env python3
"""Runs nftlb's own API test suite (tests/api of github.com/zevenet/nftlb) against `userlb run`.

usage: tests/nftlb-api/run-suite.py NFTLB_DIR [--userlb PATH] [--port N] [--group PREFIX] [--show N] [--quiet]

NFTLB_DIR is an nftlb checkout or export (its tests/api folder, or that folder itself). As nftlb's api_tests.sh does,
each group (folder NNN_*) gets a fresh instance (`userlb run --config {"farms": []} --api 127.0.0.1:PORT --key hola`)
and each step in it sends its request with curl (req.api: VERB, URI, FILE) and then GETs the first segment of the URI
(/farms, /policies or /addresses). A step passes when the reply equals req.out and the GET equals obj.out, byte for
byte. nft.out (the kernel's ruleset) is not compared. Steps with pre.sh or pos.sh (they write nft maps and sets
directly) are sent but not counted: the comparable steps are the others. Prints each failing step with a diff
(--show N: the first N, default all) and the pass count; exit status 0 when every comparable step passes.
"""
import argparse
import difflib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

KEY = "hola"


def parse_api(path):
    """The shell assignments of a req.api file (VERB, URI, FILE, DESC)."""
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if "=" not in line or line.startswith("#"):
                continue
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip().strip('"')
    return values


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(port, verb, uri, data_file=None):
    """The reply body of one request, sent as api_tests.sh sends it (curl -X VERB [-d @FILE])."""
    cmd = ["curl", "-s", "-H", "Key: " + KEY, "-X", verb]
    if data_file is not None:
        cmd += ["-d", "@" + data_file]
    cmd.append("http://127.0.0.1:%d/%s" % (port, uri))
    return subprocess.run(cmd, capture_output=True, check=False).stdout


def start_userlb(userlb, port, workdir):
    config = os.path.join(workdir, "empty.json")
    with open(config, "w", encoding="utf-8") as f:
        json.dump({"farms": []}, f)
    log = open(os.path.join(workdir, "userlb-%d.log" % port), "wb")
    proc = subprocess.Popen(userlb + ["run", "--config", config, "--api", "127.0.0.1:%d" % port, "--key", KEY],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("run-suite: userlb run exited with status %d (log: %s)" % (proc.returncode, log.name))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("run-suite: userlb run did not listen on port %d within 30 s (log: %s)" % (port, log.name))


def stop_userlb(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def diff(expected, got, name):
    lines = difflib.unified_diff(expected.decode("utf-8", "replace").splitlines(keepends=True),
                                 got.decode("utf-8", "replace").splitlines(keepends=True),
                                 "expected/" + name, "userlb/" + name)
    text = "".join(lines)
    if not text:  # only the trailing newline differs
        text = "  (only the end differs: expected %r, got %r)\n" % (expected[-20:], got[-20:])
    return text


def main():
    ap = argparse.ArgumentParser(description="Runs nftlb's API test suite against userlb run.")
    ap.add_argument("nftlb", help="nftlb checkout or export (or its tests/api folder)")
    ap.add_argument("--userlb", help="the userlb command (default: the Release build, else `dotnet run`)")
    ap.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    ap.add_argument("--group", default="", help="only groups whose folder starts with this")
    ap.add_argument("--show", type=int, default=-1, help="print the diffs of the first N failing steps (default all)")
    ap.add_argument("--quiet", action="store_true", help="only the failing step names and the count")
    args = ap.parse_args()

    suite = args.nftlb
    if os.path.isdir(os.path.join(suite, "tests", "api")):
        suite = os.path.join(suite, "tests", "api")
    if not os.path.isdir(suite):
        raise SystemExit("run-suite: %s is not an nftlb checkout nor its tests/api folder" % args.nftlb)
    if shutil.which("curl") is None:
        raise SystemExit("run-suite: curl is required")
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    if args.userlb:
        userlb = args.userlb.split()
    else:
        built = [os.path.join(repo, "src", "UserLB.Cli", "bin", "Release", d, "userlb")
                 for d in sorted(os.listdir(os.path.join(repo, "src", "UserLB.Cli", "bin", "Release")))] \
            if os.path.isdir(os.path.join(repo, "src", "UserLB.Cli", "bin", "Release")) else []
        built = [b for b in built if os.path.exists(b)]
        userlb = [built[-1]] if built else ["dotnet", "run", "--project", os.path.join(repo, "src", "UserLB.Cli"), "-c", "Release", "--"]

    workdir = tempfile.mkdtemp(prefix="nftlb-suite-")
    passed = comparable = shown = 0
    last_file = None
    failures = []
    groups = sorted(d for d in os.listdir(suite) if os.path.isdir(os.path.join(suite, d)) and d.startswith(args.group))
    for group in groups:
        port = args.port or free_port()
        proc = start_userlb(userlb, port, workdir)
        try:
            gdir = os.path.join(suite, group)
            for step in sorted(d for d in os.listdir(gdir) if os.path.isdir(os.path.join(gdir, d))):
                sdir = os.path.join(gdir, step)
                apis = [f for f in os.listdir(sdir) if f.endswith(".api")]
                if not apis:
                    continue
                req = parse_api(os.path.join(sdir, apis[0]))
                verb, uri = req.get("VERB", "GET"), req.get("URI", "")
                # api_tests.sh `source`s each req.api in one shell: a step without FILE keeps the last one set.
                last_file = req.get("FILE") or last_file
                data = os.path.join(sdir, last_file) if last_file else None
                if verb not in ("POST", "PUT", "DELETE", "PATCH") or data is None or not os.path.exists(data):
                    data = None
                reply = curl(port, verb, uri, data)
                objects = curl(port, "GET", uri.split("/")[0])
                if os.path.exists(os.path.join(sdir, "pre.sh")) or os.path.exists(os.path.join(sdir, "pos.sh")):
                    continue
                comparable += 1
                problems = []
                for name, got in (("req.out", reply), ("obj.out", objects)):
                    with open(os.path.join(sdir, name), "rb") as f:
                        expected = f.read()
                    if expected != got:
                        problems.append((name, expected, got))
                if not problems:
                    passed += 1
                    continue
                failures.append("%s/%s (%s)" % (group, step, ", ".join(p[0] for p in problems)))
                if args.quiet or (0 <= args.show <= shown):
                    continue
                shown += 1
                print("FAIL %s/%s: %s %s" % (group, step, verb, uri))
                for name, expected, got in problems:
                    sys.stdout.write(diff(expected, got, name))
        finally:
            stop_userlb(proc)
    print("failing steps:" if failures else "no failing steps")
    for f in failures:
        print("  " + f)
    pct = 100.0 * passed / comparable if comparable else 0.0
    print("passed %d of %d comparable steps (%.1f %%)" % (passed, comparable, pct))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if passed == comparable else 1


if __name__ == "__main__":
    sys.exit(main())
