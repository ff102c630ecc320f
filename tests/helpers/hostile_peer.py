#!/usr/bin/python3
"""A logged-in client that misbehaves on purpose (tests/t-frontdoor.sh).

Usage: hostile_peer.py ADDR PORT USER PASSWORD MODE [ARG...]
The gateway's host key is not checked (the tests are about what comes after
the login). Password authentication; then MODE:

  flood MIB            exec "sleep 60" (which never reads its stdin) and
                       send MIB MiB into it, ignoring the channel window
                       (paramiko's own window is raised before each send).
                       Prints "sent N" (bytes) and "ended: REASON" when the
                       connection ends.
  sessions N           opens N session channels, keeps them open; prints
                       "opened K refused R", then runs "echo alive" on a new
                       channel after closing one, and prints its output.
  channels N HOST PORT opens N direct-tcpip channels to HOST:PORT (from the
                       upstream), prints "opened K refused R", then runs
                       "echo alive" in a session after closing them.
  listeners N          asks for N remote forwards (port 0) on 127.0.0.1;
                       prints "bound K refused R", then runs "echo alive".
  upload KIB CMD       exec CMD, send KIB KiB (a fixed pattern), send EOF
                       and end the connection at once (TCP shutdown: no
                       more packets, though what the gateway still sends is
                       read, so that no reset destroys data in flight);
                       prints "sha256 HEX" of what was sent.
  violate CMD          exec CMD on one channel and read the first line of
                       its output, the channel left open (CMD goes on);
                       then flood a second one as "flood 8" does. Prints
                       "output LINE" and "ended: REASON".
  upflood N KIB GO     opens N session channels whose command reads nothing
                       until the file GO exists, then prints the SHA-256 of
                       its input; sends KIB KiB into each, keeping to the
                       windows. Once nothing moved for 3 s, prints "stalled
                       after N" (bytes sent), creates GO, and prints
                       "answers K of N right", then runs "echo alive".
  downflood N HOST PORT FILE GO SECONDS
                       opens 2 session channels that run "cat FILE" once
                       the file GO exists, and N-2 direct-tcpip channels to
                       HOST:PORT (a service that sends FILE once GO exists),
                       all with a 32 KiB window; creates GO, reads nothing
                       for SECONDS, then reads them all to their ends and prints
                       "received K of N right", then runs "echo alive".
  oneafteranother N KIB
                       opens N session channels one after the other, each
                       running "sleep 0.3; cat >/dev/null", and sends KIB KiB
                       into each before opening the next, keeping the
                       channels open: each fills the gateway's buffers for
                       its channel while its command sleeps. Prints "filled
                       K" (channels) and "ended: REASON".
  stall SECONDS CMD    exec CMD on a channel with a 32 KiB window, read
                       nothing for SECONDS, then read to the end; prints
                       "received N" (bytes), "sha256 HEX", "exit STATUS"
                       (-1: none) and "ended: REASON".
Exit status 0 unless the login itself fails (5).
"""

import hashlib
import socket
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore")
import paramiko  # noqa: E402


def login(addr, port, user, password):
    sock = socket.create_connection((addr, port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    try:
        t.auth_password(user, password)
    except paramiko.SSHException as e:
        print("AUTH FAILED: %s" % e, file=sys.stderr)
        sys.exit(5)
    return t


def run_echo(t):
    """Runs "echo alive" on a fresh session channel: the connection goes on."""
    try:
        chan = t.open_session(timeout=10)
        chan.settimeout(20)
        chan.exec_command("echo alive")
        out = b""
        while True:
            data = chan.recv(4096)
            if not data:
                break
            out += data
        print("echo: %s" % out.decode().strip(), flush=True)
    except (paramiko.SSHException, OSError, EOFError) as e:
        print("echo failed: %s" % e, flush=True)


def violate(t, command):
    first = t.open_session(timeout=10)
    first.settimeout(30)
    first.exec_command(command)
    out = b""
    while b"\n" not in out:
        data = first.recv(65536)
        if not data:
            break
        out += data
    print("output %s" % out.decode(errors="replace").strip(), flush=True)
    flood(t, 8)


def end_reason(t, reason, seconds):
    """Waits up to seconds for the gateway to end the connection; the
    reason it ended ("still open" when it did not)."""
    for _ in range(int(seconds * 10)):
        if not t.is_active():
            break
        time.sleep(0.1)
    if not t.is_active() and reason == "still open":
        return "connection closed"
    return reason


def flood(t, mib):
    chan = t.open_session(timeout=10)
    chan.exec_command("sleep 60")
    block = b"x" * 32768
    sent = 0
    reason = "still open"
    deadline = time.time() + 60
    try:
        while sent < mib * 1024 * 1024 and time.time() < deadline:
            # paramiko would wait for the gateway's window: pretend it is open
            with chan.lock:
                chan.out_window_size = 1 << 30
            chan.send(block)
            sent += len(block)
            if not t.is_active():
                break
    except (paramiko.SSHException, OSError, EOFError) as e:
        reason = "%s: %s" % (type(e).__name__, e)
    reason = end_reason(t, reason, 10)
    print("sent %d" % sent, flush=True)
    print("ended: %s" % reason, flush=True)


def count_sessions(t, n):
    chans, refused = [], 0
    for _ in range(n):
        try:
            chans.append(t.open_session(timeout=10))
        except paramiko.ChannelException:
            refused += 1
    print("opened %d refused %d" % (len(chans), refused), flush=True)
    if chans:
        chans[0].close()
        time.sleep(0.5)
    run_echo(t)


def count_channels(t, n, host, port):
    chans, refused = [], 0
    for _ in range(n):
        try:
            chans.append(t.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 40000),
                                        timeout=10))
        except paramiko.ChannelException:
            refused += 1
    print("opened %d refused %d" % (len(chans), refused), flush=True)
    for c in chans:
        c.close()
    time.sleep(1)
    run_echo(t)


def count_listeners(t, n):
    bound, refused = 0, 0
    for _ in range(n):
        try:
            t.request_port_forward("127.0.0.1", 0)
            bound += 1
        except paramiko.SSHException:
            refused += 1
    print("bound %d refused %d" % (bound, refused), flush=True)
    run_echo(t)


def upload(t, kib, command):
    chan = t.open_session(timeout=10)
    chan.exec_command(command)
    block = bytes(range(256)) * 4
    digest = hashlib.sha256()
    for _ in range(kib):
        chan.sendall(block)
        digest.update(block)
    chan.shutdown_write()
    t.sock.shutdown(socket.SHUT_WR)
    for _ in range(300):
        if not t.is_active():
            break
        time.sleep(0.1)
    t.close()
    print("sha256 %s" % digest.hexdigest(), flush=True)


def send_all_of(chan, kib, sent, lock):
    block = bytes(range(256)) * 4
    try:
        for _ in range(kib):
            chan.sendall(block)
            with lock:
                sent[0] += len(block)
        chan.shutdown_write()
    except (paramiko.SSHException, OSError, EOFError):
        pass


def read_answer(chan):
    chan.settimeout(60)
    out = b""
    try:
        while True:
            data = chan.recv(4096)
            if not data:
                break
            out += data
    except (paramiko.SSHException, OSError, EOFError):
        pass
    return out.decode(errors="replace").strip()


def upflood(t, n, kib, go):
    command = ("i=0; while [ ! -e %s ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; "
               "sha256sum | cut -c1-64" % go)
    chans = []
    for _ in range(n):
        c = t.open_session(timeout=10)
        c.exec_command(command)
        chans.append(c)
    sent, lock = [0], threading.Lock()
    threads = [threading.Thread(target=send_all_of, args=(c, kib, sent, lock), daemon=True)
               for c in chans]
    for th in threads:
        th.start()
    last, still = -1, 0
    while still < 30 and any(th.is_alive() for th in threads):
        time.sleep(0.1)
        with lock:
            now = sent[0]
        still = still + 1 if now == last else 0
        last = now
    print("stalled after %d" % last, flush=True)
    open(go, "w").close()
    for th in threads:
        th.join(60)
    want = hashlib.sha256(bytes(range(256)) * 4 * kib).hexdigest()
    right = sum(1 for c in chans if read_answer(c) == want)
    print("answers %d of %d right" % (right, n), flush=True)
    run_echo(t)


def downflood(t, n, host, port, path, go, seconds):
    with open(path, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    chans = []
    for _ in range(2):
        c = t.open_session(window_size=32768, max_packet_size=32768, timeout=10)
        c.exec_command("i=0; while [ ! -e %s ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); "
                       "done; cat %s" % (go, path))
        chans.append(c)
    for _ in range(n - 2):
        chans.append(t.open_channel("direct-tcpip", (host, port), ("127.0.0.1", 40000),
                                    window_size=32768, max_packet_size=32768, timeout=10))
    open(go, "w").close()
    time.sleep(seconds)
    results = [False] * n

    def read_one(k):
        c = chans[k]
        c.settimeout(60)
        digest = hashlib.sha256()
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                digest.update(data)
        except (paramiko.SSHException, OSError, EOFError):
            pass
        results[k] = digest.hexdigest() == want

    readers = [threading.Thread(target=read_one, args=(k,), daemon=True) for k in range(n)]
    for th in readers:
        th.start()
    for th in readers:
        th.join(90)
    right = sum(results)
    print("received %d of %d right" % (right, n), flush=True)
    run_echo(t)


def one_after_another(t, n, kib):
    block = bytes(range(256)) * 4
    chans, reason = [], "still open"
    try:
        for _ in range(n):
            c = t.open_session(timeout=10)
            c.exec_command("sleep 0.3; cat >/dev/null")
            c.settimeout(30)
            for _ in range(kib):
                c.sendall(block)
            chans.append(c)
    except (paramiko.SSHException, OSError, EOFError) as e:
        reason = "%s: %s" % (type(e).__name__, e)
    reason = end_reason(t, reason, 5)
    print("filled %d" % len(chans), flush=True)
    print("ended: %s" % reason, flush=True)


def stall(t, seconds, command):
    chan = t.open_session(window_size=32768, max_packet_size=32768, timeout=10)
    chan.exec_command(command)
    time.sleep(seconds)
    chan.settimeout(30)
    got, digest, reason = 0, hashlib.sha256(), "end of data"
    try:
        while True:
            data = chan.recv(65536)
            if not data:
                break
            got += len(data)
            digest.update(data)
    except (paramiko.SSHException, OSError, EOFError) as e:
        reason = "%s: %s" % (type(e).__name__, e)
    status = chan.recv_exit_status() if chan.exit_status_ready() else -1
    print("received %d" % got, flush=True)
    print("sha256 %s" % digest.hexdigest(), flush=True)
    print("exit %d" % status, flush=True)
    print("ended: %s" % reason, flush=True)


def main():
    addr, port, user, password, mode = sys.argv[1:6]
    args = sys.argv[6:]
    t = login(addr, int(port), user, password)
    if mode == "flood":
        flood(t, int(args[0]))
    elif mode == "sessions":
        count_sessions(t, int(args[0]))
    elif mode == "channels":
        count_channels(t, int(args[0]), args[1], int(args[2]))
    elif mode == "listeners":
        count_listeners(t, int(args[0]))
    elif mode == "upload":
        upload(t, int(args[0]), args[1])
        return
    elif mode == "violate":
        violate(t, args[0])
    elif mode == "upflood":
        upflood(t, int(args[0]), int(args[1]), args[2])
    elif mode == "downflood":
        downflood(t, int(args[0]), args[1], int(args[2]), args[3], args[4], float(args[5]))
    elif mode == "oneafteranother":
        one_after_another(t, int(args[0]), int(args[1]))
    elif mode == "stall":
        stall(t, float(args[0]), args[1])
    else:
        sys.exit("hostile_peer: unknown mode %s" % mode)
    t.close()


main()
