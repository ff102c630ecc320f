#!/usr/bin/python3
"""What a stranger learns before any credential (tests/t-frontdoor.sh).

Usage: probe_names.py ADDR PORT MODE NAME...
  none     for each NAME, ROUNDS times (env PROBE_ROUNDS, default 5): a new
           connection, the key exchange, then a "none" userauth request
           timed on its own. Prints one line per NAME:
             NAME methods=M,... banner=yes|no ms=MEDIAN
  password for each NAME, ROUNDS times: a new connection, the key
           exchange, a "none" request, then a password request with the
           password in $PROBE_PASSWORD (a wrong one), timed from the request
           to the failure. Prints one line per NAME: NAME ms=MEDIAN
  kbdint   for each NAME, ROUNDS times: a new connection, the key exchange,
           a "none" request, then a bare keyboard-interactive request, timed
           until the server's first round arrives; the round is answered
           with nothing and the connection closed. Prints one line per NAME:
             NAME round=[name, instruction, [[prompt, echo], ...]] ms=MEDIAN
  gssapi   one connection as the first NAME: a "none" request, then
           gssapi-with-mic requests (Kerberos OID) until the server ends the
           connection, at most 10. Prints "answers N" (the requests the
           server answered with a failure), "logged_in yes|no" and
           "ended yes|no".
The gateway's host key is not checked: nothing secret is sent.
"""

import socket
import statistics
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore")
import paramiko  # noqa: E402
from paramiko.common import cMSG_USERAUTH_REQUEST  # noqa: E402
from paramiko.message import Message  # noqa: E402

KRB5_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"


def connect(addr, port):
    sock = socket.create_connection((addr, port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    return t


def connect_as(addr, port, name):
    """A connection whose "none" request has named the user."""
    t = connect(addr, port)
    try:
        t.auth_none(name)
    except (paramiko.BadAuthenticationType, paramiko.SSHException):
        pass
    return t


def none_once(addr, port, name):
    t = connect(addr, port)
    methods = []
    start = time.monotonic()
    try:
        t.auth_none(name)
    except paramiko.BadAuthenticationType as e:
        methods = e.allowed_types
    except paramiko.SSHException:
        pass
    ms = (time.monotonic() - start) * 1000
    banner = t.get_banner()
    t.close()
    return ",".join(methods), bool(banner), ms


def probe_none(addr, port, names):
    rounds = int(__import__("os").environ.get("PROBE_ROUNDS", "5"))
    for name in names:
        seen, times, banners = set(), [], False
        for _ in range(rounds):
            methods, banner, ms = none_once(addr, port, name)
            seen.add(methods)
            banners |= banner
            times.append(ms)
        print("%s methods=%s banner=%s ms=%.1f" % (name, "|".join(sorted(seen)),
                                                   "yes" if banners else "no",
                                                   statistics.median(times)), flush=True)


def password_once(addr, port, name, password):
    t = connect_as(addr, port, name)
    start = time.monotonic()
    try:
        t.auth_password(name, password)
    except paramiko.SSHException:
        pass
    ms = (time.monotonic() - start) * 1000
    t.close()
    return ms


def probe_password(addr, port, names):
    os = __import__("os")
    rounds = int(os.environ.get("PROBE_ROUNDS", "5"))
    for name in names:
        times = [password_once(addr, port, name, os.environ.get("PROBE_PASSWORD", ""))
                 for _ in range(rounds)]
        print("%s ms=%.1f" % (name, statistics.median(times)), flush=True)


def kbdint_once(addr, port, name):
    t = connect_as(addr, port, name)
    got = {}
    arrived = threading.Event()

    def handler(title, instruction, prompts):
        got["at"] = time.monotonic()
        got["round"] = [title, instruction, [[p, bool(e)] for p, e in prompts]]
        arrived.set()
        return []

    h = t.auth_handler
    h.auth_event = threading.Event()
    h.auth_method = "keyboard-interactive"
    h.username = name
    h.interactive_handler = handler
    h.submethods = ""
    m = Message()
    m.add_byte(cMSG_USERAUTH_REQUEST)
    m.add_string(name)
    m.add_string("ssh-connection")
    m.add_string("keyboard-interactive")
    m.add_string("")
    m.add_string("")
    start = time.monotonic()
    t._send_message(m)
    arrived.wait(10)
    t.close()
    if "at" not in got:
        return None, None
    return got["round"], (got["at"] - start) * 1000


def probe_kbdint(addr, port, names):
    rounds = int(__import__("os").environ.get("PROBE_ROUNDS", "5"))
    for name in names:
        seen, times = set(), []
        for _ in range(rounds):
            round_, ms = kbdint_once(addr, port, name)
            seen.add(__import__("json").dumps(round_))
            if ms is not None:
                times.append(ms)
        print("%s round=%s ms=%.2f" % (name, "|".join(sorted(seen)),
                                      statistics.median(times) if times else -1), flush=True)


def probe_gssapi(addr, port, name):
    t = connect_as(addr, port, name)
    handler = t.auth_handler
    answers = 0
    for _ in range(10):
        if not t.is_active():
            break
        handler.auth_event = threading.Event()
        m = Message()
        m.add_byte(cMSG_USERAUTH_REQUEST)
        m.add_string(name)
        m.add_string("ssh-connection")
        m.add_string("gssapi-with-mic")
        m.add_int(1)
        m.add_string(KRB5_OID)
        try:
            t._send_message(m)
        except (OSError, EOFError, paramiko.SSHException):
            break
        # a refusal is a USERAUTH_FAILURE, which sets the auth event
        if handler.auth_event.wait(10) and t.is_active():
            answers += 1
    print("answers %d" % answers, flush=True)
    print("logged_in %s" % ("yes" if t.is_authenticated() else "no"), flush=True)
    time.sleep(0.5)
    print("ended %s" % ("no" if t.is_active() else "yes"), flush=True)
    t.close()


def main():
    addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    names = sys.argv[4:]
    if mode == "none":
        probe_none(addr, port, names)
    elif mode == "kbdint":
        probe_kbdint(addr, port, names)
    elif mode == "password":
        probe_password(addr, port, names)
    elif mode == "gssapi":
        probe_gssapi(addr, port, names[0])
    else:
        sys.exit("probe_names: unknown mode %s" % mode)


main()
