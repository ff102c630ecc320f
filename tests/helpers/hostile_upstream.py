#!/usr/bin/python3
"""An SSH upstream that misbehaves on purpose (tests/t-frontdoor.sh).

Usage: hostile_upstream.py ADDR PORT HOST_KEY MODE
Any password logs in. MODE decides:
  flood   on an exec request, sends 200 MiB on the channel, ignoring the
          window the client (sshroute) advertised: paramiko's own window is
          raised before each send.
  nomore  sends its own no-more-sessions@openssh.com global request right
          after the login (a server has no business sending it), then
          answers every exec on any number of session channels with
          "alive" and exit status 0.
  open    lets anyone in without authentication ("none" succeeds), then
          answers every exec like nomore.
Each connection is served in a thread; the program runs until killed.
"""

import socket
import sys
import threading
import warnings

warnings.filterwarnings("ignore")
import paramiko  # noqa: E402


class Server(paramiko.ServerInterface):
    def __init__(self, mode):
        self.mode = mode
        self.exec_event = threading.Event()

    def check_auth_none(self, username):
        return paramiko.AUTH_SUCCESSFUL if self.mode == "open" else paramiko.AUTH_FAILED

    def check_auth_password(self, username, password):
        return paramiko.AUTH_SUCCESSFUL

    def get_allowed_auths(self, username):
        return "password"

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        self.exec_event.set()
        if self.mode in ("nomore", "open"):
            threading.Thread(target=answer_alive, args=(channel,), daemon=True).start()
        return True


def answer_alive(chan):
    try:
        chan.sendall(b"alive\n")
        chan.send_exit_status(0)
        chan.close()
    except (OSError, EOFError, paramiko.SSHException):
        pass


def flood(chan):
    block = b"y" * 32768
    try:
        for _ in range(200 * 32):
            with chan.lock:
                chan.out_window_size = 1 << 30
            chan.send(block)
    except (OSError, EOFError, paramiko.SSHException):
        pass


def serve(conn, host_key, mode):
    t = paramiko.Transport(conn)
    t.add_server_key(host_key)
    server = Server(mode)
    try:
        t.start_server(server=server)
        if mode in ("nomore", "open"):
            while not t.is_authenticated() and t.is_active():
                t.join(0.05)
            if mode == "nomore":
                t.global_request("no-more-sessions@openssh.com", wait=False)
            channels = []  # kept: paramiko closes a channel it collects
            while t.is_active():
                chan = t.accept(1)
                if chan is not None:
                    channels.append(chan)
            return
        chan = t.accept(20)
        if chan is None or not server.exec_event.wait(20):
            return
        if mode == "flood":
            flood(chan)
    except (OSError, EOFError, paramiko.SSHException):
        pass
    finally:
        t.close()


def main():
    addr, port, key_file, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    host_key = paramiko.Ed25519Key.from_private_key_file(key_file)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, host_key, mode), daemon=True).start()


main()
