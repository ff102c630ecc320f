#!/usr/bin/python3
"""tests/helpers/audit_strict_kex.py ARGS...: Debian 12's ssh-audit (2.5.0), taught the one
algorithm name it predates.

sshroute (libssh 0.10.6) offers kex-strict-s-v00@openssh.com, the marker of
OpenSSH's strict key exchange (the Terrapin fix, December 2023). ssh-audit
2.5.0 is older than that and calls every unknown name a warning; ssh-audit
3.1 and later list the marker as a known pseudo-algorithm with no warning.
This wrapper adds that one entry, as those versions have it, and otherwise
runs ssh-audit unchanged, so that any other warning or failure still shows.
On ssh-audit 3.x (Debian 13 and later), which knows it and keeps its table
elsewhere, it changes nothing.
"""
import sys

from ssh_audit.ssh2_kexdb import SSH2_KexDB
from ssh_audit.ssh_audit import main

if hasattr(SSH2_KexDB, 'ALGORITHMS'):
    SSH2_KexDB.ALGORITHMS['kex'].setdefault('kex-strict-s-v00@openssh.com', [[]])
sys.exit(main())
