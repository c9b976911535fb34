#!/usr/bin/env bash
# run_fuzz.sh TARGET CORPUS_DIR [DICT] [REGRESSIONS_DIR]: first replays every reproducer in
# REGRESSIONS_DIR once (inputs that once crashed the target must not crash it again), then a
# bounded libFuzzer run on a scratch copy of the seed corpus (the checked-in corpus is never
# written to). Prints execs and exits non-zero on any crash, leak or timeout it finds.
set -euo pipefail
target=$1 corpus=$2 dict=${3:-} regressions=${4:-}
seconds=${TWTCP_FUZZ_SECONDS:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "$regressions" ] && [ -d "$regressions" ]; then
  mapfile -t repros < <(find "$regressions" -type f ! -name '*.md' ! -name '.*' | sort)
  if [ "${#repros[@]}" -gt 0 ]; then
    if ! "$target" -runs=1 -timeout=10 -rss_limit_mb=2048 "${repros[@]}" >"$work/replay" 2>&1; then
      tail -n 60 "$work/replay"
      echo "regression reproducer crashed the target (see above)"
      exit 1
    fi
    echo "replayed ${#repros[@]} regression reproducer(s)"
  fi
fi
cp -r "$corpus"/. "$work/"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$work/")
[ -n "$dict" ] && [ -f "$dict" ] && args+=(-dict="$dict")
if ! "$target" "${args[@]}" "$work" >"$work/log" 2>&1; then
  tail -n 60 "$work/log"
  for f in "$work"/crash-*; do [ -e "$f" ] && { echo "reproducer: $(basename "$f")"; xxd "$f" | head -20; }; done
  exit 1
fi
grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' "$work/log" || true
