#!/usr/bin/env python3
"""Lab client: N HTTP requests (new TCP connection each) and N UDP exchanges to the VIP (IPv4 or IPv6); prints who answered."""
import collections, socket, sys

vip, http_port, udp_port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = fail = 0
tcp = collections.Counter(); udp = collections.Counter()
for i in range(n):
    try:
        with socket.create_connection((vip, http_port), timeout=3) as s:
            s.sendall(f"GET / HTTP/1.0\r\nHost: {vip}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.0 200") and b" saw " in body:
            ok += 1; tcp[body.decode().splitlines()[0]] += 1
        else:
            fail += 1; print(f"tcp request {i}: bad reply {data[:80]!r}")
    except OSError as e:
        fail += 1; print(f"tcp request {i}: {e}")
for i in range(n):
    s = socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    try:
        s.sendto(f"ping {i}".encode(), (vip, udp_port))
        data, _ = s.recvfrom(2048)
        ok += 1; udp[data.decode().splitlines()[0]] += 1
    except OSError as e:
        fail += 1; print(f"udp exchange {i}: {e}")
    finally:
        s.close()
for k, v in sorted(tcp.items()): print(f"  tcp  {v:4d} x  {k}")
for k, v in sorted(udp.items()): print(f"  udp  {v:4d} x  {k}")
print(f"  {ok} succeeded, {fail} failed")
sys.exit(1 if fail else 0)
