#!/usr/bin/python3
"""A small HTTP API for contrib/lookup-http in tests/t-lookup.sh.

Usage: lookup_http_server.py ADDR PORT DIR
GET /route/NAME answers, read anew for every request:
  DIR/NAME.json exists:   200 with its content (application/json)
  DIR/NAME.status exists: the HTTP status it holds, with a short body
  otherwise:              404
NAME must be made of A-Z a-z 0-9 . _ - (anything else: 400). Every request
path is appended to DIR/requests.log.
"""

import http.server
import os
import re
import sys

ADDR, PORT, DIR = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body, ctype="text/plain"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with open(os.path.join(DIR, "requests.log"), "a") as log:
            log.write(self.path + "\n")
        m = re.fullmatch(r"/route/([A-Za-z0-9._-]+)", self.path)
        if not m or m.group(1) in (".", ".."):
            return self.reply(400, "bad request\n")
        base = os.path.join(DIR, m.group(1))
        if os.path.exists(base + ".json"):
            with open(base + ".json") as f:
                return self.reply(200, f.read(), "application/json")
        if os.path.exists(base + ".status"):
            with open(base + ".status") as f:
                return self.reply(int(f.read().strip()), "error\n")
        return self.reply(404, "no such user\n")

    def log_message(self, fmt, *args):
        pass


http.server.ThreadingHTTPServer((ADDR, PORT), Handler).serve_forever()
