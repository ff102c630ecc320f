#!/usr/bin/python3
"""A one-connection TCP relay that puts a PROXY header in
front of what it relays, as a load balancer would (tests/t-proxyproto.sh).

Usage: proxy_relay.py LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT HEADER (text,
"\\r\\n" written as those four characters)"""
import select, socket, sys
laddr, lport, taddr, tport, header = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((laddr, lport))
ls.listen(1)
print("listening", flush=True)
ls.settimeout(30)
c, _ = ls.accept()
c.settimeout(10)
first = c.recv(65536)                    # ssh speaks first: its version line
u = socket.create_connection((taddr, tport), timeout=10)
u.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
u.sendall(header.encode().replace(b"\\r\\n", b"\r\n") + first)
for s in (c, u):
    s.settimeout(None)
peer = {c: u, u: c}
while True:
    r, _, _ = select.select([c, u], [], [], 30)
    if not r:
        break
    data = r[0].recv(65536)
    if not data:
        break
    peer[r[0]].sendall(data)
