#!/usr/bin/env python3
"""Lab backend: HTTP_PORTS (e.g. 80 or 80,443) HTTP servers answering "<name> saw <client-ip>" then "port <client-port> <local-port>", and a UDP server
answering the same. Logs each client. server.py NAME HTTP_PORTS UDP_PORT LOG [ipv6]: with ipv6, the same on IPv6 too."""
import socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

name, http_ports, udp_port, log_path = sys.argv[1], [int(p) for p in sys.argv[2].split(",")], int(sys.argv[3]), sys.argv[4]
ipv6 = sys.argv[5:] == ["ipv6"]
lock = threading.Lock()

def log(kind, addr):
    with lock, open(log_path, "a") as f:
        f.write(f"{kind} {addr}\n")

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        body = f"{name} saw {self.client_address[0]}\nport {self.client_address[1]} {self.server.server_address[1]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        log("tcp", self.client_address[0])
    def log_message(self, *a):
        pass

class H6(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # beside the IPv4 listener on the same port
        super().server_bind()

def udp(family=socket.AF_INET, address="0.0.0.0"):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((address, udp_port))
    while True:
        data, addr = s.recvfrom(2048)
        s.sendto(f"{name} saw {addr[0]}\nport {addr[1]} {udp_port}\n".encode(), addr)
        log("udp", addr[0])

threading.Thread(target=udp, daemon=True).start()
if ipv6:
    threading.Thread(target=udp, args=(socket.AF_INET6, "::"), daemon=True).start()
    for p in http_ports:
        threading.Thread(target=H6(("::", p), H).serve_forever, daemon=True).start()
for p in http_ports[1:]:
    threading.Thread(target=ThreadingHTTPServer(("0.0.0.0", p), H).serve_forever, daemon=True).start()
ThreadingHTTPServer(("0.0.0.0", http_ports[0]), H).serve_forever()
