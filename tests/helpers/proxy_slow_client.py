#!/usr/bin/python3
"""Sends a PROXY v1 header one byte at a time, then prints the head of the
answer (tests/t-proxyproto.sh). Usage: proxy_slow_client.py ADDR PORT SRC"""
import socket, sys, time
s = socket.socket(); s.bind((sys.argv[3], 0)); s.settimeout(10)
s.connect((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for b in b"PROXY TCP4 192.0.2.80 127.0.0.1 40006 2222\r\n":
    s.send(bytes([b])); time.sleep(0.01)
got = b""
try:
    while b"\n" not in got:
        c = s.recv(4096)
        if not c: break
        got += c
except Exception as e:
    print("error", e)
print("head=%r" % got[:24])
