#!/usr/bin/python3
"""tests/helpers/no_more_sessions.py ADDR PORT USER KNOWN_HOSTS [--no-more]: logs in
with the password in $SRT_PASSWORD, runs `echo first` on one session
channel, sends no-more-sessions@openssh.com when --no-more is given (as
OpenSSH's ssh does towards OpenSSH servers), then asks for a second session
channel and runs `echo second` there. Prints one line per step:
"first: <output>", then "second: <output>" or "second: refused (<why>)".
"""
import os
import socket
import sys
import warnings

warnings.filterwarnings("ignore")
import paramiko  # noqa: E402


def run(t, command):
    ch = t.open_session(timeout=10)
    ch.exec_command(command)
    out = ch.makefile("r").read().decode(errors="replace").strip()
    ch.close()
    return out


def main():
    addr, port, user, known_hosts = sys.argv[1:5]
    no_more = "--no-more" in sys.argv[5:]
    port = int(port)
    sock = socket.create_connection((addr, port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    keys = paramiko.HostKeys(known_hosts)
    entry = keys.lookup("[%s]:%d" % (addr, port)) or keys.lookup(addr) or {}
    key = t.get_remote_server_key()
    if entry.get(key.get_name()) != key:
        sys.exit("no_more_sessions: host key mismatch")
    t.auth_password(user, os.environ["SRT_PASSWORD"])
    print("first: " + run(t, "echo first"), flush=True)
    if no_more:
        t.global_request("no-more-sessions@openssh.com", wait=False)
    try:
        print("second: " + run(t, "echo second"), flush=True)
    except (paramiko.SSHException, EOFError, OSError) as e:
        print("second: refused (%s)" % (str(e) or type(e).__name__), flush=True)
    t.close()


if __name__ == "__main__":
    main()
