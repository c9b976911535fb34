#!/usr/bin/env bash
# twtcp-server on DPDK's net_pcap, fed from pcap files (issue 4: "a recorded
# handshake-request-close from a pcap file is answered correctly, the output pcap is checked
# with tshark"). Needs root (namespaces, AF_PACKET). Helper: pcap_replay.py (scapy, tshark).
#
# Why two parts: twtcp's ISN is a keyed hash of the 4-tuple plus the time (RFC 6528,
# lib/tcp/stack.cpp isn_for), so a recording of a whole connection cannot be fed back blindly:
# its ACKs would acknowledge some other server's ISN. So
#
#  (a) file mode, what needs no answer from our side to be predictable:
#      --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap. DPDK 22.11's net_pcap hands over the
#      file's frames as fast as rx_burst asks (timestamps ignored) and then returns nothing
#      (no infinite_rx), and writes every transmitted frame to out.pcap (flushed per burst,
#      closed when the port stops); --duration 2 bounds the run. in.pcap (scapy) holds an ARP
#      request, an ICMP echo request, a SYN with MSS/SACK-permitted/timestamps/wscale, a SYN
#      without options whose ISN is 2^32-1, a SYN to a closed port, a SYN with a bad TCP
#      checksum and an ACK to the listener with no connection. tshark on out.pcap, with
#      checksum validation on: an ARP reply, an echo reply (same id/seq/payload), SYN-ACKs with
#      ack = ISN+1 (wrapping to 0), TSecr = the SYN's TSval, MSS, SACK-permitted and wscale
#      only when offered, retransmissions identical, RST|ACK seq=0 ack=ISN+1 for the closed
#      port, RST seq=SEG.ACK for the stray ACK, nothing for the bad checksum (which
#      --stats-json counts as Tcp.InErrs and twtcp.TwtcpRxDropped), nothing else, every IPv4,
#      ICMP and TCP checksum valid (and the same check flags the corrupted input frame, so it
#      can fail).
#
#  (b) the whole handshake-request-close, replayed live (as tcpliveplay does): first a real
#      recording, made here: curl -0 (HTTP/1.0) in one namespace against a python HTTP/1.0
#      server in another, over a veth, captured by tcpdump on the client side. The server sends
#      no Content-Length, so curl reads to EOF and the server closes first, as it will on
#      twtcp. Then twtcp-server runs on net_pcap in INTERFACE mode
#      (--vdev net_pcap0,iface=VETH: libpcap on one end of a veth pair, in a namespace of its
#      own whose kernel has no address and so stays silent), and pcap_replay.py, in the
#      namespace of the other end (no address either: its kernel must not RST the server's
#      SYN-ACK), sends the recorded client frames one at a time over AF_PACKET. Before each it
#      waits for what the recorded frame acknowledged (the SYN-ACK, the response, the FIN) to
#      arrive from twtcp, then rewrites its ACK number onto twtcp's ISN and response length,
#      and its TSecr to twtcp's latest TSval; seq numbers, TSvals, windows, options and the
#      request bytes stay as recorded. It answers twtcp's ARP requests itself. Checks, with
#      tshark on twtcp-server's own --pcap capture (pcapng of what it received and sent) and
#      on --stats-json: one SYN-ACK acking the recorded ISN+1 with the options the SYN asked
#      for, the response at ISN+1 acking the whole request, contiguous, the server's FIN right
#      after it, the replayed FIN acking it, the server's last segment a bare ACK of that FIN,
#      no RST, no retransmission, every checksum valid; PassiveOpens = 1, one request, and the
#      connection in TIME_WAIT on the server (TcpExt.TW = 1, and /twtcp/timewait over DPDK
#      telemetry shows the entry for this 4-tuple).
#      Why so: recording at test time instead of keeping a binary pcap in the tree gives a real
#      Linux client every run, and the replayer maps what each frame acknowledged (SYN-ACK /
#      so many response bytes / the FIN), not absolute numbers, so a kernel that segments or
#      ACKs differently still replays. net_pcap's interface mode works here (twtcp does not see
#      its own frames back: libpcap's one handle both sends and receives), so net_tap is not
#      needed, and this is the only test of that mode.
#
# Addresses: 198.18.7.0/24, only inside namespaces made here, and removed on exit (trap).
# TWTCP_KEEP=1 keeps the work directory. TWTCP_SET=KEY=VALUE adds one --set to both server runs
# (to see the test fail, e.g. net.ipv4.tcp_timestamps=0 or net.ipv4.tcp_sack=0).
set -u
server_bin=$1  # $2 (the source root) is not needed: every input is made here
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
helper=$here/pcap_replay.py
id=$$
rc=twpr-c$id rs=twpr-s$id tc=twpl-c$id ts=twpl-s$id
work=$(mktemp -d /tmp/twtcp-pcap-replay.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  for n in "$rc" "$rs" "$tc" "$ts"; do ip netns del "$n" 2>/dev/null; done
  # EAL 22.11 leaves config and fbarray files (6 MB) in its runtime directory after cleanup.
  rm -rf "/var/run/dpdk/twpf$id" "/var/run/dpdk/twpl$id" 2>/dev/null
  if [ -n "${TWTCP_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"  # check, wait_for
fail() { echo "FAIL: $*"; exit 1; }
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 77; fi
"$py" -c 'import scapy' 2>/dev/null ||
  { echo "skipped: $py has no scapy (apt install python3-scapy)"; exit 77; }
for t in tshark tcpdump curl dpdk-telemetry.py; do
  command -v $t >/dev/null || { echo "skipped: no $t"; exit 77; }
done
t0=$(date +%s)
eal() {  # PREFIX VDEV
  echo "--vdev $2 -l 0 --no-huge --no-pci -m 512 --log-level error --file-prefix $1"
}

# ---- (a) file mode: rx_pcap -> twtcp-server -> tx_pcap ----
echo "== (a) net_pcap file mode"
"$py" "$helper" gen-file "$work/in.pcap" || fail "generating in.pcap"
timeout 20 "$server_bin" $(eal "twpf$id" "net_pcap0,rx_pcap=$work/in.pcap,tx_pcap=$work/out.pcap") \
  -- --ip 198.18.7.1/24 --port 80 ${TWTCP_SET:+--set "$TWTCP_SET"} --duration 2 \
  --stats-json "$work/file.json" --quiet >"$work/file.log" 2>&1
rc_a=$?
check "twtcp-server on rx_pcap/tx_pcap exits 0 (got $rc_a)" test "$rc_a" = 0
grep -q "(net_pcap)" "$work/file.log" || { cat "$work/file.log"; fail "not on net_pcap"; }
if [ -s "$work/out.pcap" ] && [ -s "$work/file.json" ]; then
  check "tshark on out.pcap: every answer as expected" \
    "$py" "$helper" check-file "$work/in.pcap" "$work/out.pcap" "$work/file.json"
else
  cat "$work/file.log"
  check "out.pcap and the stats written" false
fi

# ---- (b) record a Linux client, then replay it live against twtcp-server ----
echo "== (b) record curl -0 against Linux, replay it to twtcp-server on net_pcap iface mode"
for n in "$rc" "$rs" "$tc" "$ts"; do
  ip netns add "$n" && ip -n "$n" link set lo up &&
    ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
      net.ipv6.conf.default.disable_ipv6=1 || fail "netns $n"
done
ip link add "twprc$id" netns "$rc" type veth peer name "twprs$id" netns "$rs" &&
  ip -n "$rc" addr add 198.18.7.2/24 dev "twprc$id" &&
  ip -n "$rs" addr add 198.18.7.1/24 dev "twprs$id" &&
  ip -n "$rc" link set "twprc$id" up && ip -n "$rs" link set "twprs$id" up ||
  fail "recording veth"
cat >"$work/httpd.py" <<'PY'
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        # No Content-Length: the client reads to EOF, so this server closes first.
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"recorded against Linux\n" * 8)
    def log_message(self, *a):
        pass
socketserver.TCPServer.allow_reuse_address = True
srv = socketserver.TCPServer((sys.argv[1], 80), H)
srv.timeout = 10
print("listening", flush=True)
srv.handle_request()
PY
ip netns exec "$rs" timeout 15 "$py" "$work/httpd.py" 198.18.7.1 >"$work/httpd.log" 2>&1 &
pids+=("$!")
ip netns exec "$rc" timeout 15 tcpdump -Z root --immediate-mode -U -i "twprc$id" \
  -w "$work/rec.pcap" tcp port 80 >"$work/tcpdump.log" 2>&1 &
tpid=$!
pids+=("$tpid")
wait_for "$work/httpd.log" listening && wait_for "$work/tcpdump.log" "listening on" ||
  fail "recording setup"
code=$(ip netns exec "$rc" timeout 10 curl -s -0 -m 5 -o "$work/rec.body" -w '%{http_code}' \
  http://198.18.7.1/)
check "recording: curl -0 got 200 from the Linux server ($code)" test "$code" = 200
# Both FINs are on the wire when curl exits; give tcpdump time to write them (and the last ACK).
for _ in $(seq 30); do
  [ "$(tshark -r "$work/rec.pcap" -Y tcp.flags.fin==1 2>/dev/null | wc -l)" -ge 2 ] && break
  sleep 0.1
done
sleep 0.2
kill "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null
ip netns del "$rc" && ip netns del "$rs"
echo "recorded:"
tshark -n -r "$work/rec.pcap" 2>/dev/null | sed 's/^/  /'

ip link add "twplc$id" netns "$tc" type veth peer name "twpls$id" netns "$ts" &&
  ip -n "$tc" link set "twplc$id" up && ip -n "$ts" link set "twpls$id" up ||
  fail "replay veth"
ip netns exec "$ts" "$server_bin" $(eal "twpl$id" "net_pcap0,iface=twpls$id") -- \
  --ip 198.18.7.1/24 --port 80 ${TWTCP_SET:+--set "$TWTCP_SET"} --duration 30 \
  --stats-json "$work/live.json" --pcap "$work/live.pcapng" --quiet >"$work/live.log" 2>&1 &
spid=$!
pids+=("$spid")
wait_for "$work/live.log" "listening on" "$spid" || fail "twtcp-server on net_pcap iface mode"
ip netns exec "$tc" timeout 30 "$py" "$helper" replay --iface "twplc$id" --rec "$work/rec.pcap" \
  >"$work/replay.json" 2>"$work/replay.err"
rc_r=$?
check "replayer finished (exit $rc_r)" test "$rc_r" = 0
[ "$rc_r" = 0 ] || { cat "$work/replay.err" "$work/replay.json"; }

# The TIME_WAIT entry as twtcp reports it (telemetry snapshots are published every 100 ms).
sleep 0.3
sport=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sport"])' \
  "$work/replay.json" 2>/dev/null)
tele=$(echo /twtcp/timewait,5 |
  timeout 20 "$py" "$(command -v dpdk-telemetry.py)" -f "twpl$id" 2>&1)
check "telemetry /twtcp/timewait: 198.18.7.1:80 198.18.7.2:$sport in TIME_WAIT" "$py" -c '
import json, sys
tw = None
for line in sys.argv[1].splitlines():
    line = line.strip()
    if line.startswith("{"):
        tw = json.loads(line).get("/twtcp/timewait", tw)
assert tw and tw["count"] == 1, tw
e = tw["entries"][0]
assert e.startswith("198.18.7.1:80 198.18.7.2:%s " % sys.argv[2]), e
assert "TIME_WAIT" in e, e
' "$tele" "$sport" || echo "$tele" | tail -3

kill -INT "$spid"
wait "$spid"
rc_s=$?
check "twtcp-server on net_pcap iface mode exits 0 on SIGINT (got $rc_s)" test "$rc_s" = 0
if [ -s "$work/live.pcapng" ] && [ -s "$work/live.json" ] && [ -s "$work/replay.json" ]; then
  check "tshark on the server's capture: handshake, request, close as expected" \
    "$py" "$helper" check-live "$work/rec.pcap" "$work/live.pcapng" "$work/live.json" \
    "$work/replay.json"
else
  cat "$work/live.log" "$work/replay.err"
  check "live capture, stats and replay summary written" false
fi

echo "pcap replay: $passes passed, $fails failed ($(($(date +%s) - t0)) s)"
[ "$fails" = 0 ]
