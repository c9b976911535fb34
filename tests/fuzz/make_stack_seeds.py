#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_stack (tests/fuzz/corpus/stack/): one file per TIME_WAIT
story, in the input format documented at the top of fuzz_stack.cpp. Keep the two in step.

    tests/fuzz/make_stack_seeds.py [OUT_DIR]    (default: tests/fuzz/corpus/stack)
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(HERE, "..", "..", "configs")
# lib/config/presets.hpp lists the presets sorted by name; byte 0 indexes that list.
PRESETS = sorted(f[: -len(".conf")] for f in os.listdir(CONFIGS) if f.endswith(".conf"))

# flags (byte 1)
LOOPBACK, SMALL, B_CLOSES_FIRST, B_ECHO, B_NO_TS, SHORT_TW, RFC1337, NO_DELACK = (
    1 << i for i in range(8))
# flags2 (byte 2)
(A_AUTO_READ, B_NO_READ, LONG_RTT, A_CLOSES_ON_FIN, REUSE_ON, TS_PER_HOST, TS_NO_OFFSET,
 NO_SACK_WS) = (1 << i for i in range(8))

(RUN, JUMP, INJECT, RAW, CONNECT, SEND, RECV, SHUTDOWN, CLOSE, ABORT, LINGER0, B_CONNECT,
 B_CLOSE, LINK) = range(14)

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zz(v):
    return varint((v << 1) if v >= 0 else ((-v) << 1) - 1)


def u16(v):
    return bytes([(v >> 8) & 0xFF, v & 0xFF])


def u32(v):
    return u16(v >> 16) + u16(v & 0xFFFF)


class Seed:
    def __init__(self, preset, flags=0, flags2=0, seed=0):
        self.b = bytearray([PRESETS.index(preset), flags, flags2, seed])

    def copy(self):
        c = Seed.__new__(Seed)
        c.b = bytearray(self.b)
        return c

    def op(self, *parts):
        for p in parts:
            self.b += bytes([p]) if isinstance(p, int) else p
        return self

    def run(self, ms):
        return self.op(RUN, varint(ms))

    def jump(self, ms):
        return self.op(JUMP, varint(ms))

    def connect(self, port_index=0, local_port=None, recent_port=None, port_range=None):
        sel = port_index
        extra = b""
        if recent_port is not None:
            sel |= 0x0C
            extra += bytes([recent_port])
        elif local_port is not None:
            sel |= 0x04
            extra += u16(local_port)
        if port_range is not None:
            sel |= 0x10
            extra += u16(port_range[0]) + bytes([port_range[1] - port_range[0]])
        return self.op(CONNECT, sel, extra)

    def send(self, conn, n):
        return self.op(SEND, conn, varint(n))

    def recv(self, conn, n=65535):
        return self.op(RECV, conn, varint(n))

    def call(self, what, conn=0):
        return self.op(what, conn)

    def b_connect(self, listener=0, request=100):
        return self.op(B_CONNECT, listener, varint(request))

    def b_close(self, conn=0, how=0):
        return self.op(B_CLOSE, conn, how)

    def link(self, bits):
        return self.op(LINK, bits)

    def raw(self, data):
        return self.op(RAW, varint(len(data)), data)

    # A segment forged on the `tuple_index`-th tuple A sent on; seq/ack/TS relative to A's
    # last frame there unless given absolutely.
    def inject(self, tuple_index=0, flags=ACK, seq=0, ack=0, ts=None, port=None,
               stranger=False, to_listener=False, mss=None, wscale=None, sack=False,
               window=65535, payload=b"", raw_opts=None, sack_blocks=None):
        tsel = tuple_index
        if port is not None:
            tsel |= 0x10
        if stranger:
            tsel |= 0x20
        if to_listener:
            tsel |= 0x40
        mode = 0
        if raw_opts is not None:
            mode |= 0x10
        elif sack_blocks is not None:
            mode |= 0x80 | (0x01 if ts is not None else 0)
        else:
            mode |= (0x01 if ts is not None else 0) | (0x02 if mss is not None else 0)
            mode |= (0x04 if wscale is not None else 0) | (0x08 if sack else 0)
        out = bytearray([tsel, flags, mode])
        if port is not None:
            out += u16(port)
        out += zz(seq) + zz(ack)
        if raw_opts is not None:
            out += bytes([len(raw_opts)]) + raw_opts
        elif sack_blocks is not None:
            if ts is not None:
                out += zz(ts[0]) + zz(ts[1])
            out += bytes([len(sack_blocks) - 1])
            for left, right in sack_blocks:
                out += zz(left) + zz(right)
        else:
            if ts is not None:
                out += zz(ts[0]) + zz(ts[1])
            if mss is not None:
                out += u16(mss)
            if wscale is not None:
                out += bytes([wscale])
        out += varint(window) + varint(len(payload)) + payload
        return self.op(INJECT, bytes(out))


def client_to_time_wait(s):
    """A connects to B:80, sends a request, reads, closes first: A ends in TIME_WAIT."""
    return s.connect(0).run(50).send(0, 300).run(200).recv(0).call(CLOSE, 0).run(500)


def seeds():
    out = {}
    out["handshake"] = Seed("linux-6").connect(0).run(100)
    out["data_both_ways"] = (Seed("linux-6", B_ECHO, A_AUTO_READ).connect(1).run(20)
                             .send(0, 20000).run(2000).recv(0))
    out["client_close_time_wait"] = client_to_time_wait(Seed("linux-6"))
    out["time_wait_expiry"] = client_to_time_wait(Seed("linux-6")).jump(61000).run(10)
    out["time_wait_expiry_310"] = client_to_time_wait(Seed("linux-3.10")).run(61000)
    # SYN into TIME_WAIT on A's tuple: seq above rcv_nxt and a newer TS reopens (SPEC §3);
    # an older TS is a PAWS reject.
    out["syn_into_tw_newer_ts"] = client_to_time_wait(Seed("linux-6")).inject(
        0, SYN, seq=100000, ts=(1000, 0), mss=1460, wscale=7, sack=True).run(100)
    out["syn_into_tw_older_ts"] = client_to_time_wait(Seed("linux-6")).inject(
        0, SYN, seq=100000, ts=(-1000, 0), mss=1460).run(100)
    out["syn_into_tw_no_ts"] = client_to_time_wait(Seed("linux-6", B_NO_TS)).inject(
        0, SYN, seq=100000, mss=1460).run(100)
    out["syn_into_tw_old_seq"] = client_to_time_wait(Seed("linux-3.10")).inject(
        0, SYN, seq=-5000, ts=(10, 0)).run(100)
    # The same into a server-side TIME_WAIT (A:8080 closed first), where a listener exists:
    # the newer SYN reopens the tuple with ISN = tw_snd_nxt + 65537 (W4).
    server_tw = (Seed("linux-6", 0, A_AUTO_READ).b_connect(0, 200).run(100).call(CLOSE, 0)
                 .run(300))
    out["syn_into_server_tw_newer_ts"] = server_tw.copy().inject(
        0, SYN, seq=100000, ts=(1000, 0), mss=1460, wscale=7, sack=True).run(100)
    out["syn_into_server_tw_older_ts"] = server_tw.copy().inject(
        0, SYN, seq=100000, ts=(-1000, 0), mss=1460).run(100)
    out["syn_into_server_tw_310"] = (Seed("linux-3.10", 0, A_AUTO_READ).b_connect(0, 200)
                                     .run(100).call(CLOSE, 0).run(300)
                                     .inject(0, SYN, seq=5, ts=(3, 0)).run(100))
    out["rst_into_tw"] = client_to_time_wait(Seed("linux-6")).inject(0, RST, ts=(1, 0)).run(10)
    out["rst_into_tw_rfc1337"] = client_to_time_wait(Seed("linux-3.10", RFC1337)).inject(
        0, RST | ACK, ts=(1, 0)).run(10).jump(61000)
    out["fin_retransmit_into_tw"] = client_to_time_wait(Seed("linux-6")).inject(
        0, FIN | ACK, seq=-1, ts=(0, 0)).run(10)
    out["ack_out_of_window_tw"] = client_to_time_wait(Seed("linux-6")).inject(
        0, ACK, seq=900000, ts=(0, 0)).inject(0, ACK, seq=900000, ts=(0, 0)).run(600)
    # tw_reuse: loadgen (reuse 1, 1 ms delay) with 4 ephemeral ports, so the fifth connect
    # must take over a TIME_WAIT tuple; then an explicit bind() to a port in TIME_WAIT.
    s = Seed("loadgen", SMALL)
    for _ in range(4):
        client_to_time_wait(s)
    out["reuse_connect"] = s.run(1500).connect(0).run(100).connect(0, recent_port=0).run(100)
    s = Seed("linux-3.10-reuse", SMALL)
    for _ in range(4):
        client_to_time_wait(s)
    out["reuse_connect_310"] = s.run(2500).connect(0).run(100)
    s = Seed("linux-6", LOOPBACK | SMALL)
    for _ in range(4):
        client_to_time_wait(s)
    out["reuse_loopback"] = s.run(1500).connect(0).run(100)
    out["reuse_explicit_port"] = client_to_time_wait(Seed("linux-6", LOOPBACK)).run(1200).connect(
        0, recent_port=0).run(100)
    out["port_exhaustion"] = (Seed("linux-6", SMALL).connect(0).connect(1).connect(2).connect(0)
                              .connect(1).run(100))
    out["per_call_port_range"] = Seed("linux-6").connect(0, port_range=(45000, 45001)).connect(
        0, port_range=(45000, 45001)).connect(0, port_range=(45000, 45001)).run(100)
    # tw_recycle behind a NAT: B's host connects to A:8080, A closes first (A's TIME_WAIT
    # remembers B's TS per host); then a second "client" on B's address with an older
    # clock sends a SYN from another port and is dropped (PAWSPassive), a newer one passes.
    story = (Seed("linux-3.10-recycle", 0, A_AUTO_READ).b_connect(0, 200).run(100)
             .call(CLOSE, 0).run(300))
    out["recycle_nat_older"] = story.copy().inject(0, SYN, port=50123, to_listener=True, seq=77777,
                                                   ts=(-100000, 0), mss=1460).run(100)
    out["recycle_nat_newer"] = story.inject(0, SYN, port=50124, to_listener=True, seq=77777,
                                            ts=(5000, 0), mss=1460).run(100)
    out["recycle_short_tw"] = (Seed("linux-3.10-recycle").connect(0).run(50)
                               .send(0, 100).run(100).call(CLOSE, 0).run(50).jump(2000))
    out["server_closes_first"] = (Seed("linux-6", B_CLOSES_FIRST | B_ECHO, A_CLOSES_ON_FIN)
                                  .connect(0).run(20).send(0, 500).run(1000).jump(61000))
    out["passive_close_last_ack"] = (Seed("linux-6", B_CLOSES_FIRST | B_ECHO).connect(0).run(20)
                                     .send(0, 500).run(200).recv(0).call(CLOSE, 0).run(1000))
    out["zero_window_persist"] = (Seed("linux-6", 0, B_NO_READ).connect(0).run(20)
                                  .send(0, 24000).send(0, 24000).send(0, 24000).run(60000))
    out["lossy_rto"] = (Seed("linux-6", 0, LONG_RTT).connect(0).run(100).link(3).send(0, 20000)
                        .run(30000).link(0).run(5000))
    out["syn_timeout"] = Seed("linux-6").connect(3).run(200000)
    out["no_timewait"] = client_to_time_wait(Seed("no-timewait")).run(10)
    out["small_tw_overflow"] = client_to_time_wait(client_to_time_wait(client_to_time_wait(
        client_to_time_wait(Seed("linux-6", SMALL | SHORT_TW))))).run(4000)
    out["abort_and_linger0"] = (Seed("linux-6").connect(0).connect(1).run(50).send(0, 100)
                                .call(ABORT, 0).call(LINGER0, 0).run(100))
    out["close_with_unread"] = (Seed("linux-6", B_ECHO).connect(0).run(20).send(0, 100).run(200)
                                .call(CLOSE, 0).run(100))
    out["fin_wait2_timeout"] = (Seed("linux-6", SHORT_TW).connect(0).run(20).link(2)
                                .call(CLOSE, 0).run(100).link(4).run(10000))
    out["b_connects_closed_port"] = Seed("linux-6").b_connect(2).run(100)
    out["passive_open_server_close"] = (Seed("linux-6", 0, A_AUTO_READ).b_connect(1, 3000)
                                        .run(100).send(0, 1000).call(CLOSE, 0).run(2000))
    out["stranger_syn_to_listener"] = Seed("linux-6").inject(
        0, SYN, stranger=True, to_listener=True, port=1234, seq=5, ts=(100, 0), mss=536,
        wscale=14, sack=True).run(10).inject(0, ACK, stranger=True, to_listener=True,
                                             port=1234, seq=6, ts=(101, 0)).run(5000)
    out["raw_options"] = client_to_time_wait(Seed("linux-6")).inject(
        0, SYN, seq=100000, raw_opts=bytes([2, 4, 5, 0xB4, 1, 3, 3, 7, 4, 2, 8, 10]) + bytes(10))
    out["garbage_frame"] = Seed("linux-6").connect(0).run(20).raw(bytes(range(64)))
    out["data_injected"] = (Seed("linux-6", NO_DELACK).connect(0).run(20)
                            .inject(0, PSH | ACK, ts=(1, 0), payload=b"hello").recv(0).run(100))
    out["reuse_on_310"] = (Seed("linux-3.10", SMALL, REUSE_ON).connect(0).run(20).call(CLOSE, 0)
                           .run(3000).connect(0).connect(0).connect(0).connect(0).run(100))
    # A sends 20 kB into a lossy link; forged SACKs for blocks above snd_una (relative to the
    # end of A's last segment) drive the scoreboard and the retransmission skip.
    out["sack_injected"] = (Seed("linux-6", 0, LONG_RTT).connect(0).run(100).link(1)
                            .send(0, 20000).run(5)
                            .inject(0, ACK, ts=(1, 0), sack_blocks=[(-2920, -1460)])
                            .inject(0, ACK, ts=(1, 0), sack_blocks=[(-8760, -5840), (-2920, 0)])
                            .run(3000).link(0).run(3000))
    out["ts_per_host_310_off"] = client_to_time_wait(Seed("linux-6", 0, TS_PER_HOST)).run(10)
    out["ts_no_offset_no_sack"] = (Seed("linux-6", 0, TS_NO_OFFSET | NO_SACK_WS).connect(0)
                                   .run(20).send(0, 5000).run(500))
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "stack")
    os.makedirs(out_dir, exist_ok=True)
    for name, seed in seeds().items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(bytes(seed.b))
    print(f"wrote {len(seeds())} seeds to {out_dir}")


if __name__ == "__main__":
    main()
