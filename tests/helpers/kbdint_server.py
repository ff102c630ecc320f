#!/usr/bin/python3
"""A small SSH server for the keyboard-interactive tests (tests/t-auth-*.sh).

It accepts only keyboard-interactive and asks, per user name:
  srt-otp1  one round with two prompts: password (no echo), code (echo);
  srt-otp2  two rounds: password, then code;
  srt-otp3  a round with no prompt (a notice), then password and code;
every other user fails. The only commands are `hostname` (the host name of
the UTS namespace it runs in) and `whoami` (the user it authenticated).

Usage: kbdint_server.py ADDR PORT HOST_KEY PASSWORD CODE
Events go to stderr, never the answers.
"""

import asyncio
import socket
import sys
import warnings

warnings.filterwarnings("ignore")
import asyncssh  # noqa: E402  (after the warnings filter: cryptography warns)

ADDR, PORT, HOST_KEY, PASSWORD, CODE = sys.argv[1:6]

PW_PROMPT = ("Password: ", False)
CODE_PROMPT = ("One-time code: ", True)

# user -> list of rounds (name, instruction, prompts); the answers expected
# for each round are derived from its prompts.
ROUNDS = {
    "srt-otp1": [("sshroute test 2FA", "Answer both prompts.", [PW_PROMPT, CODE_PROMPT])],
    "srt-otp2": [("Step 1 of 2", "Your password first.", [PW_PROMPT]),
                 ("Step 2 of 2", "Now the code from your token.", [CODE_PROMPT])],
    "srt-otp3": [("Notice", "This test system is watched.", []),
                 ("Login", "Password and code, please.", [PW_PROMPT, CODE_PROMPT])],
}


def log(*args):
    print("kbdint_server:", *args, file=sys.stderr, flush=True)


def expected(prompt):
    return PASSWORD if prompt is PW_PROMPT else CODE


class Server(asyncssh.SSHServer):
    def connection_made(self, conn):
        self.rounds = []
        log("connection from", conn.get_extra_info("peername"))

    def begin_auth(self, username):
        return True

    def password_auth_supported(self):
        return False

    def public_key_auth_supported(self):
        return False

    def kbdint_auth_supported(self):
        return True

    def _challenge(self):
        name, instruction, prompts = self.rounds[0]
        return (name, instruction, "", prompts)

    def get_kbdint_challenge(self, username, lang, submethods):
        self.rounds = list(ROUNDS.get(username, []))
        log("kbdint start user=%s rounds=%d" % (username, len(self.rounds)))
        if not self.rounds:
            return False
        return self._challenge()

    def validate_kbdint_response(self, username, responses):
        _, _, prompts = self.rounds.pop(0)
        if len(responses) != len(prompts):
            log("user=%s: %d answers to %d prompts" % (username, len(responses), len(prompts)))
            return False
        for prompt, answer in zip(prompts, responses):
            if answer != expected(prompt):
                log("user=%s: wrong answer to %r" % (username, prompt[0]))
                return False
        if self.rounds:
            log("user=%s: round passed, %d more" % (username, len(self.rounds)))
            return self._challenge()
        log("user=%s: accepted" % username)
        return True


async def handle(process):
    command = process.command or ""
    if command == "hostname":
        process.stdout.write(socket.gethostname() + "\n")
        process.exit(0)
    elif command == "whoami":
        process.stdout.write(process.get_extra_info("username") + "\n")
        process.exit(0)
    else:
        process.stderr.write("kbdint_server: unknown command %r\n" % command)
        process.exit(127)


async def main():
    await asyncssh.create_server(Server, ADDR, int(PORT), server_host_keys=[HOST_KEY],
                                 process_factory=handle)
    log("listening on %s:%s" % (ADDR, PORT))
    await asyncio.Event().wait()


asyncio.run(main())
