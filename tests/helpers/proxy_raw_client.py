#!/usr/bin/python3
"""Sends raw bytes (a PROXY header, given in hex) from a chosen source
address and reports what came back (tests/t-proxyproto.sh).

Usage: proxy_raw_client.py ADDR PORT HEXDATA MODE SRC, MODE "banner" (stop
at the first line) or anything else (read to the end); prints
bytes=N end=eof|reset|timeout|banner elapsed=S port=P head=..."""
import socket, sys, time
addr, port, hexdata, mode, src = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind((src, 0))
s.settimeout(10)
s.connect((addr, port))
t0 = time.monotonic()
if hexdata:
    s.sendall(bytes.fromhex(hexdata))
got = b""
end = "timeout"
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            end = "eof"
            break
        got += chunk
        if mode == "banner" and b"\n" in got:
            end = "banner"
            break
except ConnectionResetError:
    end = "reset"
except socket.timeout:
    end = "timeout"
print("bytes=%d end=%s elapsed=%.1f port=%d head=%r"
      % (len(got), end, time.monotonic() - t0, s.getsockname()[1], got[:24]))
s.close()
