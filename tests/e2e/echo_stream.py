# A python socket client for the e2e tests: streams N bytes (a keyed pattern, never all in
# memory) to an echo server at HOST:PORT and checks the echoed bytes by SHA-256.
# Usage: echo_stream.py N [HOST PORT]
import hashlib, os, socket, sys, select, time
N = int(sys.argv[1])
block = os.urandom(1 << 20)
def data(off, n):  # a 100 MB stream without 100 MB in memory: block rotated by the MB index
    out = bytearray()
    while n:
        i, o = divmod(off, len(block)); k = min(n, len(block) - o)
        b = block[(i * 7919) % len(block):] + block[:(i * 7919) % len(block)]
        out += b[o:o + k]; off += k; n -= k
    return bytes(out)
host = sys.argv[2] if len(sys.argv) > 2 else "198.18.0.1"
port = int(sys.argv[3]) if len(sys.argv) > 3 else 7
s = socket.create_connection((host, port), timeout=30); s.setblocking(False)
sent = got = 0; hs = hashlib.sha256(); hr = hashlib.sha256(); t0 = time.time()
pending = b""
while got < N:
    w = [s] if sent < N else []
    r, w, _ = select.select([s], w, [], 30)
    if not r and not w: sys.exit("stalled at %d" % got)
    if w:
        if not pending: pending = data(sent, min(262144, N - sent))
        try:
            k = s.send(pending); hs.update(pending[:k]); pending = pending[k:]; sent += k
        except BlockingIOError: pass
    if r:
        c = s.recv(1 << 20)
        if not c: sys.exit("closed at %d" % got)
        hr.update(c); got += len(c)
print("echo %d %s %.1fs" % (got, hs.hexdigest() == hr.hexdigest(), time.time() - t0))
