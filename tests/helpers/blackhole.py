#!/usr/bin/python3
"""A listener whose backlog is full (tests/t-forward.sh): connections to it
are never accepted, so a channel opened there waits for an answer.

Usage: blackhole.py ADDR PORT READY_FILE (READY_FILE is made once the
backlog is full; the program then sleeps 300 s)."""
import socket, sys, time
s = socket.socket()
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(0)
held = []
for i in range(3):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect((sys.argv[1], int(sys.argv[2])))
    except BlockingIOError:
        pass
    held.append(c)
open(sys.argv[3], 'w').close()
time.sleep(300)
