#!/usr/bin/python3
"""A raw TCP client that sends hostile bytes to an SSH server
(tests/t-hostile.sh), or a PROXY protocol header (tests/t-proxyproto.sh).

Usage: raw_client.py [--from SRC] [--banner] ADDR PORT KIND [close|hold] [WAIT]
KIND, what is sent right after connecting:
  random          4 KiB of random bytes instead of a banner
  longline        64 KiB without a line end, instead of a banner
  ssh1            an SSH-1.5 banner (a protocol version nobody speaks)
  garbage         a valid SSH-2.0 banner, then 4 KiB of random bytes
  hugepacket      a valid banner, then a packet header claiming 4 GiB
  kex-truncated   a valid banner, then the first half of a KEXINIT packet
  banner-only     a valid banner, nothing more
  nothing         nothing at all
  hex:HEX         the bytes HEX, in hex digits (none when HEX is empty)
Then "close" (the default) shuts down the sending side at once, "hold"
keeps it open; either way the client reads until the server closes the
connection or WAIT seconds (default 15) have passed, and prints one line
  port=LOCAL_PORT end=eof|reset|timeout|banner elapsed=SECONDS bytes=N head=...
--from SRC connects from the address SRC; with --banner the client stops
reading at the server's first line end (end=banner).
"""

import argparse
import os
import socket
import struct
import sys
import time

BANNER = b"SSH-2.0-OpenSSH_9.2p1 srt-raw\r\n"


def name_list(names):
    data = ",".join(names).encode()
    return struct.pack(">I", len(data)) + data


def kexinit():
    payload = bytes([20]) + os.urandom(16)
    for names in (["curve25519-sha256", "diffie-hellman-group14-sha256"],
                  ["ssh-ed25519"],
                  ["chacha20-poly1305@openssh.com"], ["chacha20-poly1305@openssh.com"],
                  ["hmac-sha2-256"], ["hmac-sha2-256"],
                  ["none"], ["none"], [], []):
        payload += name_list(names)
    payload += b"\x00" + b"\x00\x00\x00\x00"
    pad = 8 - (len(payload) + 5) % 8
    if pad < 4:
        pad += 8
    return struct.pack(">IB", len(payload) + pad + 1, pad) + payload + b"\x00" * pad


def data_for(kind):
    if kind == "random":
        # A random first line could start with "SSH-" by chance: it does not.
        return b"\x00" + os.urandom(4095)
    if kind == "longline":
        return b"A" * 65536
    if kind == "ssh1":
        return b"SSH-1.5-srt-raw\r\n" + b"\x00" * 64
    if kind == "garbage":
        return BANNER + os.urandom(4096)
    if kind == "hugepacket":
        return BANNER + b"\xff\xff\xff\xff" + os.urandom(60)
    if kind == "kex-truncated":
        packet = kexinit()
        return BANNER + packet[: len(packet) // 2]
    if kind == "banner-only":
        return BANNER
    if kind == "nothing":
        return b""
    if kind.startswith("hex:"):
        return bytes.fromhex(kind[4:])
    sys.exit("raw_client: unknown kind %s" % kind)


def main():
    parser = argparse.ArgumentParser(prog="raw_client.py")
    parser.add_argument("--from", dest="src")
    parser.add_argument("--banner", action="store_true")
    parser.add_argument("addr")
    parser.add_argument("port", type=int)
    parser.add_argument("kind")
    parser.add_argument("how", nargs="?", choices=("close", "hold"), default="close")
    parser.add_argument("wait", nargs="?", type=float, default=15.0)
    args = parser.parse_args()
    s = socket.create_connection((args.addr, args.port), timeout=10,
                                 source_address=(args.src, 0) if args.src else None)
    local_port = s.getsockname()[1]
    t0 = time.monotonic()
    got = b""
    end = "timeout"
    try:
        data = data_for(args.kind)
        if data:
            s.sendall(data)
        if args.how == "close":
            s.shutdown(socket.SHUT_WR)
        s.settimeout(0.5)
        while time.monotonic() - t0 < args.wait:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                end = "eof"
                break
            got += chunk
            if args.banner and b"\n" in got:
                end = "banner"
                break
    except (ConnectionResetError, BrokenPipeError):
        end = "reset"
    print("port=%d end=%s elapsed=%.1f bytes=%d head=%r"
          % (local_port, end, time.monotonic() - t0, len(got), got[:24]), flush=True)
    s.close()


main()
