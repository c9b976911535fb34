#!/usr/bin/env bash
# twtcp against the Linux kernel's own TCP over net_tap (DESIGN.md's topology): the DPDK
# program's tap is moved into a network namespace where Linux peers run. Needs root.
#  1. ping, curl (HTTP/1.0: our server closes first and holds TIME_WAIT; HTTP/1.1 keep-alive)
#  2. a python socket client sends 10 MB to echo mode and gets the same bytes back
#  3. twtcp-client drives a python HTTP server; its count matches what the server served
#  4. tshark reads both pcapng captures without a malformed frame
#  5. dpdk-telemetry.py reads /twtcp/stats, /twtcp/timewait and /twtcp/config
# Everything uses 198.18.0.0/15, is bounded by timeouts, and is removed on exit.
set -u
server_bin=$1 client_bin=$2
py=/usr/bin/python3
ns=twtcp-e2e-$$
tap_s=twe2es$$ tap_c=twe2ec$$
work=$(mktemp -d /tmp/twtcp-e2e.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"  # check, wait_for
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 77; fi
command -v ping >/dev/null || { echo "FAIL: ping missing (apt install iputils-ping)"; exit 1; }
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot make a netns"; exit 1; }

# attach TAP ADDR: move the tap into the namespace and give Linux its address there.
attach() {
  ip link set "$1" netns "$ns" && ip -n "$ns" addr add "$2/24" dev "$1" && ip -n "$ns" link set "$1" up
}
eal() { echo "--vdev net_tap0,iface=$1 -l 0 --no-huge --no-pci -m 512 --log-level error --file-prefix $1"; }

# ---- twtcp-server, Linux clients ----
"$server_bin" $(eal "$tap_s") -- --ip 198.18.0.1/24 --port 80 --port 7:echo --duration 40 \
  --stats-json "$work/server.json" --pcap "$work/server.pcapng" --quiet >"$work/server.log" 2>&1 &
spid=$!
pids+=("$spid")
wait_for "$work/server.log" "listening on" && attach "$tap_s" 198.18.0.2 || exit 1

check "ping gets 3 answers" ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 -q 198.18.0.1
out=$(ip netns exec "$ns" timeout 10 curl -s -0 -m 5 -w ' %{http_code}' http://198.18.0.1/)
check "curl HTTP/1.0 gets 200 and the 128-byte body" test "${#out}" = 132 -a "${out: -3}" = 200
code=$(ip netns exec "$ns" timeout 10 curl -s -m 5 -o /dev/null -o /dev/null -w '%{http_code}' \
  http://198.18.0.1/a http://198.18.0.1/b)
check "curl HTTP/1.1 keep-alive, two requests on one connection" test "$code" = 200200

cat >"$work/echo.py" <<'PY'
import hashlib, os, socket, sys
data = os.urandom(10 * 1024 * 1024)
s = socket.create_connection(("198.18.0.1", 7), timeout=20)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
got = bytearray()
sent = 0
s.setblocking(False)
import select
while len(got) < len(data):
    w = [s] if sent < len(data) else []
    r, w, _ = select.select([s], w, [], 20)
    if not r and not w:
        sys.exit("echo: stalled at %d/%d" % (len(got), len(data)))
    if w:
        try:
            sent += s.send(data[sent:sent + 65536])
        except BlockingIOError:
            pass
    if r:
        chunk = s.recv(1 << 20)
        if not chunk:
            sys.exit("echo: closed early at %d" % len(got))
        got += chunk
s.close()
print("echo", len(got), hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest())
PY
out=$(ip netns exec "$ns" timeout 60 "$py" "$work/echo.py" 2>&1)
check "python echo: 10 MB back byte-exact ($out)" test "$out" = "echo 10485760 True"

# DPDK telemetry, read with the client DPDK ships (snapshots are published every 100 ms).
sleep 0.3
tele=$(printf '/twtcp/stats\n/twtcp/timewait,5\n/twtcp/config\n' |
  timeout 20 "$py" "$(command -v dpdk-telemetry.py)" -f "$tap_s" 2>&1)
check "dpdk-telemetry.py: stats, TIME_WAIT entries, config" "$py" -c '
import json, sys
docs = {}
for line in sys.argv[1].splitlines():
    line = line.strip()
    if line.startswith("{"):
        docs.update(json.loads(line))
st = docs["/twtcp/stats"]
assert st["Tcp"]["PassiveOpens"] >= 3 and st["TcpExt"]["TW"] >= 1, st
assert st["twtcp"]["requests"] >= 3, st["twtcp"]
tw = docs["/twtcp/timewait"]
assert tw["count"] >= 1 and tw["shown"] >= 1, tw
assert tw["entries"][0].startswith("198.18.0.1:80 198.18.0.2:"), tw["entries"]
assert "TIME_WAIT expires_in_ms=" in tw["entries"][0], tw["entries"]
assert any(c.startswith("net.ipv4.tcp_tw_reuse = ") for c in docs["/twtcp/config"])
' "$tele" || echo "$tele" | head -5

kill -INT "$spid"
wait "$spid"
rc=$?
check "server exits 0 on SIGINT (got $rc)" test "$rc" = 0
# EAL's runtime files (6 MB of memseg arrays at -m 512, the sockets) go with the process.
check "server leaves no /var/run/dpdk/$tap_s behind" test ! -e "/var/run/dpdk/$tap_s"
check "server JSON: PassiveOpens >= 3, one TIME_WAIT from HTTP/1.0, pings answered" "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["Tcp"]["PassiveOpens"] >= 3, d["Tcp"]
assert d["TcpExt"]["TW"] >= 1, d["TcpExt"]
assert d["twtcp"]["icmp_echo_replies"] >= 3, d["twtcp"]
assert d["twtcp"]["requests"] >= 3, d["twtcp"]
' "$work/server.json"
ip -n "$ns" link del "$tap_s" 2>/dev/null

# ---- twtcp-client, a Linux server ----
cat >"$work/httpd.py" <<'PY'
import http.server, socketserver, sys, time
served = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        body = b"x" * 100
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        served += 1
    def log_message(self, *a):
        pass
socketserver.TCPServer.allow_reuse_address = True
srv = socketserver.TCPServer(("198.18.0.1", 8080), H)
srv.timeout = 0.2
end = time.time() + float(sys.argv[1])
while time.time() < end:
    srv.handle_request()
print(served, flush=True)
PY
"$client_bin" $(eal "$tap_c") -- --ip 198.18.0.2/24 --target 198.18.0.1:8080 --connections 300 \
  --concurrency 4 --duration 30 --stats-json "$work/client.json" --pcap "$work/client.pcapng" \
  --quiet >"$work/client.log" 2>&1 &
cpid=$!
pids+=("$cpid")
wait_for "$work/client.log" "ready" && attach "$tap_c" 198.18.0.1 || exit 1
ip netns exec "$ns" timeout 40 "$py" "$work/httpd.py" 25 >"$work/served.txt" 2>&1 &
hpid=$!
pids+=("$hpid")
wait "$cpid"
rc=$?
check "client exits 0 (got $rc)" test "$rc" = 0
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
check "client: 300 completed, 0 failed, latency percentiles" "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))["twtcp"]
assert d["completed"] == 300, d
assert sum(d["failed"].values()) == 0, d
lat = d["response_latency_us"]
assert lat["count"] == 300 and 0 < lat["p50"] <= lat["p99"] <= lat["max"], lat
' "$work/client.json"
check "client summary line" grep -q '^twtcp-client: 300 connections' "$work/client.log"

# ---- captures ----
for f in server client; do
  n=$(tshark -r "$work/$f.pcapng" 2>/dev/null | wc -l)
  bad=$(tshark -r "$work/$f.pcapng" -Y '_ws.malformed || _ws.expert.severity >= error' 2>/dev/null | wc -l)
  check "tshark reads $f.pcapng ($n frames, $bad malformed/error)" test "$n" -gt 50 -a "$bad" = 0
done

echo "linux peers: $passes passed, $fails failed"
[ "$fails" = 0 ]
