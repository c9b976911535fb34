#!/usr/bin/env bash
# twtcp-sim as a user runs it: --list, each story's verdict line and exit status, --json that
# parses, and one-line errors with exit 2 for bad input.
set -u
bin=$1 src=$2
py=/usr/bin/python3
[ -x "$py" ] || py=python3
fails=0 passes=0
check() {  # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
expect_error() {  # expect_error NAME PATTERN ARGS...: exit 2, one stderr line matching PATTERN
  local name=$1 pattern=$2
  shift 2
  local err rc
  err=$("$bin" "$@" 2>&1 >/dev/null)
  rc=$?
  check "$name: exit 2 (got $rc)" test "$rc" = 2
  check "$name: one line" test "$(printf '%s\n' "$err" | wc -l)" = 1
  check "$name: message '$err' matches '$pattern'" grep -qE -- "$pattern" <<<"$err"
}

list=$("$bin" --list)
for s in recycle-nat port-exhaustion syn-in-timewait reuse-no-timestamps lossy-transfer; do
  check "--list names $s" grep -q "^$s " <<<"$list"
done

out=$("$bin" --scenario recycle-nat)
check "recycle-nat exits 0" test $? = 0
check "recycle-nat verdict" grep -q '^verdict: PASS recycle-nat: .*c2 connected after 63' <<<"$out"
check "recycle-nat timeline shows the dropped SYN retries" \
  test "$(grep -c '> 198.18.0.1.80: Flags \[S\]' <<<"$out")" -ge 7
out=$("$bin" --scenario recycle-nat --config "$src/configs/linux-3.10.conf")
check "recycle-nat under linux-3.10 connects at once" grep -q 'c2 connected after 0.00' <<<"$out"

out=$("$bin" --scenario syn-in-timewait --set net.ipv4.tcp_rfc1337=1)
check "rfc1337=1 verdict" grep -q '^verdict: PASS syn-in-timewait: .*never connected' <<<"$out"

json=$("$bin" --scenario port-exhaustion --json)
check "port-exhaustion --json parses and has the E rows" "$py" -c '
import json, sys
d = json.loads(sys.argv[1])
names = [r["name"] for r in d["runs"]]
assert d["scenario"] == "port-exhaustion", d["scenario"]
assert names[:3] == ["E1a", "E1b", "E1c"], names
e1a = d["runs"][0]
assert e1a["per_second"] == [10, 0, 0, 0, 0], e1a
assert e1a["client"]["TcpExt"]["TW"] >= 10, e1a["client"]
' "$json"
out=$("$bin" --scenario port-exhaustion --set net.ipv4.tcp_tw_reuse=1 --max-lines 5)
check "custom run prints at most 5 timeline lines" \
  test "$(grep -c '^[0-9]*\.[0-9]* ' <<<"$out")" -le 5
check "custom run reuses" grep -q '^verdict: PASS port-exhaustion: 50 connects' <<<"$out"

expect_error "unknown scenario" "unknown scenario 'nope'" --scenario nope
expect_error "bad --set" 'tcp_tw_reuse' --scenario recycle-nat --set net.ipv4.tcp_tw_reuse=9
expect_error "missing config" 'cannot open' --scenario recycle-nat --config /nonexistent.conf
expect_error "no action" 'nothing to do' 
expect_error "unknown flag" "unknown argument '--bogus'" --bogus
expect_error "bad seed" '--seed needs' --scenario recycle-nat --seed x
expect_error "seed zero" '--seed needs' --scenario recycle-nat --seed 0
expect_error "param without =" '--param needs KEY=VALUE' --scenario lossy-transfer --param bytes
expect_error "unknown param" '--param nope' --scenario lossy-transfer --param nope=1
expect_error "param on a story without any" 'takes no parameters' --scenario recycle-nat --param bytes=1
out=$("$bin" --scenario lossy-transfer --param bytes=300000)
check "lossy-transfer small run is byte-exact" grep -q '^verdict: PASS lossy-transfer: both directions arrived byte-exact' <<<"$out"
expect_error "list and scenario" 'exclude' --list --scenario recycle-nat

echo "twtcp-sim CLI: $passes passed, $fails failed"
[ "$fails" = 0 ]
