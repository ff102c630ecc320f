#!/usr/bin/python3
"""An "upstream" that accepts TCP connections and does not speak SSH.

Usage: fake_upstream.py ADDR PORT MODE
MODE silent:  accept, never send anything, keep the connection open
     banner:  send an SSH-2.0 banner, then nothing (stuck key exchange)
     garbage: send an SSH-2.0 banner, then bytes that are no SSH packet
     http:    send an HTTP response instead of a banner (lines before the
              banner are allowed, so a client may wait for one)
Each accepted connection is logged to stdout as "accepted PORT"; it is
closed only when the peer closes it or this program ends.
"""

import socket
import sys
import threading

REPLY = {
    "silent": b"",
    "banner": b"SSH-2.0-OpenSSH_9.2p1 srt-stuck\r\n",
    "garbage": b"SSH-2.0-OpenSSH_9.2p1 srt-garbage\r\n" + bytes(range(255, -1, -1)) * 8,
    "http": b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
}


def serve(conn, reply):
    try:
        if reply:
            conn.sendall(reply)
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


def main():
    addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    reply = REPLY[mode]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(64)
    while True:
        conn, peer = srv.accept()
        print("accepted %d" % peer[1], flush=True)
        threading.Thread(target=serve, args=(conn, reply), daemon=True).start()


main()
