#!/usr/bin/env python3
"""Lab probe from chosen client ports: ports.py VIP PORT FIRST COUNT MODE (VIP IPv4 or IPv6). COUNT TCP connections to VIP:PORT from the
source ports FIRST … FIRST+COUNT-1, one after another (the kernel would pick only even ports for connect(), so every
connection of a client would land on one of two workers). MODE request: each sends an HTTP request and closes; the
result is the first line of the answer ("bck0 saw …"). MODE hold: each connects (3 s) and stays open until all are
tried; the result is "ok". A failure is "error: …". Prints one JSON object {port: result}."""
import json, socket, sys

vip, vport, first, count, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
out, held = {}, []
for port in range(first, first + count):
    v6 = ":" in vip
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(3)
    try:
        s.bind(("::" if v6 else "0.0.0.0", port))
        s.connect((vip, vport))
        if mode == "hold":
            held.append(s); out[port] = "ok"; continue
        s.sendall(f"GET / HTTP/1.0\r\nHost: {vip}\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
        out[port] = data.partition(b"\r\n\r\n")[2].decode().split("\n")[0]
    except OSError as e:
        out[port] = f"error: {e}"
    if mode != "hold":
        s.close()
print(json.dumps(out))
for s in held:
    s.close()
