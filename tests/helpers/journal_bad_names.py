#!/usr/bin/python3
"""Logs in with paramiko under hostile user names (tests/t-journal.sh).

Usage: journal_bad_names.py ADDR PORT PASSWORD NAME... (each NAME with
backslash escapes, decoded as UTF-8); prints accepted, refused or error
for each."""
import socket, sys, warnings
warnings.filterwarnings("ignore")
import paramiko
addr, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for name in sys.argv[4:]:
    name = name.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
    s = socket.socket(); s.bind(("127.0.0.80", 0)); s.settimeout(10)
    s.connect((addr, port))
    t = paramiko.Transport(s)
    try:
        t.start_client(timeout=10)
        t.auth_password(name, pw)
        print("accepted %r" % name)
    except paramiko.AuthenticationException:
        print("refused %r" % name)
    except Exception as e:
        print("error %r: %s" % (name, e))
    finally:
        t.close()
