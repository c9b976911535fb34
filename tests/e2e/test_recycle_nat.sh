#!/usr/bin/env bash
# Seeds 000 and 002 with real Linux clients: two client namespaces behind one MASQUERADE NAT
# namespace fetch from twtcp-server in turn. The server closes first (HTTP/1.0), so it holds
# TIME_WAIT and, under linux-3.10-recycle, remembers the NAT's last timestamp. Linux 6 gives
# each connection a random timestamp offset, so about every other SYN carries a timestamp
# "older" than the one remembered: tw_recycle drops it silently (PAWSPassive) and curl times
# out. Under linux-3.10 and linux-6 (no recycle) every fetch succeeds. (With 16 fetches, a recycle run
# without any drop has odds of about 1 in 32768.) Needs root.
set -u
server_bin=$1 src=$2
py=/usr/bin/python3
id=$$
nat=twrn-$id c1=twrc1-$id c2=twrc2-$id tap=twrec$id
work=$(mktemp -d /tmp/twtcp-recycle.XXXXXX)
spid=""
cleanup() {
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
  for n in "$nat" "$c1" "$c2"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 77; fi
fail() { echo "FAIL: $*"; exit 1; }

for n in "$nat" "$c1" "$c2"; do ip netns add "$n" && ip -n "$n" link set lo up || fail netns; done
i=1
for c in "$c1" "$c2"; do
  ip link add "vn$i$id" netns "$nat" type veth peer name "vc$i$id" netns "$c" || fail veth
  ip -n "$nat" addr add "198.18.$i.1/24" dev "vn$i$id"
  ip -n "$c" addr add "198.18.$i.2/24" dev "vc$i$id"
  ip -n "$nat" link set "vn$i$id" up
  ip -n "$c" link set "vc$i$id" up
  ip -n "$c" route add default via "198.18.$i.1"
  i=$((i + 1))
done
ip netns exec "$nat" sysctl -qw net.ipv4.ip_forward=1

# run PRESET: serves under PRESET, fetches 16 times alternating c1/c2; prints
# "OK FAILED PAWSPassive".
run() {
  local preset=$1
  "$server_bin" --vdev "net_tap0,iface=$tap" -l 0 --no-huge --no-pci -m 512 --log-level error \
    --file-prefix "$tap" -- --ip 198.18.0.1/24 --port 80 --config "$src/configs/$preset.conf" \
    --duration 120 --quiet --stats-json "$work/$preset.json" >"$work/$preset.log" 2>&1 &
  spid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/$preset.log" && break; sleep 0.1; done
  grep -q "listening on" "$work/$preset.log" || { cat "$work/$preset.log"; fail "server start"; }
  ip link set "$tap" netns "$nat" || fail "moving the tap"
  ip -n "$nat" addr add 198.18.0.2/24 dev "$tap"
  ip -n "$nat" link set "$tap" up
  ip netns exec "$nat" iptables -t nat -A POSTROUTING -o "$tap" -j MASQUERADE
  local ok=0 failed=0 k
  for k in $(seq 16); do
    local c=$c1
    [ $((k % 2)) = 0 ] && c=$c2
    if ip netns exec "$c" curl -s -0 -m 1 -o /dev/null http://198.18.0.1/; then
      ok=$((ok + 1))
    else
      failed=$((failed + 1))
    fi
  done
  kill -INT "$spid"
  wait "$spid"
  spid=""
  ip netns exec "$nat" iptables -t nat -F
  local passive
  passive=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["TcpExt"]["PAWSPassive"])' \
    "$work/$preset.json")
  echo "$ok $failed $passive"
}

read -r ok failed passive <<<"$(run linux-3.10-recycle)"
echo "linux-3.10-recycle: $ok fetched, $failed timed out, PAWSPassive $passive"
[ "$failed" -gt 0 ] && [ "$passive" -gt 0 ] || fail "tw_recycle should drop some NATed SYNs"
read -r ok failed passive <<<"$(run linux-3.10)"
echo "linux-3.10:         $ok fetched, $failed timed out, PAWSPassive $passive"
[ "$ok" = 16 ] && [ "$passive" = 0 ] || fail "without tw_recycle every fetch should succeed"
read -r ok failed passive <<<"$(run linux-6)"
echo "linux-6:            $ok fetched, $failed timed out, PAWSPassive $passive"
[ "$ok" = 16 ] && [ "$passive" = 0 ] || fail "linux-6 has no tw_recycle: every fetch should succeed"
echo "recycle NAT story reproduced with Linux clients"
