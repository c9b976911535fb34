#!/usr/bin/env bash
# twtcp's main-job command (README quick start).
#
# The main job, the port-exhaustion comparison preset by preset, needs the
# TCP endpoint and the DPDK programs (issues 3-5), which do not exist yet.
# Until they do, this builds twtcp and shows what exists: the presets and how
# they differ, the ephemeral-port search on a 10-port range, and the timing
# wheel and flow table measured beside DPDK's rte_timer and rte_hash.
set -euo pipefail
cd "$(dirname "$0")/.."

TWTCP_QUICK=1 bash scripts/test.sh >/tmp/twtcp-demo-build.log 2>&1 || {
  tail -n 40 /tmp/twtcp-demo-build.log
  echo "demo.sh: build or tests failed (full log: /tmp/twtcp-demo-build.log)" >&2
  exit 1
}
echo "== built and unit-tested (log: /tmp/twtcp-demo-build.log)"

echo
echo "== presets: what each one sets (twtcp-config --diff against the built-in defaults)"
for f in configs/*.conf; do
  echo "-- $f"
  build/app/twtcp-config --config "$f" --diff
done

echo
echo "== ephemeral ports: 10-port range 40000-40009, connect() to one peer until EADDRNOTAVAIL"
for model in 3.10 4.19 6.18; do
  build/app/twtcp-config --set twtcp.kernel_model=$model --set net.ipv4.tcp_tw_reuse=0 \
    --set "net.ipv4.ip_local_port_range=40000 40009" --port-search 198.18.0.1:80
done

echo
echo "== microbenchmarks at 1k and 1M entries (twtcp beside rte_timer / rte_hash)"
build/bench/twtcp-microbench --benchmark_filter='/1000$|/1000000$' --benchmark_min_time=0.05 2>&1 |
  grep -vE '^\*\*\*|^WARNING'
