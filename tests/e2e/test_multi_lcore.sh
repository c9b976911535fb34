#!/usr/bin/env bash
# twtcp-server and twtcp-client on two lcores (-l 0,1), one Stack each, against Linux peers
# over net_tap in a network namespace. net_tap has no RSS table here (reta_size 0), so worker
# 0 reads the tap's queues and lib/dpdk/soft_rss hands each TCP frame to the worker the
# symmetric Toeplitz hash picks; twtcp-client's connect() on each worker only uses source
# ports whose answers hash back to it. What a user would notice if that were wrong: timeouts,
# resets, connections served twice or never. Needs root. 198.18.0.0/24 only, removed on exit.
#  1. server: ping; 200 curl HTTP/1.0 fetches (server closes: TIME_WAIT on our side) and 8
#     parallel 1 MB python echo streams, all byte-exact; both lcores accepted some; the sum of
#     per-lcore accepts is the total; telemetry's merged PassiveOpens matches; no frame lost
#     between lcores (soft_rss_dropped_full 0).
#  2. client: 400 connections, 16 at a time, client closing first (TIME_WAIT on our side),
#     against a Linux HTTP server: 400 completed, none failed, both lcores completed some,
#     and the Linux server served exactly 400.
set -u
server_bin=$1 client_bin=$2
py=/usr/bin/python3
ns=twmlc-$$
tap_s=twmls$$ tap_c=twmlc$$
work=$(mktemp -d /tmp/twtcp-mlc.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"  # check, wait_for
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 77; fi
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot make a netns"; exit 1; }
attach() {
  ip link set "$1" netns "$ns" && ip -n "$ns" addr add "$2/24" dev "$1" && ip -n "$ns" link set "$1" up
}
eal() { echo "--vdev net_tap0,iface=$1 -l 0,1 --no-huge --no-pci -m 512 --log-level error --file-prefix $1"; }

# ---- twtcp-server on two lcores, Linux clients ----
"$server_bin" $(eal "$tap_s") -- --ip 198.18.0.1/24 --port 80 --port 7:echo --duration 60 \
  --stats-json "$work/server.json" --quiet >"$work/server.log" 2>&1 &
spid=$!
pids+=("$spid")
wait_for "$work/server.log" "listening on" && attach "$tap_s" 198.18.0.2 || exit 1
check "server says it runs 2 lcores with software RSS" grep -q "2 lcores, software RSS" "$work/server.log"
check "ping gets 3 answers" ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 -q 198.18.0.1

ok=0
for _ in $(seq 200); do
  out=$(ip netns exec "$ns" timeout 5 curl -s -0 -m 3 -w ' %{http_code}' http://198.18.0.1/)
  [ "${#out}" = 132 ] && [ "${out: -3}" = 200 ] && ok=$((ok + 1))
done
check "200 curl fetches, all 200 with the 128-byte body (got $ok)" test "$ok" = 200

cat >"$work/echo.py" <<'PY'
import hashlib, os, socket, sys, threading
N, SIZE = 8, 1 << 20
results = [None] * N
def one(i):
    data = os.urandom(SIZE)
    s = socket.create_connection(("198.18.0.1", 7), timeout=20)
    got = bytearray()
    def reader():
        while len(got) < SIZE:
            b = s.recv(65536)
            if not b:
                break
            got.extend(b)
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    t.join(30)
    s.close()
    results[i] = hashlib.sha256(bytes(got)).digest() == hashlib.sha256(data).digest()
threads = [threading.Thread(target=one, args=(i,)) for i in range(N)]
for t in threads: t.start()
for t in threads: t.join(60)
print(sum(1 for r in results if r))
PY
out=$(ip netns exec "$ns" timeout 90 "$py" "$work/echo.py" 2>&1 | tail -1)
check "8 parallel 1 MB echo streams back byte-exact (got $out)" test "$out" = 8

tele=$(echo /twtcp/stats | timeout 10 "$py" /usr/bin/dpdk-telemetry.py -f "$tap_s" 2>/dev/null)
check "telemetry's merged PassiveOpens counts all 208 connections" "$py" -c '
import json, sys
docs = [json.loads(l) for l in sys.argv[1].splitlines() if l.startswith("{")]
st = [d for d in docs if "/twtcp/stats" in d][-1]["/twtcp/stats"]
assert st["Tcp"]["PassiveOpens"] == 208, st["Tcp"]
' "$tele"

kill -INT "$spid"
wait "$spid"
rc=$?
check "server exits 0 on SIGINT (got $rc)" test "$rc" = 0
check "server JSON: both lcores served, per-lcore sum is the total, nothing dropped" "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = d["twtcp"]
assert t["lcores"] == 2, t
per = t["accepted_per_lcore"]
assert len(per) == 2 and min(per) > 0 and sum(per) == t["accepted"] == 208, per
assert d["Tcp"]["PassiveOpens"] == 208, d["Tcp"]
assert d["TcpExt"]["TW"] >= 200, d["TcpExt"]
assert t["soft_rss_dispatched"] > 0 and t["soft_rss_dropped_full"] == 0, t
assert d["Tcp"]["EstabResets"] == 0 and d["Tcp"]["OutRsts"] == 0, d["Tcp"]
' "$work/server.json"
check "server leaves no /var/run/dpdk/$tap_s behind" test ! -e "/var/run/dpdk/$tap_s"
ip -n "$ns" link del "$tap_s" 2>/dev/null

# ---- twtcp-client on two lcores, a Linux server ----
cat >"$work/httpd.py" <<'PY'
import http.server, socketserver, sys, threading
served = 0
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        global served
        body = b"x" * 100
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        served += 1
        if served == int(sys.argv[2]):
            threading.Thread(target=srv.shutdown).start()
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256  # 16 connects at once must not overflow the accept queue
srv = S(("198.18.0.1", 8080), H)
threading.Timer(float(sys.argv[1]), srv.shutdown).start()
srv.serve_forever(poll_interval=0.1)
print(served, flush=True)
PY
"$client_bin" $(eal "$tap_c") -- --ip 198.18.0.2/24 --target 198.18.0.1:8080 --connections 400 \
  --concurrency 16 --close client --duration 40 --stats-json "$work/client.json" --quiet \
  >"$work/client.log" 2>&1 &
cpid=$!
pids+=("$cpid")
wait_for "$work/client.log" "ready" && attach "$tap_c" 198.18.0.1 || exit 1
ip netns exec "$ns" timeout 60 "$py" "$work/httpd.py" 45 400 >"$work/served.txt" 2>&1 &
hpid=$!
pids+=("$hpid")
wait "$cpid"
rc=$?
check "client exits 0 (got $rc)" test "$rc" = 0
wait "$hpid" 2>/dev/null  # it stops after 400 requests (or 45 s)
check "the Linux server served exactly 400 ($(cat "$work/served.txt"))" test "$(cat "$work/served.txt")" = 400
check "client: 400 completed, none failed, both lcores completed some" "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = d["twtcp"]
assert t["lcores"] == 2, t
assert t["completed"] == 400, t
assert sum(t["failed"].values()) == 0 and t["eaddrnotavail"] == 0, t
per = t["completed_per_lcore"]
assert len(per) == 2 and min(per) > 0 and sum(per) == 400, per
assert d["Tcp"]["ActiveOpens"] == 400, d["Tcp"]
assert t["timewait_entries"] == 400, t  # client closes first: every port sits in TIME_WAIT here
assert t["soft_rss_dropped_full"] == 0, t
' "$work/client.json"
echo "server: $(cat "$work/server.log" | grep 'per lcore')"
echo "client: $(grep 'per lcore' "$work/client.log")"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
