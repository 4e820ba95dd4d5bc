#!/usr/bin/env python3
"""Long-lived TCP connections for the lab tests.
  stream.py server NAME PORTS          line echo on each port (e.g. 90,91): each line is answered "NAME PEER-IP PEER-PORT LINE"
  stream.py client VIP PORT            one connection to VIP:PORT, driven by stdin: "send TIMEOUT TEXT" sends TEXT as a line
                                       and prints one JSON line {"ok": true, "reply": "..."} or {"ok": false, "error": "..."};
                                       prints {"connected": LOCAL-PORT} first (or {"ok": false, ...} and exits).
  stream.py connect VIP PORT COUNT INTERVAL TIMEOUT
                                       COUNT new connections, one every INTERVAL s: connect, one line, reply, close; prints
                                       {"results": [[SECONDS, REPLY or null, ERROR or null], ...]}"""
import json, socket, sys, threading, time

def server(name, ports):
    def serve(conn, peer):
        with conn:
            f = conn.makefile("rb")
            for line in f:
                conn.sendall(f"{name} {peer[0]} {peer[1]} {line.decode().strip()}\n".encode())
    def listen(port):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port)); s.listen(128)
        while True:
            conn, peer = s.accept()
            threading.Thread(target=serve, args=(conn, peer), daemon=True).start()
    ports = [int(p) for p in ports.split(",")]
    for p in ports[1:]:
        threading.Thread(target=listen, args=(p,), daemon=True).start()
    listen(ports[0])

def out(obj):
    print(json.dumps(obj), flush=True)

def client(vip, port):
    try:
        s = socket.create_connection((vip, port), timeout=5)
    except OSError as e:
        out({"ok": False, "error": f"connect: {e}"}); return
    out({"connected": s.getsockname()[1]})
    buf = b""
    for cmd in sys.stdin:
        _, timeout, text = cmd.rstrip("\n").split(" ", 2)
        try:
            s.settimeout(float(timeout))
            s.sendall(text.encode() + b"\n")
            while b"\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    raise OSError("connection closed by the peer")
                buf += chunk
            line, _, buf = buf.partition(b"\n")
            out({"ok": True, "reply": line.decode()})
        except OSError as e:
            out({"ok": False, "error": f"{type(e).__name__}: {e}"})

def connect(vip, port, count, interval, timeout):
    results = []
    for i in range(count):
        start = time.monotonic()
        try:
            with socket.create_connection((vip, port), timeout=timeout) as s:
                s.sendall(f"new-{i}\n".encode())
                buf = b""
                while b"\n" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise OSError("connection closed by the peer")
                    buf += chunk
            results.append([round(time.monotonic() - start, 3), buf.decode().strip(), None])
        except OSError as e:
            results.append([round(time.monotonic() - start, 3), None, f"{type(e).__name__}: {e}"])
        time.sleep(max(0.0, interval - (time.monotonic() - start)))
    out({"results": results})

if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "connect":
        connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]))
    else:
        client(sys.argv[2], int(sys.argv[3]))
