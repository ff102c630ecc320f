#!/usr/bin/python3
"""paramiko clients that misbehave on purpose (tests/t-faults.sh, t-hostile.sh).

  ssh_probe.py login ADDR PORT USER_HEX PASSWORD KNOWN_HOSTS COMMAND
      Logs in with a password as the user whose name is the bytes USER_HEX
      (hex, so that any byte can be sent), runs COMMAND and prints its
      stdout. The first line on stderr is "PORT N", the local port. Exit status: the command's; 5 authentication failed ("AUTH
      FAILED: ..." on stderr); 6 host key mismatch; 7 the connection broke
      ("SSH ERROR: ..." on stderr).

  ssh_probe.py stall ADDR PORT MODE WAIT
      Stops halfway and waits for the server to give up, at most WAIT s.
      MODE kex: the key exchange, then nothing; fail: the key exchange and
      one wrong password, then nothing; ignore: the key exchange, then only
      SSH_MSG_IGNORE packets, one every 0.5 s. Prints one line
      "end=closed|open elapsed=SECONDS" (and "PORT N" on stderr).
"""

import socket
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import paramiko  # noqa: E402


def connect(addr, port):
    sock = socket.create_connection((addr, int(port)), timeout=10)
    print("PORT %d" % sock.getsockname()[1], file=sys.stderr, flush=True)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    return t


def login(addr, port, user_hex, password, known_hosts, command):
    user = bytes.fromhex(user_hex)
    try:
        t = connect(addr, port)
    except (paramiko.SSHException, OSError) as e:
        print("SSH ERROR: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 7
    port = int(port)
    entry = addr if port == 22 else "[%s]:%d" % (addr, port)
    key = t.get_remote_server_key()
    known = paramiko.HostKeys(known_hosts).lookup(entry) or {}
    if known.get(key.get_name()) != key:
        print("HOST KEY MISMATCH for %s" % entry, file=sys.stderr)
        return 6
    try:
        t.auth_password(user, password)
    except paramiko.AuthenticationException as e:
        print("AUTH FAILED: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 5
    except (paramiko.SSHException, OSError, EOFError) as e:
        print("SSH ERROR: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 7
    try:
        chan = t.open_session(timeout=10)
        chan.settimeout(30)
        chan.exec_command(command)
        out = b""
        while True:
            data = chan.recv(65536)
            if not data:
                break
            out += data
        status = chan.recv_exit_status()
    except (paramiko.SSHException, OSError, EOFError) as e:
        print("SSH ERROR: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 7
    sys.stdout.write(out.decode(errors="replace"))
    t.close()
    return status


def stall(addr, port, mode, wait):
    t0 = time.monotonic()
    t = connect(addr, port)
    if mode == "fail":
        try:
            t.auth_password("srt-alice", "Srt.wrong-pw.9999")
        except paramiko.SSHException:
            pass
    deadline = t0 + float(wait)
    next_ignore = 0.0
    while time.monotonic() < deadline and t.is_active():
        if mode == "ignore" and time.monotonic() >= next_ignore:
            try:
                t.send_ignore(16)
            except (paramiko.SSHException, OSError, EOFError):
                break
            next_ignore = time.monotonic() + 0.5
        time.sleep(0.05)
    end = "open" if t.is_active() else "closed"
    print("end=%s elapsed=%.1f" % (end, time.monotonic() - t0), flush=True)
    t.close()
    return 0


def main():
    if len(sys.argv) == 8 and sys.argv[1] == "login":
        return login(*sys.argv[2:])
    if len(sys.argv) == 6 and sys.argv[1] == "stall":
        return stall(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


sys.exit(main())
