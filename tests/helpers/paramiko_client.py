#!/usr/bin/python3
"""A paramiko SSH client for the authentication tests (tests/t-auth-*.sh).

Usage: paramiko_client.py ADDR PORT USER KNOWN_HOSTS [METHOD]... COMMAND
METHOD, tried in order (several make a partial-success chain):
  --password PW      password
  --key FILE         public key (ed25519, ecdsa or rsa private key file)
  --kbdint           keyboard-interactive: prompts with "assword" are
                     answered with $SRT_PASSWORD, with "ode" with $SRT_CODE
The host key must be the one KNOWN_HOSTS holds for ADDR (or [ADDR]:PORT).
Each keyboard-interactive round is printed to stderr as one line
"ROUND <json [name, instruction, [[prompt, echo], ...]]>". The command's
stdout goes to stdout; the exit status is the command's, or 5 when the
login fails ("AUTH FAILED: ..." on stderr), 6 on a host key mismatch.
"""

import json
import os
import socket
import sys
import warnings

warnings.filterwarnings("ignore")
import paramiko  # noqa: E402


def load_key(path):
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key_file(path)
        except (paramiko.SSHException, ValueError):
            continue
    sys.exit("paramiko_client: cannot load key %s" % path)


def kbdint_handler(name, instruction, prompts):
    print("ROUND " + json.dumps([name, instruction, [[p, bool(e)] for p, e in prompts]]),
          file=sys.stderr, flush=True)
    answers = []
    for prompt, _ in prompts:
        if "assword" in prompt:
            answers.append(os.environ.get("SRT_PASSWORD", ""))
        elif "ode" in prompt:
            answers.append(os.environ.get("SRT_CODE", ""))
        else:
            answers.append("")
    return answers


def main():
    addr, port, user, known_hosts = sys.argv[1:5]
    args = sys.argv[5:]
    command = args.pop()
    port = int(port)

    sock = socket.create_connection((addr, port), timeout=10)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)

    entry = addr if port == 22 else "[%s]:%d" % (addr, port)
    key = t.get_remote_server_key()
    known = paramiko.HostKeys(known_hosts).lookup(entry) or {}
    if known.get(key.get_name()) != key:
        print("HOST KEY MISMATCH for %s" % entry, file=sys.stderr)
        sys.exit(6)

    try:
        left = None
        while args:
            method = args.pop(0)
            if method == "--password":
                left = t.auth_password(user, args.pop(0))
            elif method == "--key":
                left = t.auth_publickey(user, load_key(args.pop(0)))
            elif method == "--kbdint":
                left = t.auth_interactive(user, kbdint_handler)
            else:
                sys.exit("paramiko_client: unknown method %s" % method)
            if left:
                print("PARTIAL %s, continue with %s" % (method, ",".join(left)),
                      file=sys.stderr, flush=True)
        if not t.is_authenticated():
            raise paramiko.AuthenticationException("not authenticated (left: %s)" % left)
    except paramiko.SSHException as e:
        print("AUTH FAILED: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(5)

    chan = t.open_session(timeout=10)
    chan.settimeout(30)
    chan.exec_command(command)
    out = b""
    while True:
        data = chan.recv(65536)
        if not data:
            break
        out += data
    sys.stdout.write(out.decode())
    status = chan.recv_exit_status()
    t.close()
    sys.exit(status)


main()
