#!/usr/bin/env bash
# twtcp's main-job command (README quick start): the port-exhaustion comparison.
#
# Installs what is missing and builds twtcp (scripts/test.sh TWTCP_BUILD_ONLY=1; the tests are
# scripts/test.sh's job), then `twtcp-bench port-exhaustion`: a client
# and a server twtcp Stack in one process, joined by two DPDK net_ring ethdevs (no NIC, no
# hugepages), run connect() -> close() for 5 s per preset with 10 local ports (40000-40009),
# the client closing first as in SPEC §9, so TIME_WAIT pins the client's ports. It prints the
# successful connects and EADDRNOTAVAIL per second, then a table per preset, and writes
# build/port-exhaustion/: per_second.csv, summary.json (counters by Linux MIB name) and
# connections_per_second.svg/.png. Needs root (DPDK's EAL).
# Environment: TWTCP_DEMO_SECONDS (default 5) per preset.
set -euo pipefail
cd "$(dirname "$0")/.."

TWTCP_BUILD_ONLY=1 bash scripts/test.sh >/tmp/twtcp-demo-build.log 2>&1 || {
  tail -n 40 /tmp/twtcp-demo-build.log
  echo "demo.sh: build failed (full log: /tmp/twtcp-demo-build.log)" >&2
  exit 1
}
echo "== built (log: /tmp/twtcp-demo-build.log)"
echo
build/app/twtcp-bench port-exhaustion --seconds "${TWTCP_DEMO_SECONDS:-5}" --out build/port-exhaustion
