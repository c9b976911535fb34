#!/usr/bin/env bash
# twtcp's test command (README quick start, and what .ci/run calls).
#
# On a fresh Debian 12 machine, as root: installs the apt packages that are
# missing (quiet when all are there), then builds and runs every suite:
#   1. build/        release-ish build, warnings as errors: unit tests + a benchmark smoke run
#   2. build-asan/   AddressSanitizer + UBSan: the unit tests
#   3. build-tsan/   ThreadSanitizer: the lock-free flow-table stress test
#   4. build-fuzz/   clang + libFuzzer: each fuzz target (wire, config, stack) replays its
#                    tests/fuzz/regressions/ reproducers, then fuzzes for TWTCP_FUZZ_SECONDS (default 60)
# Environment: TWTCP_QUICK=1 runs stage 1 only (for edit-compile loops); TWTCP_BUILD_ONLY=1
# installs what is missing and builds build/ without running anything (scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '== %s\n' "$*"; }

packages=(
  build-essential g++ clang libclang-rt-14-dev meson ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev libboost-dev
  dpdk dpdk-dev libdpdk-dev
  gnuplot-nox iputils-ping
  iproute2 iptables tcpdump tshark curl python3-scapy
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "scripts/test.sh: these packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# setup DIR [meson options...]: configure DIR once, reconfigure when it exists.
setup() {
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

# count DIR: adds DIR's last `meson test` results to the totals printed at the end.
passed=0 failed=0
count() {
  local p f
  read -r p f < <(python3 -c '
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): ok += 1
    elif r != "SKIP": bad += 1
print(ok, bad)' "$1/meson-logs/testlog.json")
  passed=$((passed + p)) failed=$((failed + f))
}

log "stage 1: build/ (unit tests, benchmark smoke run)"
setup build
ninja -C build
if [ "${TWTCP_BUILD_ONLY:-0}" = 1 ]; then
  log "TWTCP_BUILD_ONLY=1: built build/, no tests run"
  exit 0
fi
meson test -C build --suite unit --suite integrity --suite bench-smoke --print-errorlogs
count build

if [ "${TWTCP_QUICK:-0}" = 1 ]; then
  log "TWTCP_QUICK=1: sanitizer and fuzz stages skipped"
  echo "twtcp: $passed passed, $failed failed"
  exit 0
fi

log "stage 2: build-asan/ (AddressSanitizer + UBSan, unit tests)"
# -O1 and line tables only (-g1: ASan reports keep file:line): this build was the longest
# step of the test command (10+ min on 2 cores with -O2 -g; 6.5 min like this).
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=false \
  -Doptimization=1 -Dcpp_args=-g1
ninja -C build-asan
meson test -C build-asan --suite unit --print-errorlogs --timeout-multiplier 3
count build-asan

log "stage 3: build-tsan/ (ThreadSanitizer, stress tests)"
setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbenchmarks=false
# Only what the stage runs: the whole tree under TSan took minutes for one test.
ninja -C build-tsan tests/flow/test_flow_stress
meson test -C build-tsan --no-rebuild --suite stress --print-errorlogs --timeout-multiplier 3
count build-tsan

log "stage 4: build-fuzz/ (libFuzzer, ${TWTCP_FUZZ_SECONDS:-60} s per target)"
CXX=clang++ CC=clang setup build-fuzz -Dfuzz=true -Dbenchmarks=false -Dtests=false
ninja -C build-fuzz tests/fuzz/fuzz_wire tests/fuzz/fuzz_config tests/fuzz/fuzz_stack
TWTCP_FUZZ_SECONDS=${TWTCP_FUZZ_SECONDS:-60} meson test -C build-fuzz --no-rebuild --suite fuzz --print-errorlogs
count build-fuzz
grep -hE '^replayed|stat::(number_of_executed_units|average_exec_per_sec)' build-fuzz/meson-logs/testlog.txt || true

log "all stages passed"
echo "twtcp: $passed passed, $failed failed"
