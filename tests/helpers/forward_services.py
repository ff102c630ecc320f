#!/usr/bin/python3
# forward_services.py: TCP services and clients for tests/t-forward.sh.
#   serve echo ADDR PORT            echo every connection back, EOF for EOF
#   serve flood ADDR PORT FILE PROG [GO]
#                                   send FILE to each connection (once the file GO
#                                   exists, when given), bytes sent so far in PROG
#   serve sink ADDR PORT GO         read nothing until file GO exists, then
#                                   read to EOF and answer "BYTES SHA256"
#   serve fakex ADDR PORT           fake X server: answer an X11 setup with
#                                   "SRT-FAKE-X11 AUTHNAME HEXDATA"
#   xfer ADDR PORT FILE             send FILE (then EOF) while reading to EOF;
#                                   print "BYTES SHA256" of what came back
#   push ADDR PORT FILE             send FILE, then EOF; print the answer
#   stall ADDR PORT GO              connect, read nothing until file GO
#                                   exists, then read to EOF: "BYTES SHA256"
#   probe ADDR PORT                 connect and wait (10 s at most) for EOF:
#                                   "eof", "data" or "timeout", then seconds
#   xclient DISPLAY HEXCOOKIE       X11 setup with MIT-MAGIC-COOKIE-1, print
#                                   the first line of the answer
import hashlib, os, socket, struct, sys, threading, time

def read_all(sock):
    h, n = hashlib.sha256(), 0
    while True:
        d = sock.recv(1 << 16)
        if not d:
            return n, h.hexdigest()
        n += len(d)
        h.update(d)

def wait_file(path, limit=90):
    end = time.time() + limit
    while not os.path.exists(path) and time.time() < end:
        time.sleep(0.05)

def recv_exact(sock, n):
    b = b''
    while len(b) < n:
        d = sock.recv(n - len(b))
        if not d:
            break
        b += d
    return b

def h_echo(c, args):
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)

def chunks(path):
    """The file, 64 KiB at a time."""
    with open(path, 'rb') as f:
        while True:
            d = f.read(1 << 16)
            if not d:
                return
            yield d

def h_flood(c, args):
    path, prog = args[:2]
    if len(args) > 2:
        wait_file(args[2])
    sent = 0
    for d in chunks(path):
        c.sendall(d)
        sent += len(d)
        # one temporary name per connection: several may run at once
        tmp = '%s.%d.tmp' % (prog, threading.get_ident())
        with open(tmp, 'w') as p:
            p.write('%d\n' % sent)
        os.replace(tmp, prog)
    c.shutdown(socket.SHUT_WR)

def h_sink(c, args):
    wait_file(args[0])
    n, sha = read_all(c)
    c.sendall(('%d %s\n' % (n, sha)).encode())
    c.shutdown(socket.SHUT_WR)

def h_fakex(c, args):
    head = recv_exact(c, 12)
    fmt = '<' if head[:1] == b'l' else '>'
    nlen, dlen = struct.unpack(fmt + 'HH', head[6:10])
    name = recv_exact(c, (nlen + 3) & ~3)[:nlen]
    data = recv_exact(c, (dlen + 3) & ~3)[:dlen]
    c.sendall(b'SRT-FAKE-X11 ' + name + b' ' + data.hex().encode() + b'\n')
    c.shutdown(socket.SHUT_WR)

def serve(kind, addr, port, args):
    handler = {'echo': h_echo, 'flood': h_flood, 'sink': h_sink, 'fakex': h_fakex}[kind]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    def run(c):
        try:
            handler(c, args)
        except OSError:
            pass
        finally:
            c.close()
    while True:
        c, _ = s.accept()
        threading.Thread(target=run, args=(c,), daemon=True).start()

def connect(addr, port):
    return socket.create_connection((addr, int(port)), timeout=60)

def send_file(c, path):
    """Sends the file, then EOF."""
    for d in chunks(path):
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)

def xfer(addr, port, path):
    c = connect(addr, port)
    t = threading.Thread(target=send_file, args=(c, path), daemon=True)
    t.start()
    print('%d %s' % read_all(c))
    t.join(60)

def push(addr, port, path):
    c = connect(addr, port)
    send_file(c, path)
    print(c.makefile('rb').read().decode().strip())

def stall(addr, port, go):
    c = connect(addr, port)
    wait_file(go)
    print('%d %s' % read_all(c))

def probe(addr, port):
    start = time.time()
    try:
        c = socket.create_connection((addr, int(port)), timeout=10)
        d = c.recv(1)
        what = 'data' if d else 'eof'
    except socket.timeout:
        what = 'timeout'
    except OSError as e:
        what = 'error:' + e.__class__.__name__
    print('%s %.1f' % (what, time.time() - start))

def xclient(display, cookie):
    host, _, num = display.rpartition(':')
    c = connect(host or 'localhost', 6000 + int(num.split('.')[0]))
    name, data = b'MIT-MAGIC-COOKIE-1', bytes.fromhex(cookie)
    pad = lambda b: b + b'\0' * (-len(b) % 4)
    c.sendall(b'l\0' + struct.pack('<HHHHxx', 11, 0, len(name), len(data)) + pad(name) + pad(data))
    print(c.makefile('rb').readline().decode().strip())

cmd = sys.argv[1]
if cmd == 'serve':
    serve(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
else:
    {'xfer': xfer, 'push': push, 'stall': stall, 'probe': probe, 'xclient': xclient}[cmd](*sys.argv[2:])
