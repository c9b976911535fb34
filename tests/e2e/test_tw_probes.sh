#!/usr/bin/env bash
# Seed 003 / SPEC §3.4 as a differential test: what a SYN, an RST, an old ACK, ... does to a
# SERVER-side TIME_WAIT, on twtcp-server (preset linux-6) and on the Linux kernel, in the same
# run, row by row. Needs root.
#
#   client namespace: scapy (tw_probe.py) on two interfaces; its kernel's RSTs are dropped
#     |-- twtcp-server's net_tap   198.18.0.2 <-> twtcp  198.18.0.1:80 (HTTP/1.0: closes first)
#     `-- veth                     198.18.1.2 <-> Linux  198.18.1.1:80 (a python HTTP/1.0
#                                  server that closes first, in its own namespace)
#
# For tcp_rfc1337 = 0 and 1 (twtcp: --set, Linux: sysctl in its namespace) every probe of
# tw_probe.py runs against both servers at once, each on a fresh connection; the test prints
# "probe | Linux | twtcp | match" and fails if any row differs in what comes back (flags, and
# seq/ack/TSecr/ISN as relations to that connection's own values), in whether the TIME_WAIT
# entry survived, or in whether its timer was re-armed; and if twtcp's counters did not move
# as Linux's did. The Linux column must also show what SPEC §3.4 says for the core rows (so a
# broken harness cannot pass by getting nothing from both). TWTCP_SET=KEY=VALUE adds one more
# --set for twtcp only (to see the test fail, e.g. net.ipv4.tcp_invalid_ratelimit=0).
set -u
. "$(dirname "$0")/lib.sh"  # check, wait_for
server_bin=$1 src=$2
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
id=$$
cl=twpc-$id lx=twpl-$id tap=twpt$id vc=twpvc$id vl=twpvl$id
work=$(mktemp -d /tmp/twtcp-twprobe.XXXXXX)
spid="" hpid=""
cleanup() {
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  [ -n "$hpid" ] && kill -9 "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null
  ip netns del "$cl" 2>/dev/null
  ip netns del "$lx" 2>/dev/null
  if [ -n "${TWTCP_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
if [ "$(id -u)" != 0 ]; then echo "skipped: needs root"; exit 77; fi
"$py" -c 'import scapy' 2>/dev/null || { echo "skipped: $py has no scapy (apt install python3-scapy)"; exit 77; }
export NSTAT_HISTORY=$work/nstat.hist  # never touch the shared ~/.nstat history

for n in "$cl" "$lx"; do ip netns add "$n" && ip -n "$n" link set lo up || fail "netns $n"; done
ip link add "$vc" netns "$cl" type veth peer name "$vl" netns "$lx" || fail veth
ip -n "$cl" addr add 198.18.1.2/24 dev "$vc" && ip -n "$lx" addr add 198.18.1.1/24 dev "$vl" &&
  ip -n "$cl" link set "$vc" up && ip -n "$lx" link set "$vl" up || fail "veth addresses"
# scapy owns the client side: its kernel has no such connections and must not RST them.
ip netns exec "$cl" iptables -A OUTPUT -p tcp --tcp-flags RST RST -j DROP || fail iptables

cat >"$work/httpd.py" <<'PY'
import socket, sys, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], 80))
ls.listen(128)
ls.settimeout(0.2)
end = time.time() + float(sys.argv[2])
print("listening", flush=True)
while time.time() < end:
    try:
        c, _ = ls.accept()
    except socket.timeout:
        continue
    c.settimeout(2)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            d = c.recv(4096)
            if not d:
                break
            buf += d
        if b"\r\n\r\n" in buf:  # HTTP/1.0: answer, then close first (TIME_WAIT here)
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 128\r\n\r\n" + b"x" * 128)
    except OSError:
        pass
    c.close()
PY
ip netns exec "$lx" "$py" "$work/httpd.py" 198.18.1.1 100 >"$work/httpd.log" 2>&1 &
hpid=$!

nstat_json() {  # the Linux server namespace's counters as {"Tcp":{..},"TcpExt":{..}}
  ip netns exec "$lx" nstat -az | "$py" -c '
import json, sys
d = {"Tcp": {}, "TcpExt": {}}
for line in sys.stdin:
    f = line.split()
    for g in ("TcpExt", "Tcp"):
        if f and f[0].startswith(g):
            d[g][f[0][len(g):]] = int(f[1])
            break
print(json.dumps(d))'
}
wait_for "$work/httpd.log" listening || fail "Linux HTTP server"

t_start=$(date +%s)
for r in 0 1; do
  ip netns exec "$lx" sysctl -qw net.ipv4.tcp_rfc1337=$r || fail sysctl
  "$server_bin" --vdev "net_tap0,iface=$tap" -l 0 --no-huge --no-pci -m 512 --log-level error \
    --file-prefix "$tap" -- --ip 198.18.0.1/24 --port 80 --config "$src/configs/linux-6.conf" \
    --set net.ipv4.tcp_rfc1337=$r ${TWTCP_SET:+--set "$TWTCP_SET"} --duration 60 --quiet \
    --stats-json "$work/twtcp$r.json" >"$work/server$r.log" 2>&1 &
  spid=$!
  wait_for "$work/server$r.log" "listening on" "$spid" || fail "twtcp-server start"
  ip link set "$tap" netns "$cl" && ip -n "$cl" addr add 198.18.0.2/24 dev "$tap" &&
    ip -n "$cl" link set "$tap" up || fail "moving the tap"
  nstat_json >"$work/linux$r.before"
  base=$((20000 + r * 1000))
  ip netns exec "$cl" timeout 40 "$py" "$here/tw_probe.py" --iface "$tap" --src 198.18.0.2 \
    --server 198.18.0.1:80 --sport-base $base --timers "dpdk:$tap" \
    >"$work/twtcp$r.jsonl" 2>"$work/probe-twtcp$r.err" &
  p1=$!
  ip netns exec "$cl" timeout 40 "$py" "$here/tw_probe.py" --iface "$vc" --src 198.18.1.2 \
    --server 198.18.1.1:80 --sport-base $base --timers "linux-netns:$lx" \
    >"$work/linux$r.jsonl" 2>"$work/probe-linux$r.err" &
  p2=$!
  wait $p1 || { cat "$work/probe-twtcp$r.err"; echo "tw_probe against twtcp: some setups failed"; }
  wait $p2 || { cat "$work/probe-linux$r.err"; echo "tw_probe against Linux: some setups failed"; }
  nstat_json >"$work/linux$r.after"
  kill -INT "$spid"
  wait "$spid"
  rc=$?
  spid=""
  [ "$rc" = 0 ] || { cat "$work/server$r.log"; fail "twtcp-server exited $rc"; }
  ip -n "$cl" link del "$tap" 2>/dev/null
done
echo "probes took $(($(date +%s) - t_start)) s"

"$py" - "$work" <<'PY'
import json, sys
work = sys.argv[1]
bad = []

def load(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            d = json.loads(line)
            rows[d["probe"]] = d
    return rows

def cell(d):
    if d is None:
        return "(missing)"
    if "error" in d:
        return "error: " + d["error"]
    s = d["summary"]
    return "%s ; TW %s ; timer %s" % (s["reply"], s["tw_after"], s["timer"])

# Counters whose meaning is the same in both stacks and that these probes move.
KEYS = [("Tcp", "PassiveOpens"), ("Tcp", "AttemptFails"), ("Tcp", "EstabResets"),
        ("Tcp", "OutRsts"), ("TcpExt", "PAWSTimewait"), ("TcpExt", "PAWSEstab"),
        ("TcpExt", "TCPACKSkippedTimeWait"), ("TcpExt", "TCPACKSkippedFinWait2"),
        ("TcpExt", "TCPChallengeACK"), ("TcpExt", "TWRecycled"), ("TcpExt", "TW"),
        ("TcpExt", "TWKilled")]
for r in (0, 1):
    lin, twt = load("%s/linux%d.jsonl" % (work, r)), load("%s/twtcp%d.jsonl" % (work, r))
    names = list(dict.fromkeys(list(lin) + list(twt)))
    rows = []
    for n in names:
        a, b = lin.get(n), twt.get(n)
        spec = (a or b).get("spec", "")
        ok = a is not None and b is not None and "error" not in a and "error" not in b \
            and a["summary"] == b["summary"]
        if not ok:
            bad.append("rfc1337=%d %s (%s): Linux %s | twtcp %s" % (r, n, spec, cell(a), cell(b)))
        rows.append(("%s %s" % (spec, n), cell(a), cell(b), "yes" if ok else "NO"))
    print("\n== tcp_rfc1337 = %d: server-side TIME_WAIT probes ==" % r)
    w = [max(len(x[i]) for x in rows + [("probe", "Linux", "twtcp", "match")]) for i in range(4)]
    for x in [("probe", "Linux", "twtcp", "match")] + rows:
        print(" | ".join(x[i].ljust(w[i]) for i in range(4)))
    before = json.load(open("%s/linux%d.before" % (work, r)))
    after = json.load(open("%s/linux%d.after" % (work, r)))
    tw = json.load(open("%s/twtcp%d.json" % (work, r)))
    print("counters (Linux delta over the probes vs twtcp-server's totals):")
    for g, k in KEYS:
        if k not in after[g] and k not in tw[g]:
            continue
        lv = after[g].get(k, 0) - before[g].get(k, 0)
        tv = tw[g].get(k)
        ok = tv == lv
        print("  %-28s Linux %4d  twtcp %4s  %s" % (g + "." + k, lv, tv, "ok" if ok else "DIFFERS"))
        if not ok:
            bad.append("rfc1337=%d counter %s.%s: Linux %d, twtcp %s" % (r, g, k, lv, tv))
    # The preset (linux-6, kernel model 6.18) counts PAWS rejects in TW as PAWSTimewait; so
    # does this 6.15+ kernel. Both must have seen them (P8, P14).
    if tw["TcpExt"].get("PAWSTimewait", 0) < 2:
        bad.append("rfc1337=%d: twtcp counted fewer than 2 PAWSTimewait (P8, P14)" % r)
    # SPEC §3.4 for the core rows, checked on the Linux column (twtcp must equal it anyway).
    A = "A[seq=snd_nxt ack=rcv_nxt tsecr=ts_recent]"
    KEPT = "kept(tsecr=ts_recent)"
    want = {
        "rst_exact": ("none", "gone" if r == 0 else KEPT, "-" if r == 0 else "TW,running"),  # P1/P2
        "rst_inwindow": ("none", KEPT, "TW,running"),  # P3
        "ack_old": (A, KEPT, "TW,re-armed"),  # P4
        "syn_old_then_rst": (A, "gone" if r == 0 else KEPT, None),  # seed 003
        "fin_retrans": (A, KEPT, "TW,re-armed"),  # P6
        "paws_old_ts": (A, KEPT, "TW,re-armed"),  # P8
        "syn_newer": ("SA[isn=snd_nxt+65537]", "gone", "-"),  # P11
        "syn_older": (A, KEPT, "TW,running"),  # P13
    }
    for n, (rep, alive, tmr) in want.items():
        d = lin.get(n)
        got = d and d.get("summary")
        if not got or got["reply"] != rep or got["tw_after"] != alive or \
                (tmr is not None and got["timer"] != tmr):
            bad.append("rfc1337=%d %s: Linux shows %s, SPEC §3.4 says %s ; TW %s ; timer %s"
                       % (r, n, cell(d), rep, alive, tmr or "any"))
if bad:
    print("\nMISMATCHES between twtcp and Linux:")
    for b in bad:
        print("  " + b)
    sys.exit(1)
print("\nall rows match Linux. Seed 003 on both stacks: a newer SYN reopens the server's "
      "TIME_WAIT with ISN = snd_nxt + 65537; an older SYN gets the old ACK, and the client's "
      "RST answering it kills the entry with tcp_rfc1337=0 and not with 1.")
PY
