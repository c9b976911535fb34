#!/usr/bin/python3
"""Helper of test_pcap_replay.sh (see its header for the design): builds the client pcap
for the file mode, replays a recorded TCP client live, and checks captures with tshark.

  pcap_replay.py gen-file OUT.pcap
      client frames for net_pcap's rx_pcap: ARP request, ICMP echo request, a SYN with
      MSS/SACK-permitted/timestamps/window scale, a SYN to a closed port, a SYN with a bad TCP
      checksum, a bare ACK to the listener without a connection
  pcap_replay.py check-file IN.pcap OUT.pcap STATS.json
      what twtcp-server wrote to tx_pcap answers each of them as RFC 9293 / Linux do
  pcap_replay.py replay --iface IF --rec REC.pcap --mac MAC --ip A.B.C.D
      sends the recorded client's frames one at a time through IF (AF_PACKET), rewriting the
      ACK numbers and TSecr to the live server's ISN and TSval; prints a JSON summary
  pcap_replay.py check-live REC.pcap SERVER.pcapng STATS.json REPLAY.json
      the server's own capture of that exchange: handshake, response, both FINs, seq/ack
      arithmetic, checksums, and the TIME_WAIT it ends in

Every check prints "ok: ..." or "FAIL: ..."; the exit status is the number of failures (capped).
Must run with /usr/bin/python3 (the one with python3-scapy).
"""
import json
import socket
import struct
import subprocess
import sys
import threading
import time

M32 = 0xFFFFFFFF
CLIENT_IP, SERVER_IP = "198.18.7.2", "198.18.7.1"
CLIENT_MAC = "02:00:00:07:00:02"
# The MAC net_pcap makes up for a file (02 "pcap" 00, as this run's ARP reply shows). The Stack
# does not filter on the destination MAC, so this only has to look right in the capture.
PCAP_MAC = "02:70:63:61:70:00"
HTTP_PORT, CLOSED_PORT = 80, 81
SYN_ISN, CLOSED_ISN, BADSUM_ISN, PLAIN_ISN, STRAY_ACK = 1000, 5000, 7000, M32, 424242
SYN_TSVAL, SYN_MSS, SYN_WSCALE = 123456, 1460, 7
ICMP_ID, ICMP_SEQ, ICMP_DATA = 0x77, 1, b"twtcp-pcap-replay-0123456789"

failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)


def done():
    print("%d checks failed" % len(failures) if failures else "all checks passed", flush=True)
    sys.exit(min(len(failures), 100))


# ---------------------------------------------------------------- tshark
FIELDS = ["frame.number", "eth.src", "eth.dst", "arp.opcode", "arp.src.proto_ipv4",
          "arp.src.hw_mac", "arp.dst.proto_ipv4", "ip.src", "ip.dst", "icmp.type",
          "icmp.ident", "icmp.seq", "icmp.checksum.status", "ip.checksum.status",
          "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
          "tcp.checksum.status", "tcp.option_kind", "tcp.options.mss_val",
          "tcp.options.wscale.shift", "tcp.options.timestamp.tsval",
          "tcp.options.timestamp.tsecr", "tcp.window_size_value", "data.data", "http.response.code",
          "_ws.expert.message", "_ws.malformed"]


def tshark(path):
    """One dict per frame; checksum validation switched on (tshark leaves it off by default).
    Empty fields are None; numbers stay strings unless converted by the caller."""
    cmd = ["tshark", "-n", "-r", path, "-o", "tcp.check_checksum:TRUE",
           "-o", "ip.check_checksum:TRUE", "-o", "tcp.analyze_sequence_numbers:TRUE",
           "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    rows = []
    for line in out.splitlines():
        vals = line.split("\t")
        vals += [""] * (len(FIELDS) - len(vals))
        rows.append({k: (v if v != "" else None) for k, v in zip(FIELDS, vals)})
    return rows


def num(v):
    return int(v, 0) if v is not None else None


def tcp_rows(rows):
    out = []
    for r in rows:
        if r["tcp.srcport"] is None:
            continue
        d = dict(r)
        for k in ("tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw",
                  "tcp.len", "tcp.options.mss_val", "tcp.options.wscale.shift",
                  "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr",
                  "tcp.window_size_value"):
            d[k] = num(r[k])
        d["kinds"] = [int(x) for x in (r["tcp.option_kind"] or "").split(",") if x]
        out.append(d)
    return out


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def fl(f):
    return "".join(n for b, n in ((SYN, "S"), (ACK, "A"), (PSH, "P"), (FIN, "F"), (RST, "R"))
                   if f & b) or "."


def checksums_valid(rows, label):
    """Every IPv4, ICMP and TCP checksum in the capture verified good by tshark (status 1;
    0 is bad, 2 unverified), and no checksum or malformation expert message."""
    bad = []
    for r in rows:
        for k in ("ip.checksum.status", "icmp.checksum.status", "tcp.checksum.status"):
            if r[k] is not None and r[k] != "1":
                bad.append("frame %s %s=%s" % (r["frame.number"], k, r[k]))
        msg = r["_ws.expert.message"] or ""
        if "checksum" in msg.lower() or r["_ws.malformed"] is not None:
            bad.append("frame %s: %s" % (r["frame.number"], msg or "malformed"))
    n_ip = sum(1 for r in rows if r["ip.checksum.status"] is not None)
    n_tcp = sum(1 for r in rows if r["tcp.checksum.status"] is not None)
    check(not bad and n_ip > 0,
          "%s: all checksums valid (%d IPv4, %d TCP verified by tshark)%s"
          % (label, n_ip, n_tcp, "" if not bad else ": " + "; ".join(bad[:5])))


# ---------------------------------------------------------------- file mode
def gen_file(path):
    from scapy.all import ARP, ICMP, IP, TCP, Ether, Raw, wrpcap

    def eth():
        return Ether(src=CLIENT_MAC, dst=PCAP_MAC)

    syn_opts = [("MSS", SYN_MSS), ("SAckOK", b""), ("Timestamp", (SYN_TSVAL, 0)),
                ("NOP", None), ("WScale", SYN_WSCALE)]
    frames = [
        Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") /
        ARP(op=1, hwsrc=CLIENT_MAC, psrc=CLIENT_IP, pdst=SERVER_IP),
        eth() / IP(src=CLIENT_IP, dst=SERVER_IP, id=1) / ICMP(id=ICMP_ID, seq=ICMP_SEQ) /
        Raw(ICMP_DATA),
        eth() / IP(src=CLIENT_IP, dst=SERVER_IP, id=2) /
        TCP(sport=40001, dport=HTTP_PORT, flags="S", seq=SYN_ISN, window=64240,
            options=syn_opts),
        eth() / IP(src=CLIENT_IP, dst=SERVER_IP, id=3) /
        TCP(sport=40002, dport=CLOSED_PORT, flags="S", seq=CLOSED_ISN, window=64240),
        # A fixed wrong checksum: the segment must vanish (no SYN-ACK, no RST).
        eth() / IP(src=CLIENT_IP, dst=SERVER_IP, id=4) /
        TCP(sport=40003, dport=HTTP_PORT, flags="S", seq=BADSUM_ISN, window=64240,
            chksum=0xBAD),
        # No options at all: the SYN-ACK may carry MSS only (RFC 7323, 2018: the others are
        # sent in a SYN-ACK only when the SYN had them).
        eth() / IP(src=CLIENT_IP, dst=SERVER_IP, id=6) /
        TCP(sport=40005, dport=HTTP_PORT, flags="S", seq=PLAIN_ISN, window=8192),
        # No connection, no SYN cookie (not under SYN flood): RFC 9293 3.10.7.2, an ACK to a
        # LISTEN gets <SEQ=SEG.ACK><CTL=RST>.
        eth() / IP(src=CLIENT_IP, dst=SERVER_IP, id=5) /
        TCP(sport=40004, dport=HTTP_PORT, flags="A", seq=9000, ack=STRAY_ACK, window=64240),
    ]
    # 0xBAD must really be wrong for this segment.
    right = IP(bytes(IP(src=CLIENT_IP, dst=SERVER_IP, id=4) / TCP(
        sport=40003, dport=HTTP_PORT, flags="S", seq=BADSUM_ISN, window=64240)))[TCP].chksum
    assert right != 0xBAD
    wrpcap(path, frames)


def check_file(inp, outp, stats_path):
    rin, rout = tshark(inp), tshark(outp)
    check(len(rin) == 7, "tshark reads the 7 client frames of %s (got %d)" % (inp, len(rin)))
    bad_in = [r for r in rin if r["tcp.checksum.status"] == "0"]
    # The checker must be able to see a bad checksum, or "all valid" below means nothing.
    check(len(bad_in) == 1 and num(bad_in[0]["tcp.srcport"]) == 40003,
          "the checksum check works: tshark flags exactly the corrupted input frame")
    print("  server sent %d frames:" % len(rout))
    for r in rout:
        print("   ", r["frame.number"], r["ip.src"] or r["arp.src.proto_ipv4"], "->",
              r["ip.dst"] or r["arp.dst.proto_ipv4"], r["tcp.flags"] or r["icmp.type"] or "arp",
              r["tcp.seq_raw"] or "", r["tcp.ack_raw"] or "")
    checksums_valid(rout, "tx_pcap")

    arp = [r for r in rout if r["arp.opcode"] is not None]
    check(len(arp) == 1 and arp[0]["arp.opcode"] == "2" and arp[0]["arp.src.proto_ipv4"] ==
          SERVER_IP and arp[0]["arp.dst.proto_ipv4"] == CLIENT_IP and arp[0]["eth.dst"] ==
          CLIENT_MAC and arp[0]["arp.src.hw_mac"] == arp[0]["eth.src"],
          "one ARP reply: %s is at the port's MAC, to the asker" % SERVER_IP)
    icmp = [r for r in rout if r["icmp.type"] is not None]
    check(len(icmp) == 1 and icmp[0]["icmp.type"] == "0" and num(icmp[0]["icmp.ident"]) ==
          ICMP_ID and num(icmp[0]["icmp.seq"]) == ICMP_SEQ and icmp[0]["ip.dst"] == CLIENT_IP and
          bytes.fromhex((icmp[0]["data.data"] or "").replace(":", "")) == ICMP_DATA,
          "one ICMP echo reply with the request's id, seq and payload")

    tcp = tcp_rows(rout)
    by_port = {}
    for t in tcp:
        by_port.setdefault(t["tcp.dstport"], []).append(t)
    sa = by_port.get(40001, [])
    check(len(sa) >= 1 and all(t["tcp.flags"] == SYN | ACK for t in sa),
          "SYN to :80 answered by SYN-ACK (%d copies: first + RTO retransmissions)" % len(sa))
    if sa:
        s = sa[0]
        check(s["tcp.srcport"] == HTTP_PORT and s["tcp.ack_raw"] == SYN_ISN + 1,
              "SYN-ACK ack = client ISN + 1 (%s)" % s["tcp.ack_raw"])
        check(s["tcp.options.timestamp.tsecr"] == SYN_TSVAL and
              (s["tcp.options.timestamp.tsval"] or 0) != 0,
              "SYN-ACK timestamps: TSecr = the SYN's TSval %d, own TSval non-zero (%s, %s)"
              % (SYN_TSVAL, s["tcp.options.timestamp.tsval"], s["tcp.options.timestamp.tsecr"]))
        check(s["tcp.options.mss_val"] is not None and 536 <= s["tcp.options.mss_val"] <= 1460,
              "SYN-ACK MSS option present, <= 1460 for a 1500-byte link (%s)"
              % s["tcp.options.mss_val"])
        check(4 in s["kinds"], "SYN-ACK SACK-permitted (kind 4) since the SYN offered it %s"
              % s["kinds"])
        check(s["tcp.options.wscale.shift"] is not None and s["tcp.options.wscale.shift"] <= 14,
              "SYN-ACK carries its own window scale (the SYN offered one): shift %s"
              % s["tcp.options.wscale.shift"])
        check(s["tcp.window_size_value"] is not None and s["tcp.window_size_value"] > 0,
              "SYN-ACK window unscaled and non-zero (%s)" % s["tcp.window_size_value"])
        # A retransmitted SYN-ACK is the same SYN-ACK: same ISN, same ack.
        check(all(t["tcp.seq_raw"] == s["tcp.seq_raw"] and t["tcp.ack_raw"] == s["tcp.ack_raw"]
                  for t in sa), "retransmitted SYN-ACKs keep ISN and ack")
    plain = by_port.get(40005, [])
    check(len(plain) >= 1 and all(t["tcp.flags"] == SYN | ACK and
                                  t["tcp.ack_raw"] == (PLAIN_ISN + 1) & M32 and
                                  t["kinds"] == [2] for t in plain),
          "SYN without options, ISN 2^32-1: SYN-ACK ack = ISN + 1 = 0 (wraps), options MSS "
          "only (%s)" % [(t["tcp.ack_raw"], t["kinds"]) for t in plain])
    rst = by_port.get(40002, [])
    check(len(rst) == 1 and rst[0]["tcp.flags"] == RST | ACK and rst[0]["tcp.seq_raw"] == 0 and
          rst[0]["tcp.ack_raw"] == CLOSED_ISN + 1 and rst[0]["tcp.srcport"] == CLOSED_PORT and
          rst[0]["tcp.len"] == 0,
          "SYN to closed :81 answered by one RST|ACK seq=0 ack=ISN+1 (%s)"
          % [(fl(t["tcp.flags"]), t["tcp.seq_raw"], t["tcp.ack_raw"]) for t in rst])
    check(40003 not in by_port, "bad-checksum SYN: no answer at all (%s)"
          % [fl(t["tcp.flags"]) for t in by_port.get(40003, [])])
    ra = by_port.get(40004, [])
    check(len(ra) == 1 and ra[0]["tcp.flags"] == RST and ra[0]["tcp.seq_raw"] == STRAY_ACK,
          "stray ACK to the listener answered by RST seq=SEG.ACK (%s)"
          % [(fl(t["tcp.flags"]), t["tcp.seq_raw"], t["tcp.ack_raw"]) for t in ra])
    check(len(rout) == 3 + len(sa) + len(plain) + len(ra),
          "nothing else was sent (%d frames)" % len(rout))

    st = json.load(open(stats_path))
    tc, tw = st["Tcp"], st["twtcp"]
    check(tc["InErrs"] == 1 and tw["TwtcpRxDropped"] == 1,
          "bad checksum counted: Tcp.InErrs = 1, twtcp.TwtcpRxDropped = 1 (%s, %s)"
          % (tc["InErrs"], tw["TwtcpRxDropped"]))
    check(tc["InSegs"] == 4 and tc["OutRsts"] == 2 and tc["PassiveOpens"] == 0,
          "Tcp.InSegs = 4 (valid segments), OutRsts = 2, PassiveOpens = 0 (no handshake "
          "completed) (%s, %s, %s)" % (tc["InSegs"], tc["OutRsts"], tc["PassiveOpens"]))
    check(tw["rx_frames"] == 7 and tw["arp_requests_in"] == 1 and tw["icmp_echo_replies"] == 1,
          "port saw all 7 frames; 1 ARP request, 1 echo reply (%s, %s, %s)"
          % (tw["rx_frames"], tw["arp_requests_in"], tw["icmp_echo_replies"]))
    done()


# ---------------------------------------------------------------- live replay
def load_recording(path):
    """The recorded client's and server's segments of the one connection in REC.pcap."""
    from scapy.all import IP, TCP, rdpcap
    pkts = [p for p in rdpcap(path) if IP in p and TCP in p]
    syn = next(p for p in pkts if p[TCP].flags & SYN and not p[TCP].flags & ACK)
    c = (syn[IP].src, syn[TCP].sport)
    s = (syn[IP].dst, syn[TCP].dport)
    cl, sv = [], []
    for p in pkts:
        a, b = (p[IP].src, p[TCP].sport), (p[IP].dst, p[TCP].dport)
        if (a, b) == (c, s):
            cl.append(p)
        elif (a, b) == (s, c):
            sv.append(p)
    return cl, sv


def seg_data(p):
    """The TCP payload as the IP header counts it: without Ethernet padding of short frames."""
    from scapy.all import IP, TCP
    n = p[IP].len - p[IP].ihl * 4 - p[TCP].dataofs * 4
    return bytes(p[TCP].payload)[:max(n, 0)]


class Live:
    """The client end: an AF_PACKET socket on the interface, a thread that files the server's
    segments and answers the server's ARP requests for the client address (no address is
    configured on the interface, so its kernel neither answers nor resets anything)."""

    def __init__(self, iface, my_ip, my_mac, server_ip, sport, dport):
        from scapy.arch import get_if_hwaddr
        self.iface, self.ip, self.server_ip = iface, my_ip, server_ip
        self.mac = my_mac or get_if_hwaddr(iface)
        self.sport, self.dport = sport, dport
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind((iface, 0))
        self.sock.settimeout(0.1)
        self.cv = threading.Condition()
        self.segs = []
        self.server_mac = None
        self.arp_answered = 0
        self.stop = False
        self.ip_b, self.server_b = socket.inet_aton(my_ip), socket.inet_aton(server_ip)
        self.th = threading.Thread(target=self._rx, daemon=True)
        self.th.start()

    def _rx(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == socket.PACKET_OUTGOING or len(data) < 42:
                continue
            et = struct.unpack("!H", data[12:14])[0]
            if et == 0x0806:
                op = data[20:22]
                if data[28:32] != self.server_b or data[38:42] != self.ip_b:
                    continue
                with self.cv:
                    self.server_mac = ":".join("%02x" % b for b in data[22:28])
                    self.cv.notify_all()
                if op == b"\x00\x01":
                    self._arp_reply(data)
                continue
            if et != 0x0800:
                continue
            ip = data[14:]
            if ip[9] != 6 or ip[12:16] != self.server_b or ip[16:20] != self.ip_b:
                continue
            ihl = (ip[0] & 0xF) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:tot]
            sp, dp, seq, ack, off_flags, win = struct.unpack("!HHIIHH", tcp[:16])
            if (sp, dp) != (self.dport, self.sport):
                continue
            doff = (off_flags >> 12) * 4
            opts, tsval, i = tcp[20:doff], None, 0
            while i < len(opts):
                k = opts[i]
                if k == 0:
                    break
                if k == 1:
                    i += 1
                    continue
                if i + 1 >= len(opts):
                    break
                if k == 8 and opts[i + 1] == 10:
                    tsval = struct.unpack("!I", opts[i + 2:i + 6])[0]
                i += max(opts[i + 1], 2)
            with self.cv:
                self.segs.append(dict(t=time.monotonic(), flags=off_flags & 0x3F, seq=seq,
                                      ack=ack, win=win, payload=bytes(tcp[doff:]), tsval=tsval))
                self.cv.notify_all()

    def _arp_reply(self, req):
        from scapy.all import ARP, Ether
        asker_mac = ":".join("%02x" % b for b in req[22:28])
        rep = Ether(src=self.mac, dst=asker_mac) / ARP(
            op=2, hwsrc=self.mac, psrc=self.ip, hwdst=asker_mac, pdst=self.server_ip)
        self.sock.send(bytes(rep))
        self.arp_answered += 1

    def resolve(self, tries=10):
        from scapy.all import ARP, Ether
        arp = Ether(src=self.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=self.mac, psrc=self.ip, pdst=self.server_ip)
        for _ in range(tries):
            self.sock.send(bytes(arp))
            with self.cv:
                if self.cv.wait_for(lambda: self.server_mac is not None, 0.5):
                    return True
        return False

    def wait(self, pred, timeout):
        """pred(list of segments) true within timeout seconds."""
        with self.cv:
            return self.cv.wait_for(lambda: pred(self.segs), timeout)


class ServerView:
    """What the live server has said so far on the connection, as the client tracks it."""

    def __init__(self, segs):
        self.isn = next((s["seq"] for s in segs if s["flags"] & SYN), None)
        self.data = bytearray()
        self.fin_seq = None
        self.tsval = None
        for s in segs:
            if s["tsval"] is not None:
                self.tsval = s["tsval"]
            if self.isn is None or s["flags"] & SYN:
                continue
            off = (s["seq"] - self.isn - 1) & M32
            if s["payload"] and off <= len(self.data):
                self.data[off:off + len(s["payload"])] = s["payload"]
            if s["flags"] & FIN:
                self.fin_seq = (s["seq"] + len(s["payload"])) & M32

    def response_complete(self):
        head, sep, body = bytes(self.data).partition(b"\r\n\r\n")
        if not sep:
            return False
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                return len(body) >= int(v)
        return self.fin_seq is not None


def replay(args):
    from scapy.all import IP, TCP, Ether, Raw
    cl, sv = load_recording(args.rec)
    rec_c_isn = cl[0][TCP].seq
    rec_s_isn = next(p[TCP].seq for p in sv if p[TCP].flags & SYN)
    rec_data = 0  # bytes the recorded server sent (beyond SYN, before FIN)
    rec_fin = False
    for p in sv:
        if p[TCP].flags & SYN:
            continue
        if seg_data(p):  # (a bare ACK after the FIN sits one past the data)
            rec_data = max(rec_data, (p[TCP].seq - rec_s_isn - 1 + len(seg_data(p))) & M32)
        rec_fin = rec_fin or bool(p[TCP].flags & FIN)
    sport, dport = cl[0][TCP].sport, cl[0][TCP].dport
    out = dict(recorded_client_frames=len(cl), recorded_server_frames=len(sv),
               recorded_server_bytes=rec_data, recorded_server_fin=rec_fin, sport=sport,
               dport=dport, client_isn=rec_c_isn, sent=[], errors=[])
    live = Live(args.iface, args.ip, args.mac, args.server, sport, dport)
    if not live.resolve():
        out["errors"].append("no ARP reply from %s" % args.server)
        print(json.dumps(out))
        return 1
    for i, p in enumerate(cl):
        t = p[TCP]
        rel = (t.ack - rec_s_isn) & M32 if t.flags & ACK else None
        # What this recorded segment acknowledged of the recorded server's stream decides
        # what the live server must have sent before it may go out, and its live ACK.
        if rel is None:
            need, what = (lambda v: True), "nothing"
        elif rel == 1:
            need, what = (lambda v: v.isn is not None), "the SYN-ACK"
        elif rec_fin and rel == rec_data + 2:
            need, what = (lambda v: v.isn is not None and v.fin_seq is not None), "the FIN"
        else:
            need, what = (lambda v: v.isn is not None and v.response_complete()), "the response"
        ok = live.wait(lambda segs: need(ServerView(segs)), args.timeout)
        v = ServerView(live.segs)
        if not ok:
            out["errors"].append("frame %d: no %s from the server within %.1f s"
                                 % (i + 1, what, args.timeout))
            break
        if rel is None:
            ack = 0
        elif rel == 1:
            ack = (v.isn + 1) & M32
        elif what == "the FIN":
            ack = (v.fin_seq + 1) & M32
        else:
            # A partial ACK of the recorded response maps to the same byte count of the live
            # one, at most all of it (the two servers' responses differ in length).
            ack = (v.isn + 1 + min(rel - 1, len(v.data))) & M32
            if rel - 1 >= rec_data:
                ack = (v.isn + 1 + len(v.data)) & M32
        opts = []
        for k, val in t.options:
            if k == "Timestamp":
                # TSval is the client's clock, replayed as recorded; TSecr echoes the live
                # server's latest TSval (RFC 7323), not the recorded server's.
                val = (val[0], (v.tsval or 0) if val[1] != 0 or t.flags & ACK else 0)
            opts.append((k, val))
        seg = TCP(sport=sport, dport=dport, seq=t.seq, ack=ack if t.flags & ACK else 0,
                  flags=int(t.flags), window=t.window, options=opts)
        payload = seg_data(p)
        frame = (Ether(src=live.mac, dst=live.server_mac) /
                 IP(src=args.ip, dst=args.server, ttl=64, id=p[IP].id) / seg)
        if payload:
            frame = frame / Raw(payload)
        live.sock.send(bytes(frame))
        out["sent"].append(dict(flags=fl(int(t.flags)), seq=t.seq, ack=ack, len=len(payload),
                                rec_rel_ack=rel, waited_for=what))
    # The last recorded frame is the client's FIN (or its ACK of the server's): the server's
    # answer to it, an ACK of everything, ends the exchange.
    last = out["sent"][-1] if out["sent"] else None
    if last and not out["errors"] and "F" in last["flags"]:
        want = (last["seq"] + last["len"] + 1) & M32
        if not live.wait(lambda segs: any(s["flags"] & ACK and s["ack"] == want
                                          for s in segs), args.timeout):
            out["errors"].append("no ACK of the client's FIN (ack %d)" % want)
    time.sleep(0.3)  # anything the server sends after that (it must send nothing)
    live.stop = True
    v = ServerView(live.segs)
    out.update(server_isn=v.isn, server_bytes=len(v.data), server_fin_seq=v.fin_seq,
               arp_answered=live.arp_answered,
               received=[dict(flags=fl(s["flags"]), seq=s["seq"], ack=s["ack"],
                              len=len(s["payload"])) for s in live.segs],
               response_head=bytes(v.data).split(b"\r\n")[0].decode("latin-1"))
    print(json.dumps(out))
    return 1 if out["errors"] else 0


def check_live(rec, cap, stats_path, replay_path):
    r = json.load(open(replay_path))
    cl, _ = load_recording(rec)
    print("  replayer sent:", [(s["flags"], s["len"], s["waited_for"]) for s in r["sent"]])
    print("  replayer got: ", [(s["flags"], s["len"]) for s in r["received"]])
    check(not r["errors"], "replay completed (%s)" % (r["errors"] or "no errors"))
    check(len(r["sent"]) == len(cl) and len(cl) >= 4,
          "every recorded client frame was replayed (%d of %d)" % (len(r["sent"]), len(cl)))
    req = b"".join(seg_data(p) for p in cl)
    check(req.startswith(b"GET ") and b"HTTP/1.0" in req.split(b"\r\n")[0],
          "the recording is an HTTP/1.0 GET (%r)" % req.split(b"\r\n")[0])

    rows = tshark(cap)
    checksums_valid(rows, "server pcapng")
    c_isn, sport = r["client_isn"], r["sport"]
    tcp = [t for t in tcp_rows(rows) if sport in (t["tcp.srcport"], t["tcp.dstport"])]
    fromc = [t for t in tcp if t["tcp.srcport"] == sport]
    froms = [t for t in tcp if t["tcp.dstport"] == sport]
    print("  server capture, this connection:")
    for t in tcp:
        print("    %s %-4s seq=%u ack=%u len=%u" % ("<-" if t in fromc else "->",
                                                   fl(t["tcp.flags"]), t["tcp.seq_raw"],
                                                   t["tcp.ack_raw"], t["tcp.len"]))
    check(len(fromc) == len(r["sent"]),
          "the server received each replayed frame once (%d)" % len(fromc))
    check(not any(t["tcp.flags"] & RST for t in tcp), "no RST either way")
    sa = [t for t in froms if t["tcp.flags"] & SYN]
    check(len(sa) == 1 and sa[0]["tcp.flags"] == SYN | ACK and
          sa[0]["tcp.ack_raw"] == (c_isn + 1) & M32,
          "one SYN-ACK, ack = client ISN + 1 (no retransmission)")
    if len(sa) != 1:
        done()
    s_isn = sa[0]["tcp.seq_raw"]
    check(s_isn == r["server_isn"], "replayer learned that ISN (%u)" % s_isn)
    syn = fromc[0]
    if 8 in syn["kinds"]:
        check(sa[0]["tcp.options.timestamp.tsecr"] == syn["tcp.options.timestamp.tsval"],
              "SYN-ACK TSecr = the recorded SYN's TSval")
    for k, name in ((2, "MSS"), (4, "SACK-permitted"), (3, "window scale")):
        if k in syn["kinds"]:
            check(k in sa[0]["kinds"], "SYN-ACK answers the recorded SYN's %s option" % name)

    req_len = len(req)
    c_end = (c_isn + 1 + req_len) & M32  # the client's stream after the request
    data = [t for t in froms if t["tcp.len"]]
    body = sum(t["tcp.len"] for t in data)
    check(bool(data) and data[0]["tcp.seq_raw"] == (s_isn + 1) & M32,
          "response starts at ISN + 1")
    check(all(t["tcp.ack_raw"] == c_end for t in data),
          "response segments ack the whole request (ack = client ISN + 1 + %d)" % req_len)
    seqs_ok, nxt = True, (s_isn + 1) & M32
    for t in data:
        seqs_ok &= t["tcp.seq_raw"] == nxt
        nxt = (nxt + t["tcp.len"]) & M32
    check(seqs_ok, "response segments contiguous, no retransmission (%d bytes)" % body)
    check(r["response_head"].startswith("HTTP/1.0 200") or
          r["response_head"].startswith("HTTP/1.1 200"),
          "response is 200 (%s)" % r["response_head"])
    sfin = [t for t in froms if t["tcp.flags"] & FIN]
    check(len(sfin) == 1 and (sfin[0]["tcp.seq_raw"] + sfin[0]["tcp.len"]) & M32 ==
          (s_isn + 1 + body) & M32 and sfin[0]["tcp.ack_raw"] == c_end,
          "server closes first (HTTP/1.0): one FIN at ISN + 1 + %d, ack = end of request" % body)
    cfin = [t for t in fromc if t["tcp.flags"] & FIN]
    check(len(cfin) == 1 and cfin[0]["tcp.seq_raw"] == c_end and
          cfin[0]["tcp.ack_raw"] == (s_isn + 2 + body) & M32,
          "replayed client FIN: seq = end of request, acks the server's FIN")
    if cfin and froms:
        last = froms[-1]
        check(last["tcp.flags"] == ACK and last["tcp.seq_raw"] == (s_isn + 2 + body) & M32 and
              last["tcp.ack_raw"] == (c_end + 1) & M32 and
              tcp.index(last) > tcp.index(cfin[0]),
              "server's last segment: a bare ACK of the client's FIN (seq = its FIN + 1)")
    # Timestamps on the replayed frames are live: TSecr echoes a TSval twtcp really sent (not
    # the recorded Linux server's), and twtcp's TSecr echoes a TSval the client sent.
    s_ts, c_ts, ts_bad = set(), set(), []
    for t in tcp:
        val, ecr = t["tcp.options.timestamp.tsval"], t["tcp.options.timestamp.tsecr"]
        if val is None:
            ts_bad.append("frame %s has no timestamp" % t["frame.number"])
            continue
        mine, other = (c_ts, s_ts) if t in fromc else (s_ts, c_ts)
        if not t["tcp.flags"] & SYN or t in froms:
            if ecr not in other:
                ts_bad.append("frame %s TSecr %s not a TSval seen" % (t["frame.number"], ecr))
        mine.add(val)
    check(not ts_bad, "timestamps: each TSecr echoes a TSval the other side sent before it%s"
          % ("" if not ts_bad else ": " + "; ".join(ts_bad[:4])))
    bad_ack = [t for t in fromc if t["tcp.flags"] & ACK and
               ((t["tcp.ack_raw"] - s_isn) & M32) > body + 2]
    check(not bad_ack, "every replayed ACK is within what the server sent")

    st = json.load(open(stats_path))
    tc, te, tw = st["Tcp"], st["TcpExt"], st["twtcp"]
    check(tc["PassiveOpens"] == 1 and tw["accepted"] == 1 and tw["requests"] == 1,
          "server counted 1 PassiveOpen, 1 accepted, 1 request (%s, %s, %s)"
          % (tc["PassiveOpens"], tw["accepted"], tw["requests"]))
    check(te["TW"] == 1 and tw["timewait_entries"] == 1,
          "the connection ended in TIME_WAIT on the server: TcpExt.TW = 1, 1 entry at exit "
          "(%s, %s)" % (te["TW"], tw["timewait_entries"]))
    # One ARP request and the replayed segments: nothing else, and not our own frames back.
    check(tw["rx_frames"] == 1 + len(r["sent"]) and tw["TwtcpRxDropped"] == 0 and
          tc["InSegs"] == len(r["sent"]),
          "port received the ARP request and the %d replayed segments only, none dropped "
          "(rx_frames %s, InSegs %s, TwtcpRxDropped %s)"
          % (len(r["sent"]), tw["rx_frames"], tc["InSegs"], tw["TwtcpRxDropped"]))
    check(tc["OutRsts"] == 0 and tc["InErrs"] == 0 and tc["RetransSegs"] == 0 and
          tc["EstabResets"] == 0,
          "no RST, no checksum error, no retransmission (%s, %s, %s)"
          % (tc["OutRsts"], tc["InErrs"], tc["RetransSegs"]))
    done()


def main():
    import argparse
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen-file")
    g.add_argument("out")
    c = sub.add_parser("check-file")
    c.add_argument("inp")
    c.add_argument("outp")
    c.add_argument("stats")
    rp = sub.add_parser("replay")
    rp.add_argument("--iface", required=True)
    rp.add_argument("--rec", required=True)
    rp.add_argument("--ip", default=CLIENT_IP)
    rp.add_argument("--mac", default=None)
    rp.add_argument("--server", default=SERVER_IP)
    rp.add_argument("--timeout", type=float, default=3.0)
    cl = sub.add_parser("check-live")
    for a in ("rec", "cap", "stats", "replay"):
        cl.add_argument(a)
    a = ap.parse_args()
    if a.cmd == "gen-file":
        gen_file(a.out)
    elif a.cmd == "check-file":
        check_file(a.inp, a.outp, a.stats)
    elif a.cmd == "replay":
        sys.exit(replay(a))
    else:
        check_live(a.rec, a.cap, a.stats, a.replay)


if __name__ == "__main__":
    main()
