#!/usr/bin/python3
"""Reads journalctl -o json on stdin and prints sshroute's session records
(entries with SSHROUTE_END) for tests/t-journal.sh."""
import json, sys
recs = []
for line in sys.stdin:
    line = line.strip()
    if line:
        e = json.loads(line)
        if "SSHROUTE_END" in e:
            recs.append(e)
print("N_RECORDS=%d" % len(recs))
if recs:
    for k, v in sorted(recs[-1].items()):
        if k.startswith("__"):
            continue
        if isinstance(v, list) and v and isinstance(v[0], int):
            v = ["<binary %r>" % bytes(v)]
        elif not isinstance(v, list):
            v = [v]
        for x in v:
            if isinstance(x, list):
                x = "<binary %r>" % bytes(x)
            print("%s=%s" % (k, x))
