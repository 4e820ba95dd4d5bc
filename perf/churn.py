#!/usr/bin/env python3
"""Load for perf/soak.sh: churn.py tcp|udp VIP PORT SECONDS
tcp: new connections back to back (HTTP/1.0 GET to lab/server.py, read to EOF, close); udp: one exchange per fresh
socket (new source port each time). Prints {"ok": N, "fail": N, "seconds": S, "errors": [first distinct errors]}."""
import json, socket, sys, time

kind, vip, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ok = fail = 0
errors = []
start = time.monotonic()
end = start + seconds
while time.monotonic() < end:
    try:
        if kind == "tcp":
            with socket.create_connection((vip, port), timeout=3) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
            if not data.startswith(b"HTTP/1.0 200"):
                raise OSError(f"bad reply {data[:40]!r}")
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(1)
                s.sendto(b"ping", (vip, port))
                s.recvfrom(2048)
        ok += 1
    except OSError as e:
        fail += 1
        text = f"{type(e).__name__}: {e}"
        if text not in errors and len(errors) < 5:
            errors.append(text)
print(json.dumps({"ok": ok, "fail": fail, "seconds": round(time.monotonic() - start, 1), "errors": errors}))
