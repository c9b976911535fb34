#!/usr/bin/python3
"""Packet probes into a SERVER-side TIME_WAIT (SPEC §3.4, seed article 003), with scapy.

Run inside the client network namespace (whose kernel must not answer with RST: the caller
drops its outgoing RSTs with iptables; our own frames go out through an AF_PACKET socket,
which netfilter does not see):

  tw_probe.py --iface IF --src A.B.C.D --server A.B.C.D:PORT --sport-base N
              [--timers linux-netns:NS | --timers dpdk:PREFIX] [--probe NAME]...

For every probe (the "role"; default: all of them) it opens its own connection from a fresh
source port (timestamps on), sends "GET / HTTP/1.0\\r\\n\\r\\n", reads the response and the
server's FIN, then answers with FIN|ACK so the server holds TIME_WAIT (or, for the fw2_*
probes, with a bare ACK so the server's entry stays in its FIN_WAIT2 substate). All
connections are set up first; SETTLE seconds later every probe sends its segment(s) into its
own TIME_WAIT 4-tuple, the replies within REPLY_WINDOW are recorded, the entry's timer is read
(ss -tano in the server's namespace, or twtcp's /twtcp/timewait telemetry), and then an old
duplicate ACK (seq = rcv_nxt - 1000) tells whether the entry still exists: a live entry
answers with an ACK, a dead one (the listener) with an RST. That ACK goes out LIVE_DELAY after
the probe, past the 500 ms out-of-window ACK rate limit.

Prints one JSON object per probe on stdout. Sequence numbers and timestamps are given as
relations to the connection's own values (snd_nxt = the server's tw_snd_nxt, rcv_nxt = its
tw_rcv_nxt, ts_recent = the last TSval it accepted from us), so runs against different
stacks can be compared. "summary" is what the differential test compares.
"""
import argparse
import json
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time

from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.arch import get_if_hwaddr

M32 = 0xFFFFFFFF
SETTLE = 3.0  # TW age when probed, so that a re-armed timer (60 s) differs from one left running
REPLY_WINDOW = 0.6
LIVE_DELAY = 0.9  # > tcp_invalid_ratelimit (500 ms) after the probe's ACK
REQUEST = b"GET / HTTP/1.0\r\n\r\n"

# name -> (SPEC case, setup kind, what is sent)
PROBES = {
    "rst_exact": ("P1/P2", "tw", "RST seq=rcv_nxt, no TS"),
    "rst_inwindow": ("P3", "tw", "RST seq=rcv_nxt+100"),
    "ack_old": ("P4", "tw", "ACK seq=rcv_nxt-1000, no TS"),
    "syn_old_then_rst": ("P5/seed003", "tw", "SYN seq<rcv_nxt no TS; RST seq=reply.ack"),
    "fin_retrans": ("P6", "tw", "FIN|ACK seq=rcv_nxt-1, TS=ts_recent"),
    "ack_exact_newts": ("P7", "tw", "ACK seq=rcv_nxt, newer TS"),
    "paws_old_ts": ("P8", "tw", "ACK seq=rcv_nxt, TSval=ts_recent-100000"),
    "ack_old_twice": ("P9", "tw", "2x ACK seq=rcv_nxt-1000, 50 ms apart"),
    "fin_retrans_twice": ("P10", "tw", "2x FIN|ACK seq=rcv_nxt-1, 50 ms apart"),
    "syn_newer": ("P11", "tw", "SYN seq=rcv_nxt+100000, newer TS"),
    "syn_oldseq_newts": ("P12", "tw", "SYN seq=rcv_nxt-100000, newer TS"),
    "syn_older": ("P13", "tw", "SYN seq=rcv_nxt-100000, no TS"),
    "syn_newseq_oldts": ("P14", "tw", "SYN seq=rcv_nxt+100000, TSval=ts_recent-100000"),
    "synack": ("P16", "tw", "SYN|ACK seq=rcv_nxt+100000"),
    "synrst_exact": ("P16", "tw", "SYN|RST seq=rcv_nxt"),
    "fw2_fin": ("P18", "fw2", "FIN|ACK seq=rcv_nxt (FIN_WAIT2 substate)"),
    "fw2_data": ("P19", "fw2", "10 bytes at rcv_nxt (FIN_WAIT2 substate)"),
    "fw2_rst_inwindow": ("P20", "fw2", "RST seq=rcv_nxt+100 (FIN_WAIT2 substate)"),
    "fw2_syn": ("P21", "fw2", "SYN seq=rcv_nxt+100 (FIN_WAIT2 substate)"),
    "fw2_ack_old": ("P22", "fw2", "ACK seq=rcv_nxt-1000 (FIN_WAIT2 substate)"),
    "icmp_unreach": ("P23", "tw", "ICMP port unreachable quoting the server's segment"),
}

T0 = time.monotonic()
TS_BASE = random.getrandbits(32)


def ts_now():
    """Our TSval clock: 1 ms ticks from a random base."""
    return (TS_BASE + int((time.monotonic() - T0) * 1000)) & M32


def flags_str(f):
    return "".join(n for b, n in ((2, "S"), (16, "A"), (1, "F"), (4, "R"), (8, "P")) if f & b)


class Wire:
    """One AF_PACKET socket on the interface: a receive thread files TCP segments from the
    server by our port; send() writes whole Ethernet frames built with scapy."""

    def __init__(self, iface, src, server, dport):
        self.iface, self.src, self.server, self.dport = iface, src, server, dport
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((iface, 0))
        self.sock.settimeout(0.1)
        self.mac = get_if_hwaddr(iface)
        self.server_mac = None
        self.cv = threading.Condition()
        self.by_port = {}
        self.lock = threading.Lock()
        self.stop = False
        self.src_b = socket.inet_aton(src)
        self.server_b = socket.inet_aton(server)
        threading.Thread(target=self._rx, daemon=True).start()

    def _rx(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == socket.PACKET_OUTGOING or len(data) < 34:
                continue
            et = struct.unpack("!H", data[12:14])[0]
            if et == 0x0806 and len(data) >= 42:
                if data[20:22] == b"\x00\x02" and data[28:32] == self.server_b:
                    with self.cv:
                        self.server_mac = ":".join("%02x" % b for b in data[22:28])
                        self.cv.notify_all()
                continue
            if et != 0x0800:
                continue
            ip = data[14:]
            if ip[9] != 6 or ip[12:16] != self.server_b or ip[16:20] != self.src_b:
                continue
            ihl = (ip[0] & 0xF) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:tot]
            if len(tcp) < 20:
                continue
            sp, dp, seq, ack, off_flags, win = struct.unpack("!HHIIHH", tcp[:16])
            if sp != self.dport:
                continue
            doff = (off_flags >> 12) * 4
            opts = tcp[20:doff]
            tsval = tsecr = None
            i = 0
            while i < len(opts):
                k = opts[i]
                if k == 0:
                    break
                if k == 1:
                    i += 1
                    continue
                if i + 1 >= len(opts):
                    break
                ln = opts[i + 1]
                if k == 8 and ln == 10:
                    tsval, tsecr = struct.unpack("!II", opts[i + 2:i + 10])
                i += max(ln, 2)
            seg = dict(t=time.monotonic(), flags=off_flags & 0x3F, seq=seq, ack=ack, win=win,
                       payload=bytes(tcp[doff:]), tsval=tsval, tsecr=tsecr)
            with self.cv:
                self.by_port.setdefault(dp, []).append(seg)
                self.cv.notify_all()

    def resolve(self, tries=10):
        arp = Ether(src=self.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=self.mac, psrc=self.src, pdst=self.server)
        for _ in range(tries):
            self.send_frame(bytes(arp))
            with self.cv:
                self.cv.wait_for(lambda: self.server_mac is not None, 0.5)
                if self.server_mac:
                    return True
        return False

    def send_frame(self, frame):
        with self.lock:
            self.sock.send(frame)

    def send(self, sport, flags, seq, ack=0, ts=None, payload=b"", win=1024, syn_opts=False):
        if syn_opts:
            opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (ts, 0)), ("NOP", None),
                    ("WScale", 7)]
            win = 64240
        elif ts is not None:
            opts = [("NOP", None), ("NOP", None), ("Timestamp", ts)]
        else:
            opts = []
        pkt = (Ether(src=self.mac, dst=self.server_mac) /
               IP(src=self.src, dst=self.server, ttl=64, id=random.getrandbits(16)) /
               TCP(sport=sport, dport=self.dport, seq=seq & M32, ack=ack & M32, flags=flags,
                   window=win, options=opts))
        if payload:
            pkt = pkt / Raw(payload)
        self.send_frame(bytes(pkt))

    def send_icmp_unreach(self, sport, seq, ack):
        """ICMP port unreachable as a router would send for the server's segment to us."""
        inner = IP(src=self.server, dst=self.src, ttl=64) / TCP(
            sport=self.dport, dport=sport, seq=seq & M32, ack=ack & M32, flags="A")
        quoted = bytes(inner)[:28]
        pkt = (Ether(src=self.mac, dst=self.server_mac) / IP(src=self.src, dst=self.server) /
               ICMP(type=3, code=3) / Raw(quoted))
        self.send_frame(bytes(pkt))

    def segs(self, sport):
        with self.cv:
            return list(self.by_port.get(sport, []))

    def wait(self, sport, pred, timeout, start=0):
        """The first segment for sport (index >= start) matching pred, or None."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                lst = self.by_port.get(sport, [])
                for s in lst[start:]:
                    if pred(s):
                        return s
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)


class Conn:
    """One connection to the server, closed so that the server holds the 4-tuple."""

    def __init__(self, wire, name, sport):
        self.w, self.name, self.sport = wire, name, sport
        self.spec, self.kind, self.what = PROBES[name]
        self.error = None
        self.sent_ts = []  # TSvals the probe itself carried

    def setup(self):
        w, sp = self.w, self.sport
        isn = random.getrandbits(32)
        synack = None
        for _ in range(4):
            w.send(sp, "S", isn, ts=ts_now(), syn_opts=True)
            synack = w.wait(sp, lambda s: s["flags"] & 0x12 == 0x12 and s["ack"] == (isn + 1) & M32, 1.0)
            if synack:
                break
        if not synack:
            raise RuntimeError("no SYN-ACK")
        if synack["tsval"] is None:
            raise RuntimeError("the server did not agree to timestamps")
        srv_isn = synack["seq"]
        self.srv_ts = synack["tsval"]
        snd = (isn + 1) & M32
        rcv = (srv_isn + 1) & M32
        # The request (with the handshake's ACK), then read until the server's FIN.
        data = {}
        fin_seq = None
        for _ in range(4):
            w.send(sp, "PA", snd, rcv, ts=(ts_now(), self.srv_ts), payload=REQUEST)
            deadline = time.monotonic() + 1.5
            idx = 0
            while time.monotonic() < deadline:
                s = w.wait(sp, lambda s: True, deadline - time.monotonic(), idx)
                if s is None:
                    break
                idx = w.segs(sp).index(s) + 1
                if s["tsval"] is not None:
                    self.srv_ts = s["tsval"]
                if s["flags"] & 0x04:
                    raise RuntimeError("RST during the exchange")
                off = (s["seq"] - rcv) & M32
                if s["payload"] and off < 1 << 24:
                    data[off] = s["payload"]
                if s["flags"] & 0x01:
                    fin_seq = (s["seq"] + len(s["payload"])) & M32
                if fin_seq is not None:
                    # all bytes up to the FIN present?
                    have = 0
                    for o in sorted(data):
                        if o <= have:
                            have = max(have, o + len(data[o]))
                    if (rcv + have) & M32 == fin_seq:
                        break
            if fin_seq is not None:
                break
        if fin_seq is None:
            raise RuntimeError("no response/FIN from the server")
        body = b"".join(data[o] for o in sorted(data))
        self.status = body.split(b"\r\n", 1)[0].decode(errors="replace")
        snd = (snd + len(REQUEST)) & M32
        self.snd_nxt = (fin_seq + 1) & M32  # the server's tw_snd_nxt
        if self.kind == "fw2":
            # ACK the FIN only: the server's orphan goes FIN_WAIT2 -> TW entry (FIN_WAIT2 substate).
            self.ts_recent = ts_now()
            w.send(sp, "A", snd, self.snd_nxt, ts=(self.ts_recent, self.srv_ts))
            self.rcv_nxt = snd
            time.sleep(0.02)
        else:
            fin_ack = None
            for _ in range(4):
                self.ts_recent = ts_now()
                w.send(sp, "FA", snd, self.snd_nxt, ts=(self.ts_recent, self.srv_ts))
                fin_ack = w.wait(sp, lambda s: s["flags"] & 0x10 and s["ack"] == (snd + 1) & M32, 1.0)
                if fin_ack:
                    break
            if not fin_ack:
                raise RuntimeError("our FIN was not ACKed")
            if fin_ack["tsval"] is not None:
                self.srv_ts = fin_ack["tsval"]
            self.final_ack_seq_ok = fin_ack["seq"] == self.snd_nxt
            self.rcv_nxt = (snd + 1) & M32
        self.entered = time.monotonic()

    # ---- the probe ----
    def fire(self):
        w, sp, n = self.w, self.sport, self.name
        rn, sn = self.rcv_nxt, self.snd_nxt
        self.t_fire = time.monotonic()
        self.idx_fire = len(w.segs(sp))
        self.probe_seq = None
        if n in ("rst_exact", "synrst_exact"):
            w.send(sp, "R" if n == "rst_exact" else "SR", rn)
        elif n in ("rst_inwindow", "fw2_rst_inwindow"):
            w.send(sp, "R", rn + 100)
        elif n in ("ack_old", "ack_old_twice", "fw2_ack_old"):
            w.send(sp, "A", rn - 1000, sn)
        elif n in ("fin_retrans", "fin_retrans_twice"):
            w.send(sp, "FA", rn - 1, sn, ts=(self.ts_recent, self.srv_ts))
        elif n == "ack_exact_newts":
            v = (ts_now() + 1) & M32
            self.sent_ts.append(v)
            w.send(sp, "A", rn, sn, ts=(v, self.srv_ts))
        elif n == "paws_old_ts":
            w.send(sp, "A", rn, sn, ts=((self.ts_recent - 100000) & M32, self.srv_ts))
        elif n in ("syn_newer", "syn_oldseq_newts"):
            self.probe_seq = (rn + (100000 if n == "syn_newer" else -100000)) & M32
            v = (ts_now() + 1) & M32
            self.sent_ts.append(v)
            w.send(sp, "S", self.probe_seq, ts=v, syn_opts=True)
        elif n in ("syn_older", "syn_old_then_rst"):
            w.send(sp, "S", rn - 100000)
        elif n == "syn_newseq_oldts":
            w.send(sp, "S", rn + 100000, ts=(self.ts_recent - 100000) & M32, syn_opts=True)
        elif n == "synack":
            w.send(sp, "SA", rn + 100000, sn)
        elif n == "fw2_fin":
            v = ts_now()
            self.sent_ts.append(v)
            w.send(sp, "FA", rn, sn, ts=(v, self.srv_ts))
        elif n == "fw2_data":
            w.send(sp, "PA", rn, sn, ts=(ts_now(), self.srv_ts), payload=b"0123456789")
        elif n == "fw2_syn":
            w.send(sp, "S", rn + 100)
        elif n == "icmp_unreach":
            w.send_icmp_unreach(sp, sn, rn)
        else:
            raise ValueError(n)

    def fire_second(self):
        """~50-150 ms after fire(): repeats, and answers to what came back."""
        w, sp, n = self.w, self.sport, self.name
        rn, sn = self.rcv_nxt, self.snd_nxt
        if n == "ack_old_twice":
            w.send(sp, "A", rn - 1000, sn)
        elif n == "fin_retrans_twice":
            w.send(sp, "FA", rn - 1, sn, ts=(self.ts_recent, self.srv_ts))
        elif n == "syn_old_then_rst":
            # seed 003: the client has no such connection, so it answers the TW's ACK with an
            # RST whose seq is that ACK's ack number (RFC 793).
            a = w.wait(sp, lambda s: s["flags"] & 0x10 and not s["flags"] & 0x06, 0.3, self.idx_fire)
            if a is not None:
                w.send(sp, "R", a["ack"])
        elif n in ("syn_newer", "syn_oldseq_newts"):
            # a SYN-ACK: abort that embryonic connection so the 4-tuple check below sees only TW
            sa = w.wait(sp, lambda s: s["flags"] & 0x12 == 0x12, 0.3, self.idx_fire)
            if sa is not None:
                w.send(sp, "R", self.probe_seq + 1)

    def replies(self, start_idx, t_from, t_to):
        return [s for s in self.w.segs(self.sport)[start_idx:] if t_from <= s["t"] <= t_to]

    def rel(self, v, base, name):
        d = (v - base) & M32
        if d == 0:
            return name
        if d < 1 << 20:
            return "%s+%d" % (name, d)
        if d > M32 - (1 << 20):
            return "%s-%d" % (name, (M32 + 1) - d)
        return "other"

    def describe(self, s):
        f = flags_str(s["flags"])
        if s["flags"] & 0x12 == 0x12:
            isn_rule = (self.snd_nxt + 65537) & M32 or 1
            isn = "isn=snd_nxt+65537" if s["seq"] == isn_rule else "isn=%s" % self.rel(s["seq"], self.snd_nxt, "snd_nxt")
            return "%s[%s]" % (f, isn)
        if s["flags"] & 0x04:
            seq = "0" if s["seq"] == 0 else self.rel(s["seq"], self.snd_nxt, "snd_nxt")
            if s["flags"] & 0x10:
                return "%s[seq=%s ack=%s]" % (f, seq, self.rel(s["ack"], self.rcv_nxt, "rcv_nxt"))
            return "%s[seq=%s]" % (f, seq)
        if s["tsecr"] is None:
            tsecr = "none"
        elif s["tsecr"] == self.ts_recent:
            tsecr = "ts_recent"
        elif s["tsecr"] in self.sent_ts:
            tsecr = "probe"
        else:
            tsecr = "other"
        return "%s[seq=%s ack=%s tsecr=%s]" % (f, self.rel(s["seq"], self.snd_nxt, "snd_nxt"),
                                               self.rel(s["ack"], self.rcv_nxt, "rcv_nxt"), tsecr)

    def fire_live(self, again=False):
        if not again:
            self.t_live = time.monotonic()
            self.idx_live = len(self.w.segs(self.sport))
        v = ts_now()
        self.live_ts = v
        self.w.send(self.sport, "A", self.rcv_nxt - 1000, self.snd_nxt, ts=(v, self.srv_ts))

    def result(self, timer):
        probe_replies = self.replies(self.idx_fire, self.t_fire, self.t_fire + REPLY_WINDOW)
        live_replies = self.replies(self.idx_live, self.t_live, self.t_live + 3 * REPLY_WINDOW)
        if any(s["flags"] & 0x04 for s in live_replies):
            alive = "gone"
        elif any(s["flags"] & 0x10 and not s["flags"] & 0x02 for s in live_replies):
            alive = "kept"
        else:
            alive = "no-answer"
        # the liveness ACK's TSecr shows whether the probe updated ts_recent (W3)
        live_ack = [s for s in live_replies if s["flags"] == 0x10]
        if alive == "kept" and live_ack:
            t = live_ack[0]["tsecr"]
            alive += "(tsecr=%s)" % ("ts_recent" if t == self.ts_recent else
                                     "probe" if t in self.sent_ts else "none" if t is None else "other")
        if timer is None:
            tmr = "-"
        else:
            # Left running, the timer would now show 60 s - (t_read - entered); re-armed by
            # the probe, 60 s - (t_read - t_fire), at least SETTLE more. Split the difference.
            sub, secs, t_read = timer
            running = 60.0 - (t_read - self.entered)
            tmr = "%s,%s" % (sub, "re-armed" if secs > running + SETTLE / 2 else "running")
        reply = " ".join(self.describe(s) for s in probe_replies) or "none"
        return {
            "probe": self.name, "spec": self.spec, "what": self.what, "sport": self.sport,
            "tw_rcv_nxt": self.rcv_nxt, "tw_snd_nxt": self.snd_nxt, "ts_recent": self.ts_recent,
            "response": self.status,
            "fin_ack_seq_is_snd_nxt": getattr(self, "final_ack_seq_ok", None),
            "replies": [{k: s[k] for k in ("flags", "seq", "ack", "tsval", "tsecr")} | {
                "dt_ms": round((s["t"] - self.t_fire) * 1000, 1)} for s in probe_replies],
            "live_replies": [self.describe(s) for s in live_replies],
            "timer_after": timer,
            "summary": {"reply": reply, "tw_after": alive, "timer": tmr},
        }


def parse_ss_time(s):
    m = re.match(r"(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?", s)
    mins, secs, ms = (int(x) if x else 0 for x in m.groups())
    return mins * 60 + secs + ms / 1000.0


def read_timers(spec, ports):
    """peer port -> (substate, seconds left) for the server's TIME_WAIT entries."""
    out = {}
    t_read = time.monotonic()
    kind, _, arg = spec.partition(":")
    if kind == "linux-netns":
        txt = subprocess.run(["ip", "netns", "exec", arg, "ss", "-Htanoa"], capture_output=True,
                             text=True, timeout=10).stdout
        for line in txt.splitlines():
            f = line.split()
            m = re.search(r"timer:\(timewait,([^,]+),", line)
            if len(f) < 5 or not m:
                continue
            port = int(f[4].rsplit(":", 1)[1])
            if port in ports:
                sub = "TW" if f[0] == "TIME-WAIT" else "FW2" if f[0] == "FIN-WAIT-2" else f[0]
                out[port] = (sub, parse_ss_time(m.group(1)), t_read)
    elif kind == "dpdk":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % arg)
        info = json.loads(s.recv(65536).decode())
        s.send(b"/twtcp/timewait,500")
        d = json.loads(s.recv(int(info.get("max_output_len", 16384))).decode())["/twtcp/timewait"]
        s.close()
        for e in d["entries"]:
            f = e.split()
            port = int(f[1].rsplit(":", 1)[1])
            if port in ports:
                ms = int(re.search(r"expires_in_ms=(\d+)", e).group(1))
                out[port] = ("TW" if f[2] == "TIME_WAIT" else "FW2", ms / 1000.0, t_read)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--server", required=True, help="A.B.C.D:PORT")
    ap.add_argument("--sport-base", type=int, required=True)
    ap.add_argument("--timers", default="", help="linux-netns:NS or dpdk:FILE_PREFIX")
    ap.add_argument("--probe", action="append", choices=sorted(PROBES))
    a = ap.parse_args()
    host, port = a.server.rsplit(":", 1)
    names = a.probe or list(PROBES)
    w = Wire(a.iface, a.src, host, int(port))
    if not w.resolve():
        sys.exit("tw_probe: no ARP answer from %s" % host)
    conns = []
    for i, n in enumerate(names):
        c = Conn(w, n, a.sport_base + i)
        try:
            c.setup()
        except RuntimeError as e:
            print(json.dumps({"probe": n, "sport": c.sport, "error": str(e)}), flush=True)
            continue
        conns.append(c)
    if conns:
        time.sleep(max(0.0, conns[-1].entered + SETTLE - time.monotonic()))
    for c in conns:
        c.fire()
    time.sleep(0.05)
    for c in conns:
        c.fire_second()
    t_fire = min((c.t_fire for c in conns), default=time.monotonic())
    time.sleep(max(0.0, t_fire + REPLY_WINDOW - time.monotonic()))
    timers = {}
    if a.timers and conns:
        try:
            timers = read_timers(a.timers, {c.sport for c in conns})
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as e:
            print("tw_probe: reading timers failed: %s" % e, file=sys.stderr)
    for c in conns:
        time.sleep(max(0.0, c.t_fire + LIVE_DELAY - time.monotonic()))
        c.fire_live()
    time.sleep(REPLY_WINDOW + 0.05)
    # No answer at all (a loaded machine can delay a reply past the window, or put the check
    # inside the rate limit): ask once more.
    late = [c for c in conns if not c.replies(c.idx_live, c.t_live, c.t_live + REPLY_WINDOW)]
    for c in late:
        c.fire_live(again=True)
    if late:
        time.sleep(REPLY_WINDOW + 0.05)
    for c in conns:
        print(json.dumps(c.result(timers.get(c.sport))), flush=True)
    w.stop = True
    return 0 if len(conns) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
