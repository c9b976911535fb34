#!/usr/bin/env bash
# 100 MB byte-exact through loss (issue 6), with DESIGN.md's topology: a Linux client in its
# own namespace, a NAT namespace that forwards with iptables MASQUERADE and drops 1 % of TCP
# packets each way with the `statistic` match (this kernel has no netem), and twtcp-server
# (echo) on the NAT namespace's net_tap. Drops on the forwarding path are real wire losses
# for both TCPs (a drop in OUTPUT would be a local drop the sender notices at once).
# TWTCP_E2E_BYTES overrides the size. Needs root.
set -u
server_bin=$1 src=$2
bytes=${TWTCP_E2E_BYTES:-100000000}
py=/usr/bin/python3
id=$$
nat=twnat-$id cli=twcli-$id tap=twlossy$id
work=$(mktemp -d /tmp/twtcp-lossy.XXXXXX)
spid=""
cleanup() {
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
  ip netns del "$nat" 2>/dev/null
  ip netns del "$cli" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 77; fi
fail() { echo "FAIL: $*"; exit 1; }

ip netns add "$nat" && ip netns add "$cli" || fail "netns"
ip -n "$nat" link set lo up
ip -n "$cli" link set lo up
ip link add "vn$id" netns "$nat" type veth peer name "vc$id" netns "$cli" || fail "veth"
ip -n "$nat" addr add 198.18.1.1/24 dev "vn$id"
ip -n "$cli" addr add 198.18.1.2/24 dev "vc$id"
ip -n "$nat" link set "vn$id" up
ip -n "$cli" link set "vc$id" up
ip -n "$cli" route add default via 198.18.1.1
ip netns exec "$nat" sysctl -qw net.ipv4.ip_forward=1

"$server_bin" --vdev "net_tap0,iface=$tap" -l 0 --no-huge --no-pci -m 512 --log-level error \
  --file-prefix "$tap" -- --ip 198.18.0.1/24 --port 7:echo --duration 280 --quiet \
  --stats-json "$work/server.json" >"$work/server.log" 2>&1 &
spid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
grep -q "listening on" "$work/server.log" || { cat "$work/server.log"; fail "server did not start"; }
ip link set "$tap" netns "$nat" || fail "moving the tap"
ip -n "$nat" addr add 198.18.0.2/24 dev "$tap"
ip -n "$nat" link set "$tap" up
ipt() { ip netns exec "$nat" iptables "$@"; }
ipt -t nat -A POSTROUTING -o "$tap" -j MASQUERADE
ipt -A FORWARD -p tcp -m statistic --mode random --probability 0.01 -j DROP
ipt -A FORWARD -j ACCEPT

out=$(ip netns exec "$cli" timeout 240 "$py" "$src/tests/e2e/echo_stream.py" "$bytes" 198.18.0.1 7 2>&1)
echo "$out"
dropped=$(ipt -L FORWARD -v -n -x | awk '/statistic/ {print $1}')
echo "packets dropped by the NAT namespace: $dropped"
kill -INT "$spid"
wait "$spid"
spid=""
"$py" - "$work/server.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
e = d["TcpExt"]
print("twtcp server: RetransSegs %d, TCPFastRetrans %d, TCPTimeouts %d, TCPOFOQueue %d, "
      "TCPSackRecovery %d" % (d["Tcp"]["RetransSegs"], e["TCPFastRetrans"], e["TCPTimeouts"],
                              e["TCPOFOQueue"], e["TCPSackRecovery"]))
assert d["Tcp"]["RetransSegs"] > 0 and e["TCPOFOQueue"] > 0, "no loss seen: the test tested nothing"
PY
[ $? = 0 ] || fail "server counters"
case "$out" in "echo $bytes True "*) echo "lossy NAT: $bytes bytes each way, byte-exact"; exit 0 ;; esac
fail "echo through loss: $out"
