// bench/micro_segment.cpp: per-segment cost of the TIME_WAIT paths and of the established fast
// path, measured through the real Stack: one prebuilt frame per iteration into Stack::input().
//
// A Stack (198.18.0.1, listening on port 80) is filled with n connections from a scripted peer
// (bench/scripted_peer.hpp, 10.x.y.z) and the state each benchmark needs; frames are built
// before the timed loop. During it the peer is a counting sink (no parsing, no answers).
//
//   TimeWait_SynReopen     SYN above rcv_nxt into TIME_WAIT (RFC 6191 / SPEC W4): the entry
//                          is killed and a passive open answers with a SYN-ACK
//   TimeWait_AckInWindow   bare ACK at rcv_nxt (W3, "old ACK"): absorbed, entry re-armed
//   TimeWait_AckOld        ACK below rcv_nxt (W6): re-ACKed, entry re-armed
//                          (tcp_invalid_ratelimit 0, so every one is answered)
//   TimeWait_RstIgnored    exact RST with tcp_rfc1337 = 1 (W2): dropped
//   TimeWait_RstKill       exact RST with tcp_rfc1337 = 0 (W1): the entry is killed
//   TimeWait_Enter         the peer's FIN-ACK into FIN_WAIT1 (the Stack closed first): the
//                          connection becomes a TIME_WAIT entry and the FIN is ACKed
//   Established_Ack        pure ACK into ESTABLISHED (nothing outstanding): no answer
//   Established_Data       in-order 1448-byte segment into ESTABLISHED (sequence numbers advance;
//                          the receive buffer is drained outside the timed region)
//
// The argument is n, the connections or entries in the Stack; frames walk them in random order.
// Benchmarks that consume their state (SynReopen, RstKill, Enter) run exactly n iterations on a
// fresh Stack per run; the others share one Stack per n across runs. After each loop the
// Stack's counters and the peer's frame count are checked against what every segment should
// have done, and a mismatch fails the benchmark (SkipWithError) instead of reporting a time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "scripted_peer.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"

namespace {

using namespace twtcp;
using bench::FrameSet;
using bench::PeerOpts;
using bench::ScriptedPeer;
using bench::Tuple;
namespace fl = wire::tcp_flags;

constexpr std::uint16_t kListenPort = 80;
constexpr std::uint64_t kNowUs = 5'000'000;
constexpr std::uint32_t kPeerTs = 1000;
constexpr std::uint32_t kPayload = 1448;  // an MSS with timestamps

// Connection i's tuple: 50000 source ports per peer address.
Tuple tuple_of(std::uint64_t i) {
  return Tuple{bench::kPeerNet + 1 + static_cast<std::uint32_t>(i / 50000),
               static_cast<std::uint16_t>(10000 + i % 50000), kListenPort};
}

Config micro_config(std::uint64_t n) {
  Config c;
  c.random_seed = 42;
  std::uint64_t cap = 1024;
  while (cap < 2 * n) cap *= 2;  // at most half full, like a table sized with headroom
  c.flow_table_capacity = static_cast<std::int32_t>(cap);
  c.max_connections = static_cast<std::int32_t>(n + 64);
  c.tcp_max_tw_buckets = static_cast<std::int32_t>(n + 64);
  c.tcp_max_syn_backlog = static_cast<std::int32_t>(n + 64);
  // Idle connections: small rings, so 100k of them stay small.
  c.tcp_rmem = {4096, 4096, 4096};
  c.tcp_wmem = {4096, 4096, 4096};
  c.timewait_len_ms = 3'600'000;  // nothing expires (time does not move anyway)
  return c;
}

enum class Kind { kTimeWait, kFinWait1, kEstablished };

// A Stack holding n connections from the scripted peer: all in TIME_WAIT (the Stack closed
// each once accepted; the peer answered the FIN with its own), all in FIN_WAIT1 (the peer
// never answered the FIN) or all ESTABLISHED.
struct Fixture {
  std::uint64_t n;
  ScriptedPeer peer;
  Stack stack;
  std::vector<ConnId> ids;
  // For kFinWait1: the FIN-ACK that completes each close; kEstablished: a pure ACK each.
  FrameSet replies;
  bool ok = false;

  Fixture(std::uint64_t count, Kind kind, const Config& cfg)
      : n(count), stack(cfg, bench::stack_identity(), peer, kNowUs) {
    peer.tsval = kPeerTs;
    peer.fin_reply = kind == Kind::kFinWait1 ? bench::FinReply::kNone : bench::FinReply::kFinAck;
    replies.reserve(n);
    peer.observe = [this, kind](const wire::SegmentView& v) {
      const Tuple t{v.dst_addr, v.dst_port, v.src_port};
      PeerOpts o;
      o.ts = wire::TcpTimestamps{kPeerTs, v.options.ts ? v.options.ts->tsval : 0};
      if (kind == Kind::kFinWait1 && (v.flags & fl::kFin)) {
        replies.commit(bench::build_peer_frame(replies.next_slot(), t, v.ack, v.end_seq(),
                                               fl::kFin | fl::kAck, o));
      } else if (kind == Kind::kEstablished && (v.flags & fl::kSyn)) {
        replies.commit(
            bench::build_peer_frame(replies.next_slot(), t, v.ack, v.seq + 1, fl::kAck, o));
      }
    };
    Callbacks cb;
    if (kind == Kind::kEstablished) {
      ids.reserve(n);
      cb.on_accepted = [this](ConnId id) { ids.push_back(id); };
    } else {
      cb.on_accepted = [this](ConnId id) { stack.close(id); };
    }
    if (!stack.listen(kListenPort, cb)) return;
    // Every SYN before any answer: all n connections are alive at once, so the Stack's
    // connection pool grows to n slots here, and a benchmark that opens connections (a SYN
    // reopening TIME_WAIT) reuses slots as a warm server does instead of allocating them.
    std::array<std::uint8_t, 128> syn{};
    for (std::uint64_t i = 0; i < n; ++i) {
      stack.input(std::span(syn.data(), peer.build_syn(syn, tuple_of(i))), kNowUs);
    }
    if (!peer.settle(stack, kNowUs)) return;
    peer.observe = nullptr;
    peer.replying = false;
    switch (kind) {
      case Kind::kTimeWait:
        ok = stack.timewait_count() == n && stack.connection_count() == 0;
        break;
      case Kind::kFinWait1:
        ok = stack.connection_count() == n && replies.size() == n;
        break;
      case Kind::kEstablished:
        ok =
            stack.connection_count() == n && replies.size() == n && stack.counters().CurrEstab == n;
        break;
    }
  }
};

std::vector<TimeWaitInfo> timewait_entries(const Stack& s) {
  std::vector<TimeWaitInfo> v;
  v.reserve(s.timewait_count());
  s.for_each_timewait([&](const TimeWaitInfo& i) { v.push_back(i); }, s.timewait_count());
  return v;
}

// One frame per TIME_WAIT entry, in random order.
template <class Build>
FrameSet frames_for_timewait(const Stack& s, Build build) {
  std::vector<TimeWaitInfo> es = timewait_entries(s);
  std::mt19937_64 rng(es.size());
  std::shuffle(es.begin(), es.end(), rng);
  FrameSet f;
  f.reserve(es.size());
  for (const TimeWaitInfo& e : es) {
    const Tuple t{e.remote_addr, e.remote_port, e.local_port};
    f.commit(build(f.next_slot(), t, e));
  }
  return f;
}

FrameSet shuffled(const FrameSet& in) {
  std::vector<std::size_t> order(in.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(order.size() + 1);
  std::shuffle(order.begin(), order.end(), rng);
  FrameSet out;
  out.reserve(in.size());
  for (std::size_t i : order) {
    const auto src = in[i];
    auto dst = out.next_slot();
    std::copy(src.begin(), src.end(), dst.begin());
    out.commit(src.size());
  }
  return out;
}

PeerOpts ts_opts() {
  PeerOpts o;
  o.ts = wire::TcpTimestamps{kPeerTs, 0};
  return o;
}

// The frame a benchmark sends into TIME_WAIT entry e.
using TwBuild = std::size_t (*)(std::span<std::uint8_t>, const Tuple&, const TimeWaitInfo&);

std::size_t syn_above_rcv_nxt(std::span<std::uint8_t> out, const Tuple& t, const TimeWaitInfo& e) {
  PeerOpts o = ts_opts();
  o.syn_options = true;
  return bench::build_peer_frame(out, t, e.rcv_nxt + 100'000, 0, fl::kSyn, o);
}
std::size_t ack_at_rcv_nxt(std::span<std::uint8_t> out, const Tuple& t, const TimeWaitInfo& e) {
  return bench::build_peer_frame(out, t, e.rcv_nxt, e.snd_nxt, fl::kAck, ts_opts());
}
std::size_t ack_below_rcv_nxt(std::span<std::uint8_t> out, const Tuple& t, const TimeWaitInfo& e) {
  return bench::build_peer_frame(out, t, e.rcv_nxt - 1000, e.snd_nxt, fl::kAck, ts_opts());
}
std::size_t rst_at_rcv_nxt(std::span<std::uint8_t> out, const Tuple& t, const TimeWaitInfo& e) {
  return bench::build_peer_frame(out, t, e.rcv_nxt, 0, fl::kRst, PeerOpts{});
}

// What the loop must have done, checked from counter deltas.
struct Expect {
  std::int64_t tw_delta = 0;    // timewait_count() after - before, per iteration
  std::int64_t conn_delta = 0;  // connection_count() after - before, per iteration
  std::int64_t frames = 0;      // frames the Stack sent, per iteration
  std::uint8_t frame_kind = 0;  // 'A' bare ACKs, 'S' SYN-ACKs, 0 none
};

struct Snapshot {
  std::uint64_t tw, conns, frames, syns, bare_acks, rsts, in_segs, out_rsts, dropped;
  static Snapshot of(const Stack& s, const ScriptedPeer& p) {
    const StackCounters c = s.counters();
    return {s.timewait_count(), s.connection_count(), p.counts.frames, p.counts.syns,
            p.counts.bare_acks, p.counts.rsts,        c.InSegs,        c.OutRsts,
            c.TwtcpRxDropped};
  }
};

bool check(benchmark::State& state, const Snapshot& a, const Snapshot& b, const Expect& e) {
  const auto it = static_cast<std::int64_t>(state.iterations());
  auto d = [](std::uint64_t x, std::uint64_t y) {
    return static_cast<std::int64_t>(y) - static_cast<std::int64_t>(x);
  };
  std::string why;
  const std::int64_t in = d(a.in_segs, b.in_segs);
  if (in != it) {
    why = "InSegs moved by " + std::to_string(d(a.in_segs, b.in_segs)) + " for " +
          std::to_string(it) + " segments";
  }
  if (d(a.dropped, b.dropped) != 0 || d(a.out_rsts, b.out_rsts) != 0 || d(a.rsts, b.rsts) != 0) {
    why = "segments were dropped or answered with RST";
  }
  if (d(a.tw, b.tw) != e.tw_delta * it) why = "TIME_WAIT count moved by an unexpected amount";
  if (d(a.conns, b.conns) != e.conn_delta * it) why = "connection count moved unexpectedly";
  if (d(a.frames, b.frames) != e.frames * it) why = "the Stack sent an unexpected number of frames";
  if (e.frame_kind == 'A' && d(a.bare_acks, b.bare_acks) != e.frames * it) why = "not all ACKs";
  if (e.frame_kind == 'S' && d(a.syns, b.syns) != e.frames * it) why = "not all SYN-ACKs";
  if (why.empty()) {
    state.SetItemsProcessed(it);
    return true;
  }
  state.SkipWithError(why.c_str());
  return false;
}

// ---- benchmarks that consume their state: a fresh Stack per run, exactly n iterations ----

void consume_timewait(benchmark::State& state, bool rfc1337, TwBuild build, const Expect& e) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  Config cfg = micro_config(n);
  cfg.tcp_rfc1337 = rfc1337;
  auto f = std::make_unique<Fixture>(n, Kind::kTimeWait, cfg);
  if (!f->ok) {
    state.SkipWithError("setup failed");
    return;
  }
  const FrameSet frames = frames_for_timewait(f->stack, build);
  if (frames.size() != n || static_cast<std::uint64_t>(state.max_iterations) > n) {
    state.SkipWithError("fewer frames than iterations");
    return;
  }
  const Snapshot a = Snapshot::of(f->stack, f->peer);
  std::size_t i = 0;
  for (auto _ : state) f->stack.input(frames[i++], kNowUs);
  check(state, a, Snapshot::of(f->stack, f->peer), e);
}

void BM_TimeWait_SynReopen(benchmark::State& state) {
  consume_timewait(state, false, syn_above_rcv_nxt, Expect{-1, +1, 1, 'S'});
}
void BM_TimeWait_RstKill(benchmark::State& state) {
  consume_timewait(state, false, rst_at_rcv_nxt, Expect{-1, 0, 0, 0});
}

void BM_TimeWait_Enter(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  auto f = std::make_unique<Fixture>(n, Kind::kFinWait1, micro_config(n));
  if (!f->ok || static_cast<std::uint64_t>(state.max_iterations) > n) {
    state.SkipWithError("setup failed");
    return;
  }
  const FrameSet frames = shuffled(f->replies);
  const Snapshot a = Snapshot::of(f->stack, f->peer);
  std::size_t i = 0;
  for (auto _ : state) f->stack.input(frames[i++], kNowUs);
  check(state, a, Snapshot::of(f->stack, f->peer), Expect{+1, -1, 1, 'A'});
}

// ---- benchmarks that leave their state as it was: one Stack per n, walked in a loop ----

struct Walk {
  std::string key;
  std::unique_ptr<Fixture> f;
  FrameSet frames;
};

// One cached fixture at a time (the 100k ones hold up to ~1 GiB).
Walk* walk_fixture(const std::string& name, std::uint64_t n, Kind kind, const Config& cfg,
                   TwBuild build) {
  static std::unique_ptr<Walk> w;
  const std::string key = name + "/" + std::to_string(n);
  if (w && w->key == key) return w.get();
  w.reset();
  auto nw = std::make_unique<Walk>();
  nw->key = key;
  nw->f = std::make_unique<Fixture>(n, kind, cfg);
  if (!nw->f->ok) return nullptr;
  nw->frames =
      build != nullptr ? frames_for_timewait(nw->f->stack, build) : shuffled(nw->f->replies);
  if (nw->frames.size() != n) return nullptr;
  w = std::move(nw);
  return w.get();
}

void walk(benchmark::State& state, const char* name, Kind kind, const Config& cfg, TwBuild build,
          const Expect& e) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  Walk* w = walk_fixture(name, n, kind, cfg, build);
  if (w == nullptr) {
    state.SkipWithError("setup failed");
    return;
  }
  Stack& s = w->f->stack;
  const Snapshot a = Snapshot::of(s, w->f->peer);
  std::size_t i = 0;
  for (auto _ : state) {
    s.input(w->frames[i], kNowUs);
    if (++i == n) i = 0;
  }
  check(state, a, Snapshot::of(s, w->f->peer), e);
}

void BM_TimeWait_AckInWindow(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  walk(state, "ack-in-window", Kind::kTimeWait, micro_config(n), ack_at_rcv_nxt,
       Expect{0, 0, 0, 0});
}
void BM_TimeWait_AckOld(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  Config cfg = micro_config(n);
  cfg.tcp_invalid_ratelimit = 0;  // answer every one: the re-ACK path, not the skip
  walk(state, "ack-old", Kind::kTimeWait, cfg, ack_below_rcv_nxt, Expect{0, 0, 1, 'A'});
}
void BM_TimeWait_RstIgnored(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  Config cfg = micro_config(n);
  cfg.tcp_rfc1337 = true;
  walk(state, "rst-ignored", Kind::kTimeWait, cfg, rst_at_rcv_nxt, Expect{0, 0, 0, 0});
}
void BM_Established_Ack(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  walk(state, "est-ack", Kind::kEstablished, micro_config(n), nullptr, Expect{0, 0, 0, 0});
}

// In-order data into one of n established connections. Frames are a ring of kRing consecutive
// segments; when it wraps (timing paused) the application reads what arrived and the ring is
// rebuilt kRing segments further on, so every timed segment is the next in-order one.
void BM_Established_Data(benchmark::State& state) {
  constexpr std::size_t kRing = 512;  // 724 KiB: fits the 1 MiB receive buffer unread
  const auto n = static_cast<std::uint64_t>(state.range(0));
  Config cfg = micro_config(n);
  cfg.tcp_rmem = {4096, 1 << 20, 1 << 20};
  auto f = std::make_unique<Fixture>(n, Kind::kEstablished, cfg);
  if (!f->ok) {
    state.SkipWithError("setup failed");
    return;
  }
  Stack& s = f->stack;
  const ConnId id = f->ids[n / 2];
  // The pure ACK prebuilt for this connection holds its tuple and both sequence numbers.
  const auto ack = wire::parse_segment(f->replies[n / 2]);
  if (!ack || s.local_port(id) != ack->dst_port) {
    state.SkipWithError("setup failed");
    return;
  }
  const Tuple t{ack->src_addr, ack->src_port, ack->dst_port};
  std::uint32_t next_seq = ack->seq;
  const std::vector<std::uint8_t> payload(kPayload, 0x5a);
  FrameSet ring(1600);
  ring.reserve(kRing);
  auto rebuild = [&] {
    ring.clear();
    for (std::size_t k = 0; k < kRing; ++k) {
      ring.commit(bench::build_peer_frame(ring.next_slot(), t, next_seq, ack->ack,
                                          fl::kAck | fl::kPsh, ts_opts(), payload));
      next_seq += kPayload;
    }
  };
  std::vector<std::uint8_t> sink(1 << 20);
  std::uint64_t read = 0;
  auto drain = [&] {
    for (int k = 0; k < 64; ++k) {
      const std::size_t got = s.recv(id, sink);
      read += got;
      if (got == 0) break;
    }
  };
  rebuild();
  const Snapshot a = Snapshot::of(s, f->peer);
  std::size_t i = 0;
  for (auto _ : state) {
    s.input(ring[i], kNowUs);
    if (++i == kRing) {
      state.PauseTiming();
      drain();
      rebuild();
      i = 0;
      state.ResumeTiming();
    }
  }
  const std::uint64_t frames_before_drain = f->peer.counts.frames;
  drain();
  const auto it = static_cast<std::uint64_t>(state.iterations());
  const StackCounters c = s.counters();
  if (read != it * kPayload) {
    state.SkipWithError("not every segment was accepted in order");
  } else if (c.InSegs - a.in_segs != it || c.OutRsts != a.out_rsts || c.TCPOFOQueue != 0) {
    state.SkipWithError("segments were dropped, queued out of order or reset");
  } else {
    state.SetItemsProcessed(static_cast<std::int64_t>(it));
    state.SetBytesProcessed(static_cast<std::int64_t>(it * kPayload));
    // Frames the Stack sent per segment: delayed ACKs (about one per two segments) and the
    // window updates the reads caused.
    state.counters["frames_out_per_seg"] = static_cast<double>(frames_before_drain - a.frames) /
                                           static_cast<double>(std::max<std::uint64_t>(it, 1));
  }
}

[[maybe_unused]] const bool registered = [] {
  for (std::int64_t n : {1000, 100000}) {
    benchmark::RegisterBenchmark("BM_TimeWait_SynReopen", BM_TimeWait_SynReopen)
        ->Arg(n)
        ->Iterations(n);
    benchmark::RegisterBenchmark("BM_TimeWait_AckInWindow", BM_TimeWait_AckInWindow)->Arg(n);
    benchmark::RegisterBenchmark("BM_TimeWait_AckOld", BM_TimeWait_AckOld)->Arg(n);
    benchmark::RegisterBenchmark("BM_TimeWait_RstIgnored", BM_TimeWait_RstIgnored)->Arg(n);
    benchmark::RegisterBenchmark("BM_TimeWait_RstKill", BM_TimeWait_RstKill)->Arg(n)->Iterations(n);
    benchmark::RegisterBenchmark("BM_TimeWait_Enter", BM_TimeWait_Enter)->Arg(n)->Iterations(n);
    benchmark::RegisterBenchmark("BM_Established_Ack", BM_Established_Ack)->Arg(n);
  }
  // One receive buffer of 1 MiB per connection: 1000 connections only.
  benchmark::RegisterBenchmark("BM_Established_Data", BM_Established_Data)->Arg(1000);
  return true;
}();

}  // namespace
