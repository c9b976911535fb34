#!/usr/bin/env bash
# DPDK to DPDK over net_memif (shared-memory packet rings between two processes): twtcp-client
# in one process fetches from twtcp-server in another, 2000 short connections, first with the
# server closing (HTTP/1.0: TIME_WAIT on the server), then with the client closing (TIME_WAIT on
# the client). Each side's counts must agree with the other's, nothing may fail. Needs root
# (EAL); the memif socket lives in a private temporary directory; about 5 s.
set -u
server_bin=$1 client_bin=$2
py=/usr/bin/python3
work=$(mktemp -d /tmp/twtcp-memif.XXXXXX)
spid=""
cleanup() {
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"  # check, wait_for
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 77; fi

run() {  # CLOSE(server|client)
  local close=$1 sock="$work/memif-$1.sock"
  "$server_bin" --vdev "net_memif0,role=server,socket=$sock" -l 0 --no-huge --no-pci -m 512 \
    --log-level error --file-prefix "twmems$$$close" -- --ip 198.18.5.1/24 --port 80 \
    --duration 30 --quiet --stats-json "$work/server-$close.json" >"$work/server-$close.log" 2>&1 &
  spid=$!
  wait_for "$work/server-$close.log" "listening on" "$spid" || return 1
  timeout 40 "$client_bin" --vdev "net_memif0,role=client,socket=$sock" -l 1 --no-huge --no-pci \
    -m 512 --log-level error --file-prefix "twmemc$$$close" -- --ip 198.18.5.2/24 \
    --target 198.18.5.1:80 --connections 2000 --concurrency 8 --close "$close" --duration 20 \
    --quiet --stats-json "$work/client-$close.json" >"$work/client-$close.log" 2>&1
  check "client ($close closes) exits 0" test $? = 0
  kill -INT "$spid"
  wait "$spid"
  check "server ($close closes) exits 0 on SIGINT" test $? = 0
  spid=""
  check "$close closes: 2000 connections on both sides, none failed, TIME_WAIT on the $close" \
    "$py" -c '
import json, sys
close = sys.argv[3]
s, c = (json.load(open(f)) for f in sys.argv[1:3])
assert c["twtcp"]["completed"] == 2000 and sum(c["twtcp"]["failed"].values()) == 0, c["twtcp"]
assert s["twtcp"]["accepted"] == 2000 and s["twtcp"]["requests"] == 2000, s["twtcp"]
assert s["Tcp"]["PassiveOpens"] == 2000 and c["Tcp"]["ActiveOpens"] == 2000
assert s["Tcp"]["EstabResets"] == 0 and c["Tcp"]["EstabResets"] == 0
closer, other = (s, c) if close == "server" else (c, s)
assert closer["TcpExt"]["TW"] == 2000, closer["TcpExt"]
assert other["TcpExt"]["TW"] == 0, other["TcpExt"]
' "$work/server-$close.json" "$work/client-$close.json" "$close"
  grep '^twtcp-client:' "$work/client-$close.log"
}
run server
run client
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
