#!/usr/bin/env bash
# twtcp-config as a user runs it: presets load, bad input gives one line on
# stderr and exit 2, the port search follows the kernel model's parity rule.
set -u
bin=$1 src=$2
fails=0 passes=0
check() {  # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
expect_error() {  # expect_error NAME PATTERN ARGS...: exit 2, exactly one stderr line matching PATTERN
  local name=$1 pattern=$2
  shift 2
  local err rc
  err=$("$bin" "$@" 2>&1 >/dev/null)
  rc=$?
  check "$name: exit 2 (got $rc)" test "$rc" = 2
  check "$name: one line" test "$(printf '%s\n' "$err" | wc -l)" = 1
  check "$name: message '$err' matches '$pattern'" grep -qE -- "$pattern" <<<"$err"
}

for f in "$src"/configs/*.conf; do
  check "preset $f loads" "$bin" --config "$f" --print >/dev/null
done
out=$("$bin" --config "$src/configs/linux-3.10-recycle.conf" --print)
check "printed config reloads identically" \
  test "$("$bin" --config <(printf '%s\n' "$out") --print)" = "$out"
check "diff of linux-6 is empty" grep -q 'same as the built-in defaults' \
  <<<"$("$bin" --config "$src/configs/linux-6.conf" --diff)"
check "diff shows recycle" grep -q '^net.ipv4.tcp_tw_recycle = 1' \
  <<<"$("$bin" --config "$src/configs/linux-3.10-recycle.conf" --diff)"

expect_error "out of range" 'net.ipv4.tcp_tw_reuse = 3: out of range \(allowed 0..2\)' --set net.ipv4.tcp_tw_reuse=3
expect_error "unknown key" "unknown key 'net.ipv4.tcp_tw_reuze'.*did you mean" --set net.ipv4.tcp_tw_reuze=1
expect_error "missing =" "missing '='" --set net.ipv4.tcp_tw_reuse
expect_error "missing file" 'cannot open' --config /nonexistent/x.conf
expect_error "unknown flag" "unknown argument '--bogus'" --bogus
expect_error "flag without value" '--config needs a FILE' --config
expect_error "bad endpoint" 'port-search needs' --port-search 198.18.0.1
expect_error "recycle on 6.18" 'tw_recycle' --set net.ipv4.tcp_tw_recycle=1
bad=$(mktemp)
printf '# ok\nnet.ipv4.tcp_rfc1337 = 1\nnet.ipv4.tcp_fin_timeout = abc\n' >"$bad"
expect_error "file line named" "$bad:3: net.ipv4.tcp_fin_timeout" --config "$bad"
rm -f "$bad"

search() { "$bin" --set twtcp.kernel_model="$1" --set net.ipv4.tcp_tw_reuse=0 \
  --set 'net.ipv4.ip_local_port_range=40000 40009' --port-search 198.18.0.1:80; }
for model in 4.19 6.18; do
  line=$(search $model)
  first5=$(sed 's/.*40009://' <<<"$line" | grep -oE '400[0-9]{2}' | head -5 | tr '\n' ' ')
  check "$model: first five ports even ($first5)" test -z "$(grep -oE '[13579] ' <<<"$first5")"
  check "$model: EADDRNOTAVAIL after 10" grep -q 'EADDRNOTAVAIL (errno 99) after 10 connects' <<<"$line"
done
line=$(search 3.10)
check "3.10: all 10 ports then EADDRNOTAVAIL" grep -q 'after 10 connects' <<<"$line"

echo "$passes passed, $fails failed"
test "$fails" = 0
