#!/usr/bin/env bash
# Table-driven bad input for the programs (issue 6): every configuration key with an empty,
# a wrong-type and an out-of-range value, unknown and value-less flags, and repeated
# single-valued flags. Each must give exactly one line on stderr that names what is wrong,
# exit 2, and print nothing on stdout; none may crash (exit >= 128) or hang (timeout).
# The key table comes from `twtcp-config --list-keys`, so a new key is covered at once.
# Usage: test_bad_input.sh TWTCP_CONFIG TWTCP_SIM [KERNEL_BASELINE]
set -u
config_bin=$1 sim_bin=$2 baseline_bin=${3:-}
fails=0 passes=0
check() {
  local name=$1
  shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
# bad NAME PATTERN CMD...: exit 2, one stderr line matching PATTERN, empty stdout.
bad() {
  local name=$1 pattern=$2
  shift 2
  local out err rc
  timeout 20 "$@" >"$tmp.out" 2>"$tmp.err"
  rc=$?
  out=$(cat "$tmp.out")
  err=$(cat "$tmp.err")
  if [ "$rc" = 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && grep -qE -- "$pattern" <<<"$err" &&
     [ -z "$out" ]; then
    passes=$((passes + 1))
  else
    echo "FAIL: $name: rc=$rc stderr='$err' stdout='${out:0:80}'"
    fails=$((fails + 1))
  fi
}

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.out" "$tmp.err"' EXIT

keys=$("$config_bin" --list-keys | awk '{print $1 " " $2}')
check "key table is not empty" test "$(wc -l <<<"$keys")" -ge 40
# BAD_INPUT_ONLY_FLAGS=1: skip the key table (the baseline's own registration).
[ "${BAD_INPUT_ONLY_FLAGS:-0}" = 1 ] && keys=""
while read -r key range; do
  [ -n "$key" ] || continue
  q=$(sed 's/\./\\./g' <<<"$key")
  for prog in config sim; do
    if [ $prog = config ]; then cmd=("$config_bin"); else cmd=("$sim_bin" --scenario recycle-nat); fi
    # An empty reserved-port list is valid (no reserved ports).
    [ "$key" = net.ipv4.ip_local_reserved_ports ] ||
      bad "$prog $key empty" "$q" "${cmd[@]}" --set "$key="
    bad "$prog $key wrong type" "$q" "${cmd[@]}" --set "$key=bogus!"
  done
  case $range in
    [0-9]*..[0-9]*)
      hi=${range#*..}
      hi=${hi%,}
      over=$(/usr/bin/python3 -c "print(int('$hi') + 1)" 2>/dev/null || python3 -c "print(int('$hi') + 1)")
      bad "config $key above range" "$q" "$config_bin" --set "$key=$over"
      bad "config $key negative" "$q" "$config_bin" --set "$key=-1"
      ;;
  esac
done <<<"$keys"

# Config files with the same mistakes name the file and line.
printf 'net.ipv4.tcp_tw_reuse = 1\nnet.ipv4.tcp_fin_timeout = soon\n' >"$tmp"
bad "file: line named" "$(basename "$tmp"):2" "$config_bin" --config "$tmp"
printf 'no equals sign here\n' >"$tmp"
bad "file: syntax" "$(basename "$tmp"):1" "$config_bin" --config "$tmp"
bad "unknown key" "unknown key" "$config_bin" --set net.ipv4.tcp_tw_reuse_dealy=5
bad "cross-key rule" "tcp_tw_recycle" "$config_bin" --set net.ipv4.tcp_tw_recycle=1

# Flags of twtcp-config.
for f in --config --set --port-search --local; do bad "config $f without value" "$f" "$config_bin" "$f"; done
bad "config unknown flag" "unknown argument" "$config_bin" --frobnicate
bad "config empty flag" "unknown argument" "$config_bin" ""
bad "config two actions" "only one of" "$config_bin" --print --diff
bad "config port-search twice" "only one of" "$config_bin" --port-search 198.18.0.1:80 --port-search 198.18.0.1:81
bad "config --local twice" "given twice" "$config_bin" --port-search 198.18.0.1:80 --local 198.18.0.2 --local 198.18.0.3
bad "config --local alone" "only applies" "$config_bin" --local 198.18.0.2
bad "config bad port" "port-search needs" "$config_bin" --port-search 198.18.0.1:0
bad "config bad address" "port-search needs" "$config_bin" --port-search 300.1.1.1:80

# Flags of twtcp-sim.
for f in --scenario --config --set --seed --max-lines --param; do bad "sim $f without value" "$f" "$sim_bin" "$f"; done
bad "sim unknown flag" "unknown argument" "$sim_bin" --frobnicate
bad "sim scenario twice" "given twice" "$sim_bin" --scenario recycle-nat --scenario port-exhaustion
bad "sim seed overflow" "--seed needs" "$sim_bin" --scenario recycle-nat --seed 99999999999999999999999
bad "sim negative lines" "--max-lines needs" "$sim_bin" --scenario recycle-nat --max-lines -3
bad "sim param out of range" "percentage" "$sim_bin" --scenario lossy-transfer --param loss=90

# twtcp-kernel-baseline (flags are checked before it creates a namespace).
if [ -n "$baseline_bin" ]; then
  bad "baseline no mode" "needs cps or throughput" "$baseline_bin"
  bad "baseline bad mode" "unknown mode" "$baseline_bin" flood
  for f in --seconds --concurrency --close --tw-reuse --ports --client-cpu --server-cpu --response-bytes; do
    bad "baseline $f without value" "$f" "$baseline_bin" cps "$f"
  done
  bad "baseline seconds range" "--seconds needs" "$baseline_bin" cps --seconds 0
  bad "baseline ports order" "--ports needs" "$baseline_bin" cps --ports 5000-4000
  bad "baseline close value" "--close needs" "$baseline_bin" cps --close both
fi

# The DPDK programs (paths in SERVER_BIN, CLIENT_BIN, BENCH_BIN): flags are checked before
# EAL starts, so a bad flag never leaves a half-started port (no EAL args given here, and
# none needed: they must fail first).
if [ -n "${SERVER_BIN:-}" ]; then
  for f in --ip --gateway --port --mode --response-bytes --config --set --duration --stats-json \
    --pcap --port-id; do
    bad "server $f without value" "$f" "$SERVER_BIN" --ip 198.18.0.1/24 --port 80 "$f"
  done
  bad "server no --ip" "--ip A.B.C.D/LEN is required" "$SERVER_BIN" --port 80
  bad "server no --port" "--port N is required" "$SERVER_BIN" --ip 198.18.0.1/24
  bad "server bad prefix" "--ip needs" "$SERVER_BIN" --ip 198.18.0.1/33 --port 80
  bad "server port 0" "--port needs" "$SERVER_BIN" --ip 198.18.0.1/24 --port 0
  bad "server port twice" "given twice" "$SERVER_BIN" --ip 198.18.0.1/24 --port 80 --port 80
  bad "server bad port mode" "mode must be" "$SERVER_BIN" --ip 198.18.0.1/24 --port 80:ftp
  bad "server bad mode" "--mode needs" "$SERVER_BIN" --ip 198.18.0.1/24 --port 80 --mode gopher
  bad "server mode twice" "given twice" "$SERVER_BIN" --ip 198.18.0.1/24 --port 80 --mode echo --mode http
  bad "server bad config key" "unknown key" "$SERVER_BIN" --ip 198.18.0.1/24 --port 80 --set net.ipv4.nope=1
  bad "server unknown flag" "unknown argument" "$SERVER_BIN" --ip 198.18.0.1/24 --port 80 --frob
fi
if [ -n "${CLIENT_BIN:-}" ]; then
  for f in --ip --gateway --target --concurrency --rate --connections --duration --close \
    --request-bytes --config --set --stats-json --pcap --port-id; do
    bad "client $f without value" "$f" "$CLIENT_BIN" --ip 198.18.0.2/24 --target 198.18.0.1:80 "$f"
  done
  bad "client no --target" "--target A.B.C.D:PORT is required" "$CLIENT_BIN" --ip 198.18.0.2/24
  bad "client bad target" "--target needs" "$CLIENT_BIN" --ip 198.18.0.2/24 --target 198.18.0.1
  bad "client concurrency 0" "--concurrency needs" "$CLIENT_BIN" --ip 198.18.0.2/24 --target 198.18.0.1:80 --concurrency 0
  bad "client close value" "--close needs" "$CLIENT_BIN" --ip 198.18.0.2/24 --target 198.18.0.1:80 --close both
  bad "client flag twice" "given twice" "$CLIENT_BIN" --ip 198.18.0.2/24 --target 198.18.0.1:80 --rate 5 --rate 6
  bad "client bad config value" "tcp_tw_reuse" "$CLIENT_BIN" --ip 198.18.0.2/24 --target 198.18.0.1:80 --set net.ipv4.tcp_tw_reuse=3
fi
if [ -n "${BENCH_BIN:-}" ]; then
  bad "bench no subcommand" "missing subcommand" "$BENCH_BIN"
  bad "bench bad subcommand" "unknown subcommand" "$BENCH_BIN" flood
  bad "bench seconds 0" "--seconds needs" "$BENCH_BIN" port-exhaustion --seconds 0
  bad "bench bad preset" "unknown preset" "$BENCH_BIN" port-exhaustion --preset linux-9
  bad "bench cps close" "--close needs" "$BENCH_BIN" cps --close both
  bad "bench soak run-seconds" "--run-seconds needs" "$BENCH_BIN" soak --run-seconds 0
fi

echo "bad input: $passes passed, $fails failed"
[ "$fails" = 0 ]
