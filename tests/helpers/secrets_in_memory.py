#!/usr/bin/python3
"""Which private keys a process holds in its memory (tests/t-cert.sh).

Usage: secrets_in_memory.py PID KEY...
Each KEY is an unencrypted OpenSSH ed25519 private key file. The process's
readable memory (/proc/PID/maps, /proc/PID/mem; needs root) is searched for
the key's 32-byte seed, and for the line of the file's base64 text that
holds it.
Prints one line per KEY: "PATH found" (either was there) or "PATH absent".
Exit status 2 when the memory cannot be read.
"""

import base64
import struct
import sys


def read_string(data, off):
    (n,) = struct.unpack(">I", data[off:off + 4])
    return data[off + 4:off + 4 + n], off + 4 + n


def secrets_of(path):
    lines = open(path).read().strip().splitlines()
    body = base64.b64decode("".join(lines[1:-1]))
    magic = b"openssh-key-v1\0"
    if not body.startswith(magic):
        sys.exit("secrets_in_memory: %s is not an OpenSSH private key" % path)
    off = len(magic)
    cipher, off = read_string(body, off)
    _, off = read_string(body, off)   # kdf name
    _, off = read_string(body, off)   # kdf options
    if cipher != b"none":
        sys.exit("secrets_in_memory: %s is encrypted" % path)
    off += 4                          # number of keys: 1
    _, off = read_string(body, off)   # the public key
    private, _ = read_string(body, off)
    p = 8                             # two check words
    key_type, p = read_string(private, p)
    if key_type != b"ssh-ed25519":
        sys.exit("secrets_in_memory: %s is not an ed25519 key" % path)
    _, p = read_string(private, p)    # public part
    secret, p = read_string(private, p)
    # the file's first lines are the same for every ed25519 key (format,
    # type, then the public key): its fifth line holds the seed, in base64
    return [secret[:32], lines[4].encode()]


REGION_MAX = 1 << 30
CHUNK = 16 << 20


def memory(pid):
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            # AddressSanitizer's shadow maps terabytes that hold no data
            if end - start > REGION_MAX:
                continue
            # in chunks that overlap by more than a secret's length
            for at in range(start, end, CHUNK):
                try:
                    mem.seek(at)
                    yield mem.read(min(CHUNK + 128, end - at))
                except (OSError, ValueError, OverflowError):
                    break


def main():
    pid = int(sys.argv[1])
    wanted = {path: secrets_of(path) for path in sys.argv[2:]}
    found = set()
    try:
        for region in memory(pid):
            for path, secrets in wanted.items():
                if path not in found and any(s in region for s in secrets):
                    found.add(path)
    except OSError as e:
        print("cannot read the memory of %d: %s" % (pid, e), file=sys.stderr)
        sys.exit(2)
    for path in sys.argv[2:]:
        print("%s %s" % (path, "found" if path in found else "absent"))


main()
