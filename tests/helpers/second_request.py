#!/usr/bin/python3
"""A client that sends a second exec on a running shell (tests/t-record.sh).

Usage: second_request.py ADDR PORT USER KNOWN_HOSTS MARK
Logs in with the password in $SRT_PASSWORD, opens a session with a pty and
a shell, runs "echo first-MARK", then sends an exec request on the same
channel (wanting no reply), which OpenSSH's sshd refuses (a session runs
one shell or command), then runs "echo second-MARK" in the shell and
exits. Prints "second exec: sent", then the shell's output. Exit status:
the shell's, 5 when the login fails, 6 on a host key mismatch.
"""

import os
import socket
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import paramiko  # noqa: E402


def read_until(chan, text, seconds=15):
    out = b""
    deadline = time.monotonic() + seconds
    while text.encode() not in out and time.monotonic() < deadline:
        if chan.recv_ready():
            out += chan.recv(65536)
        else:
            time.sleep(0.05)
    return out


def main():
    addr, port, user, known_hosts, mark = sys.argv[1:6]
    port = int(port)
    t = paramiko.Transport(socket.create_connection((addr, port), timeout=10))
    t.start_client(timeout=10)
    entry = addr if port == 22 else "[%s]:%d" % (addr, port)
    key = t.get_remote_server_key()
    if (paramiko.HostKeys(known_hosts).lookup(entry) or {}).get(key.get_name()) != key:
        print("HOST KEY MISMATCH for %s" % entry, file=sys.stderr)
        sys.exit(6)
    try:
        t.auth_password(user, os.environ.get("SRT_PASSWORD", ""))
    except paramiko.SSHException as e:
        print("AUTH FAILED: %s" % e, file=sys.stderr)
        sys.exit(5)

    chan = t.open_session(timeout=10)
    chan.settimeout(30)
    chan.get_pty(term="xterm", width=80, height=24)
    chan.invoke_shell()
    chan.sendall(("echo first-%s\n" % mark).encode())
    out = read_until(chan, "first-%s\r\n" % mark)
    # paramiko closes a channel whose request fails: this one wants no
    # reply, so the shell goes on whatever the answer
    m = paramiko.Message()
    m.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("exec")
    m.add_boolean(False)
    m.add_string("echo sneaked-%s" % mark)
    t._send_user_message(m)
    print("second exec: sent", flush=True)
    time.sleep(1)
    chan.sendall(("echo second-%s\nexit\n" % mark).encode())
    while True:
        data = chan.recv(65536)
        if not data:
            break
        out += data
    sys.stdout.write(out.decode(errors="replace"))
    status = chan.recv_exit_status()
    t.close()
    sys.exit(status)


main()
