# tests/e2e/lib.sh: what the end-to-end scripts share; source it after setting `set -u`.
#   check NAME CMD...      runs CMD, counts a pass or prints "FAIL: NAME" and counts a failure
#   wait_for FILE PATTERN [PID]   waits up to 10 s for PATTERN in FILE (a program's "listening
#                          on"/"ready": its port is started, only then may its tap move into
#                          a namespace, since net_tap reopens the interface by name while it
#                          configures the port); gives up early if PID has exited
fails=0 passes=0
check() {
  local name=$1
  shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
wait_for() {
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && break
    sleep 0.1
  done
  echo "timeout waiting for '$2' in $1:"; cat "$1"
  return 1
}
