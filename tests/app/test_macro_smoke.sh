#!/usr/bin/env bash
# twtcp-bench cps / throughput, one second per row, against twtcp-kernel-baseline: both sides
# must produce a figure, the ratio must be printed, the JSON must parse and the row selection
# flags must select the rows asked for. Nothing here is about speed. Needs root (EAL, netns).
set -u
bin=$1
baseline=$2
fails=0 passes=0
check() { # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
expect_error() { # expect_error NAME PATTERN ARGS...: exit 2, exactly one stderr line matching PATTERN
  local name=$1 pattern=$2
  shift 2
  local err rc
  err=$("$bin" "$@" 2>&1 >/dev/null)
  rc=$?
  check "$name: exit 2 (got $rc)" test "$rc" = 2
  check "$name: one line" test "$(printf '%s\n' "$err" | wc -l)" = 1
  check "$name: message '$err' matches '$pattern'" grep -qE -- "$pattern" <<<"$err"
}

expect_error "cps bad --close" '--close needs client or server' cps --close both
expect_error "cps --concurrency 0" '--concurrency needs' cps --concurrency 0
expect_error "cps --concurrency over the baseline's limit" '--concurrency needs' cps --concurrency 10001
expect_error "throughput has no --close" "unknown argument '--close'" throughput --close client
expect_error "missing baseline" '--kernel-baseline /nonexistent' cps --kernel-baseline /nonexistent
expect_error "bad --set" 'net.ipv4.tcp_tw_reuse = 3: out of range' cps --set net.ipv4.tcp_tw_reuse=3

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" cps --seconds 1 --concurrency 8 --close server --kernel-baseline "$baseline" \
  --json "$out/cps.json" >"$out/cps.log" 2>&1
rc=$?
check "cps exits 0 (got $rc)" test "$rc" = 0
check "cps table printed" grep -qE '^close +tw_reuse +twtcp conn/s' "$out/cps.log"
check "cps rows printed with a ratio" test "$(grep -cE '^server +[01] .*[0-9.]+x ' "$out/cps.log")" = 2

"$bin" throughput --seconds 1 --kernel-baseline "$baseline" --json "$out/tp.json" \
  >"$out/tp.log" 2>&1
rc=$?
check "throughput exits 0 (got $rc)" test "$rc" = 0

verdicts=$(/usr/bin/python3 - "$out/cps.json" "$out/tp.json" <<'EOF'
import json, sys
cps = json.load(open(sys.argv[1]))
tp = json.load(open(sys.argv[2]))
rows = cps["rows"]
checks = {
  "cps: --close server alone gives the two tw_reuse rows":
      [(r["close"], r["tw_reuse"]) for r in rows] == [("server", 1), ("server", 0)],
  "cps: twtcp completed connections": all(r["twtcp"]["connections"] > 0 for r in rows),
  "cps: twtcp rate is positive": all(r["twtcp"]["cps"] > 0 for r in rows),
  "cps: kernel ran the same row":
      all(r["kernel"] and r["kernel"]["close"] == "server" and
          r["kernel"]["tw_reuse"] == r["tw_reuse"] and r["kernel"]["concurrency"] == 8
          for r in rows),
  "cps: kernel completed connections": all(r["kernel"]["connections"] > 0 for r in rows),
  "cps: ratio is twtcp / kernel":
      all(abs(r["ratio"] - r["twtcp"]["cps"] / r["kernel"]["cps"]) < 1e-3 * r["ratio"]
          for r in rows),
  "cps: counters of both stacks":
      all(r["twtcp"]["client"]["Tcp"]["ActiveOpens"] > 0 and
          r["twtcp"]["server"]["Tcp"]["PassiveOpens"] > 0 for r in rows),
  # An HTTP/1.0 exchange with the server closing: 3 segments each way for twtcp (the ACKs
  # ride on the request, the response+FIN and the client's FIN); Linux sends 10 in all here,
  # more with a retransmission or fewer when autocorking merges the response and its FIN.
  "cps: twtcp sends 6 segments per connection":
      all(abs(r["twtcp"]["segments_per_connection"] - 6) < 0.1 for r in rows),
  "cps: kernel segments per connection counted":
      all(6 <= r["kernel"]["segments_per_connection"] <= 13 for r in rows),
  "throughput: twtcp moved bytes": tp["rows"][0]["twtcp"]["bytes"] > 0,
  "throughput: kernel moved bytes": tp["rows"][0]["kernel"]["bytes"] > 0,
  "throughput: ratio present": tp["rows"][0]["ratio"] > 0,
}
for name, ok in checks.items(): print(("ok " if ok else "bad ") + name)
EOF
)
check "both JSON files load" test -n "$verdicts"
while read -r verdict name; do
  check "$name" test "$verdict" = ok
done <<<"$verdicts"

# With 2 MiB hugepages free on a mounted hugetlbfs the macro benchmarks take them by default,
# and every page must be free again once the program has exited. The test reserves 300 pages
# for itself (and mounts a hugetlbfs if none is), and puts both back.
hp=/sys/kernel/mm/hugepages/hugepages-2048kB
if [ -w "$hp/nr_hugepages" ]; then
  nr0=$(cat "$hp/nr_hugepages")
  hugemnt=""
  if ! grep -q ' hugetlbfs ' /proc/mounts; then
    hugemnt=$(mktemp -d) && mount -t hugetlbfs nodev "$hugemnt" || hugemnt=""
  fi
  trap 'echo "$nr0" >"$hp/nr_hugepages"; [ -n "$hugemnt" ] && umount "$hugemnt" && rmdir "$hugemnt"; rm -rf "$out"' EXIT
  echo $((nr0 + 300)) >"$hp/nr_hugepages"
  free0=$(cat "$hp/free_hugepages")
  if [ "$free0" -ge 256 ] && grep -q ' hugetlbfs ' /proc/mounts; then
    "$bin" cps --seconds 1 --concurrency 8 --close server --tw-reuse 1 --no-kernel \
      >"$out/huge.log" 2>&1
    rc=$?
    check "hugepages: cps exits 0 (got $rc)" test "$rc" = 0
    check "hugepages: taken by default" grep -q '^EAL memory: hugepages' "$out/huge.log"
    check "hugepages: the row ran" grep -qE '^server +1 +[1-9]' "$out/huge.log"
    check "hugepages: all given back ($(cat "$hp/free_hugepages") of $free0 free)" \
      test "$(cat "$hp/free_hugepages")" = "$free0"
  else
    echo "note: no 2 MiB hugepages to reserve here ($free0 free); hugepage run skipped"
  fi
fi

echo "$passes passed, $fails failed"
[ "$fails" = 0 ] || { echo "--- cps log"; cat "$out/cps.log"; echo "--- throughput log"; cat "$out/tp.log"; }
test "$fails" = 0
