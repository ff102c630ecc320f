#!/usr/bin/python3
"""An upstream that hangs up right after its last bytes (tests/t-frontdoor.sh).

Usage: abrupt_upstream.py ADDR PORT HOST_KEY
An asyncssh server, as some appliances and asyncssh services behave: any
password logs in; the command "bytes N STATUS" writes N bytes (a fixed
pattern: b"0123456789abcdef" repeated) to stdout, exits with STATUS and
closes the whole connection 10 ms later. Runs until killed.
"""

import asyncio
import sys
import warnings

warnings.filterwarnings("ignore")
import asyncssh  # noqa: E402

PATTERN = b"0123456789abcdef"


class Server(asyncssh.SSHServer):
    def begin_auth(self, username):
        return True

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return True


async def handle(process):
    words = (process.command or "").split()
    if len(words) != 3 or words[0] != "bytes":
        process.exit(2)
        return
    n, status = int(words[1]), int(words[2])
    data = (PATTERN * (n // len(PATTERN) + 1))[:n]
    process.stdout.write(data)
    await process.stdout.drain()
    process.exit(status)
    await asyncio.sleep(0.01)
    process.channel.get_connection().close()


async def main():
    addr, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    await asyncssh.create_server(Server, addr, port, server_host_keys=[key],
                                 process_factory=handle, encoding=None)
    await asyncio.Event().wait()


asyncio.run(main())
