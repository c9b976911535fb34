#!/usr/bin/env bash
# meson install puts the headers, libtwtcp.a and libtwtcp.pc in place, and an appliance
# program (examples/embed) builds against them with pkg-config alone, then behaves.
set -eu
build=$1 src=$2 cxx=${3:-c++} sanitize=${4:-none}
# A sanitizer build's archive needs the sanitizer runtime at link time: an appliance would
# not link that, so this check runs in the plain build only (77 = skipped).
[ "$sanitize" = none ] || { echo "skipped: b_sanitize=$sanitize"; exit 77; }
root=$(mktemp -d /tmp/twtcp-install.XXXXXX)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --no-rebuild --destdir "$root" --quiet >/dev/null
pc=$(find "$root" -name libtwtcp.pc | head -n1)
[ -n "$pc" ] || { echo "FAIL: no libtwtcp.pc installed"; exit 1; }
test -f "$(dirname "$pc")/../libtwtcp.a" || { echo "FAIL: libtwtcp.a not next to the pc dir"; exit 1; }
for h in config.hpp stack.hpp close_reason.hpp; do
  test -n "$(find "$root" -path "*/include/twtcp/$h")" || { echo "FAIL: header $h missing"; exit 1; }
done
export PKG_CONFIG_PATH=$(dirname "$pc")
# The .pc says prefix=/usr/local; point it at the staged copy (what a packager's sysroot does).
prefix=$(sed -n 's/^prefix=//p' "$pc")
flags=$(pkg-config --define-variable=prefix="$root$prefix" --cflags --libs libtwtcp)
# Only the installed tree: no -I into the source, no build-dir libraries.
case "$flags" in *"$src"*|*"$build"*) echo "FAIL: pkg-config points into the source/build tree: $flags"; exit 1 ;; esac
"$cxx" -Wall -Wextra -Werror "$src/examples/embed/health_probe.cpp" $flags -o "$root/health_probe"
out=$("$root/health_probe")
echo "$out"
grep -q '^connected 10, EADDRNOTAVAIL [1-9]' <<<"$out" || { echo "FAIL: tw_reuse=0 should stop at the 10 ports"; exit 1; }
out=$("$root/health_probe" net.ipv4.tcp_max_tw_buckets=0)
grep -q 'TIME_WAIT entries 0' <<<"$out" || { echo "FAIL: max_tw_buckets=0 keeps no TIME_WAIT"; exit 1; }
set +e
err=$("$root/health_probe" net.ipv4.tcp_tw_reuse=9 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" = 2 ] && grep -q 'tcp_tw_reuse' <<<"$err" || { echo "FAIL: bad setting: rc=$rc err=$err"; exit 1; }
echo "install + embed: ok"
