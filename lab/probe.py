#!/usr/bin/env python3
"""Lab probe for the tests: probe.py VIP SPEC... (VIP IPv4 or IPv6) with SPEC = tcp:PORT:N or udp:PORT:N (N new connections / exchanges,
one at a time). Prints one JSON object: per SPEC the successes, failures, which backend answered and what it saw as the
client (address; whether it saw our own source port), the backend's local port, where the replies came from, the
client ports used in order ("ports") and the indices in "ports" of those the backend saw replaced by another ("moved": an SNAT clash),
with the port it saw instead ("moved_to", in the same order: that port is then taken on the VIP's side and a later
connection from it clashes in turn)."""
import collections, json, socket, sys

def parse(text):
    first, _, second = text.partition("\n")
    backend, _, saw = first.partition(" saw ")
    parts = second.split()
    return backend, saw.strip(), int(parts[1]), int(parts[2])

def one(proto, vip, port):
    if proto == "tcp":
        with socket.create_connection((vip, port), timeout=3) as s:
            local = s.getsockname()[1]; peer = s.getpeername()
            s.sendall(f"GET / HTTP/1.0\r\nHost: {vip}\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.0 200"):
            raise OSError(f"bad reply {data[:60]!r}")
        return local, peer, body.decode()
    s = socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    try:
        s.sendto(b"ping", (vip, port))
        data, peer = s.recvfrom(2048)
        return s.getsockname()[1], peer, data.decode()
    finally:
        s.close()

vip, out = sys.argv[1], {}
for spec in sys.argv[2:]:
    proto, port, n = spec.split(":"); port = int(port); n = int(n)
    r = out[spec] = {"ok": 0, "fail": 0, "errors": [], "by": collections.Counter(), "saw_own_port": 0,
                     "backend_port": collections.Counter(), "reply_from": collections.Counter(), "ports": [], "moved": [], "moved_to": []}
    streak = 0
    for i in range(n):
        if streak >= 5:  # the path is broken: don't spend 3 s per remaining attempt
            r["fail"] += n - i; r["errors"].append(f"gave up after 5 failures in a row ({n - i} not tried)")
            break
        try:
            local, peer, text = one(proto, vip, port)
            backend, saw, saw_port, backend_port = parse(text)
            r["ok"] += 1
            r["by"][f"{backend} {saw}"] += 1
            r["saw_own_port"] += saw_port == local
            if saw_port != local: r["moved"].append(len(r["ports"])); r["moved_to"].append(saw_port)
            r["ports"].append(local)
            r["backend_port"][str(backend_port)] += 1
            r["reply_from"][f"{peer[0]}:{peer[1]}"] += 1
            streak = 0
        except (OSError, ValueError, IndexError) as e:
            r["fail"] += 1; streak += 1
            if len(r["errors"]) < 3: r["errors"].append(str(e))
print(json.dumps(out))
