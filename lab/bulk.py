#!/usr/bin/env python3
"""Bulk transfer for the lab tests, checked end to end.
  bulk.py serve PORT [ipv6]     accept connections (with ipv6: on IPv6 and IPv4); read each to EOF, answer the sha256 of what came (hex), close
  bulk.py send HOST PORT MB     send MB megabytes of deterministic bytes, half-close, print {"sent":…, "ok": bool, "seconds":…}"""
import hashlib, json, socket, sys, threading, time

def serve(port, ipv6=False):
    s = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if ipv6 else "0.0.0.0", port)); s.listen(16)
    def one(c):
        h = hashlib.sha256()
        with c:
            while chunk := c.recv(1 << 20):
                h.update(chunk)
            c.sendall(h.hexdigest().encode())
    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()

def send(host, port, mb):
    block = bytes((i * 131 + 7) & 0xFF for i in range(1 << 20))
    h = hashlib.sha256()
    t = time.monotonic()
    with socket.create_connection((host, port), timeout=20) as c:
        for i in range(mb):
            piece = block[i % 251:] + block[:i % 251]  # each megabyte different
            c.sendall(piece); h.update(piece)
        c.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := c.recv(256):
            answer += chunk
    print(json.dumps({"sent": mb << 20, "ok": answer.decode() == h.hexdigest(), "seconds": round(time.monotonic() - t, 3)}))

if __name__ == "__main__":
    if sys.argv[1] == "serve": serve(int(sys.argv[2]), sys.argv[3:] == ["ipv6"])
    else: send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
