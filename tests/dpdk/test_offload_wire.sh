#!/usr/bin/env bash
# twtcp-server on net_tap, curl from Linux in a network namespace, with
# twtcp.checksum_offload auto (net_tap offers IPv4/TCP checksums: the PMD fills them) and
# off (twtcp computes them). Either way every TCP frame from twtcp must carry valid IPv4 and
# TCP checksums on the wire: tshark validates them in a tcpdump taken inside the namespace
# (the frames as Linux received them) and in twtcp's own --pcap capture (taken before the
# device fills the fields, so twtcp fills them in the capture copy). The server's counters
# must show which way the checksums were made. Needs root; 198.18.6.0/24 in the namespace.
set -u
server_bin=$1
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 77; fi
for t in tshark tcpdump curl ip python3; do
  command -v $t >/dev/null || { echo "skipped: $t missing"; exit 77; }
done
ns=twtcp-offw-$$
tap=twoffw$$
work=$(mktemp -d /tmp/twtcp-offw.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
fails=0
check() {
  local name=$1
  shift
  if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
wait_for() {
  for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timeout waiting for '$2' in $1:"
  cat "$1"
  return 1
}
# count FILE SRC [FILTER]: TCP frames from SRC in FILE matching FILTER, checksums validated.
count() {
  tshark -r "$1" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
    -Y "ip.src==$2 && tcp ${3:-}" 2>/dev/null | wc -l
}
# counter JSON NAME: a value of the "twtcp" group of --stats-json.
counter() {
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['twtcp'][sys.argv[2]])" "$1" "$2"
}

for mode in auto off; do
  ip netns del "$ns" 2>/dev/null
  ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: netns"; exit 1; }
  "$server_bin" --vdev net_tap0,iface=$tap -l 0 --no-huge --no-pci -m 512 --log-level error \
    --file-prefix "$tap" -- --ip 198.18.6.1/24 --port 80 --duration 20 \
    --set twtcp.checksum_offload=$mode --stats-json "$work/$mode.json" \
    --pcap "$work/$mode.pcapng" --quiet >"$work/$mode.log" 2>&1 &
  spid=$!
  pids+=("$spid")
  wait_for "$work/$mode.log" "listening on" || exit 1
  ip link set $tap netns "$ns" && ip -n "$ns" addr add 198.18.6.2/24 dev $tap &&
    ip -n "$ns" link set $tap up || { echo "FAIL: moving the tap"; exit 1; }
  ip netns exec "$ns" tcpdump -i $tap -nn --immediate-mode -U -w "$work/$mode-linux.pcap" tcp \
    2>"$work/$mode-tcpdump.log" &
  tpid=$!
  pids+=("$tpid")
  wait_for "$work/$mode-tcpdump.log" "listening on" || exit 1
  codes=""
  for _ in 1 2 3; do
    codes+=$(ip netns exec "$ns" timeout 10 curl -s -0 -m 5 -o /dev/null -w '%{http_code}' \
      http://198.18.6.1/)
  done
  check "$mode: three curl requests answered" test "$codes" = 200200200
  sleep 0.5
  kill "$tpid" 2>/dev/null
  wait "$tpid" 2>/dev/null
  kill -INT "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null

  good='&& ip.checksum.status==1 && tcp.checksum.status==1'
  for f in "$mode-linux.pcap" "$mode.pcapng"; do
    n=$(count "$work/$f" 198.18.6.1)
    ok=$(count "$work/$f" 198.18.6.1 "$good")
    check "$mode: $f: $ok of $n TCP frames from twtcp have valid checksums" \
      test "$n" -ge 9 -a "$ok" = "$n"
  done
  offloaded=$(counter "$work/$mode.json" tx_csum_offloaded)
  verified=$(counter "$work/$mode.json" rx_csum_verified)
  if [ $mode = auto ]; then
    check "auto: the device filled them ($offloaded frames) and verified RX ($verified)" \
      test "$offloaded" -ge 9 -a "$verified" -ge 9
  else
    check "off: none left to the device ($offloaded), none trusted to it ($verified)" \
      test "$offloaded" = 0 -a "$verified" = 0
  fi
  check "$mode: no checksum errors counted" test "$(counter "$work/$mode.json" rx_csum_bad)" = 0
done
echo "offload on the wire: $fails failed"
[ $fails = 0 ]
