// libFuzzer target for the whole Stack (include/twtcp/stack.hpp). Stack A is under test; B is
// a second, well-behaved Stack wired back to back with A through a delayed link, so real
// handshakes, data, closes and TIME_WAIT entries happen, and the fuzzer interleaves them with
// forged segments (seq/ack/TS derived from what A last sent, so in-window values are
// reachable), raw frames, time jumps of up to minutes and application calls on A.
//
// Input format (make_stack_seeds.py writes it; missing bytes read as 0):
//   byte 0   preset: configs/*.conf (as lib/config/presets.hpp embeds them) sorted by name,
//            modulo the preset count
//   byte 1   flags, see kFlag*        byte 2   flags2, see kFlag2*
//   byte 3   random_seed of A (B's seed is fixed)
//   then ops (at most kMaxOps), each an op byte (modulo kOpCount) and its arguments; see
//   the Op enum for each op's encoding. Varints are LEB128, "zz" ones zigzag-signed.
//
// Checked after every step (abort on violation): every frame either stack emits parses with
// correct checksums and lengths, comes from its owner, carries at most twtcp.mss bytes and
// sane flags; no counter decreases (CurrEstab is a gauge); timewait_count() <=
// tcp_max_tw_buckets; connection_count() <= max_connections; CurrEstab <= connection_count();
// advance() before next_wakeup() does nothing (the hint is never late) and after advance(t)
// next_wakeup() is later than t; each app receives exactly the byte stream the peer app sent
// on that connection (a prefix of it), identified by the ISNs in the SYN-ACK; no callback
// names a connection after its on_closed, and on_accepted comes once. At the end of each
// input, hours of simulated time later: no TIME_WAIT entry is left and every connection an
// app closed has reported on_closed.
// FUZZ_STACK_TRACE=1 prints every frame and a summary.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/presets.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/segment.hpp"

namespace {

using twtcp::Callbacks;
using twtcp::CloseReason;
using twtcp::Config;
using twtcp::ConnId;
using twtcp::Identity;
using twtcp::Stack;
using twtcp::StackCounters;
namespace wire = twtcp::wire;
namespace flags = twtcp::wire::tcp_flags;

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_stack: %s %s\n", what, detail.c_str());
  std::abort();
}

void check(bool ok, const char* what, const std::string& detail = {}) {
  if (!ok) fail(what, detail);
}

const bool g_trace = std::getenv("FUZZ_STACK_TRACE") != nullptr;

void trace(const char* who, const wire::SegmentView& p) {
  std::printf("%-6s %u.%u > %u.%u flags %02x seq %u ack %u win %u len %zu", who, p.src_addr & 0xff,
              p.src_port, p.dst_addr & 0xff, p.dst_port, p.flags, p.seq, p.ack, p.window,
              p.payload.size());
  if (p.options.ts) std::printf(" ts %u/%u", p.options.ts->tsval, p.options.ts->tsecr);
  std::printf("\n");
}

// ---- input reader -------------------------------------------------------------------------

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  [[nodiscard]] bool empty() const { return n == 0; }
  std::uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = u8();
      v |= std::uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) break;
    }
    return v;
  }
  std::int64_t zz() {
    const std::uint64_t v = varint();
    return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
  }
  // Up to `len` bytes, zero-padded when the input runs out.
  void bytes(std::uint8_t* out, std::size_t len) {
    for (std::size_t i = 0; i < len; ++i) out[i] = u8();
  }
};

// ---- constants and knobs -------------------------------------------------------------------

constexpr std::uint32_t kAddrA = 0xC6120002;  // 198.18.0.2
constexpr std::uint32_t kAddrB = 0xC6120001;  // 198.18.0.1
constexpr std::uint32_t kLoopA = 0x7F000002;  // 127.0.0.2 (tcp_tw_reuse = 2 applies)
constexpr std::uint32_t kLoopB = 0x7F000001;
// Hosts that never answer: A's frames to them are only recorded.
constexpr std::uint32_t kStrangers[] = {0xC6120003, 0xC6120063};
constexpr std::uint16_t kBPorts[] = {80, 81, 443};
constexpr std::uint16_t kAPorts[] = {8080, 8081};  // A listens on these
constexpr std::uint16_t kClosedPort = 9;           // nobody listens
constexpr std::uint64_t kSec = 1'000'000;
constexpr std::uint64_t kStartUs = 1000 * kSec;

constexpr int kMaxOps = 200;
constexpr int kMaxLoopSteps = 6000;            // event-loop iterations per input
constexpr int kMaxFrames = 20000;              // frames moved across the link per input
constexpr std::uint64_t kMaxStepMs = 700'000;  // one time op: up to ~11.7 minutes
constexpr std::size_t kMaxSend = 24'000;
constexpr std::size_t kMaxPayload = 1600;

// byte 1
constexpr std::uint8_t kFlagLoopback = 0x01;      // addresses in 127/8
constexpr std::uint8_t kFlagSmall = 0x02;         // tiny pools, 3 TW buckets, 4 ephemeral ports
constexpr std::uint8_t kFlagBClosesFirst = 0x04;  // B closes after the first data it reads
constexpr std::uint8_t kFlagBEcho = 0x08;         // B answers every read with data
constexpr std::uint8_t kFlagBNoTs = 0x10;         // B runs with tcp_timestamps = 0
constexpr std::uint8_t kFlagShortTw = 0x20;       // timewait_len 3 s, fin_timeout 5 s
constexpr std::uint8_t kFlagRfc1337 = 0x40;       // tcp_rfc1337 = 1 on A
constexpr std::uint8_t kFlagNoDelack = 0x80;      // delayed_ack_ms = 0 on both
// byte 2
constexpr std::uint8_t kFlag2AAutoRead = 0x01;     // A reads in on_readable
constexpr std::uint8_t kFlag2BNoRead = 0x02;       // B never reads (A hits a zero window)
constexpr std::uint8_t kFlag2LongRtt = 0x04;       // one-way delay 20 ms instead of 100 us
constexpr std::uint8_t kFlag2AClosesOnFin = 0x08;  // A closes in on_peer_closed
constexpr std::uint8_t kFlag2ReuseOn = 0x10;       // tcp_tw_reuse = 1 on A when allowed
constexpr std::uint8_t kFlag2TsPerHost = 0x20;     // A: twtcp.ts_offset = per_host
constexpr std::uint8_t kFlag2TsNoOffset = 0x40;    // A: tcp_timestamps = 2 (no offsets)
constexpr std::uint8_t kFlag2NoSackWs = 0x80;      // A: tcp_sack = 0, tcp_window_scaling = 0

enum Op : std::uint8_t {
  kRun = 0,   // varint ms: event loop (frames delivered, timers fired) for that long
  kJump,      // varint ms: both stacks advance() straight to now + ms, no stops on the way
  kInject,    // forged segment into A, see inject()
  kRaw,       // varint len, bytes: a raw frame into A
  kConnect,   // sel byte [+ u16 port] [+ u16 low, u8 span]: A connects
  kSend,      // conn byte, varint len: A sends len generated bytes
  kRecv,      // conn byte, varint max: A reads
  kShutdown,  // conn byte
  kClose,     // conn byte
  kAbort,     // conn byte
  kLinger0,   // conn byte
  kBConnect,  // sel byte, varint request size: B connects to A (listener or closed port)
  kBClose,    // conn byte, how byte: B closes / aborts / shuts down one of its connections
  kLink,      // byte: bit0 A->B lossy, bit1 B->A lossy, bit2 flush queues
  kOpCount,
};

// The byte a peer sends at stream offset `off` of a connection whose ISN is `iss`: receivers
// check it, so data landing at the wrong offset or on the wrong connection is caught.
std::uint8_t stream_byte(std::uint32_t iss, std::uint64_t off) {
  const std::uint64_t x =
      (std::uint64_t{iss} + 1) * 0x9E3779B97F4A7C15ull + off * 0xBF58476D1CE4E5B9ull;
  return static_cast<std::uint8_t>(x >> 56 ^ off);
}

// ---- presets -------------------------------------------------------------------------------

const std::vector<Config>& loaded_presets() {
  static const std::vector<Config> all = [] {
    // Sorted by name here, whatever order the library keeps: byte 0 of checked-in seeds
    // indexes this list (make_stack_seeds.py sorts the same way).
    std::vector<twtcp::Preset> sorted = twtcp::presets();
    std::sort(sorted.begin(), sorted.end(),
              [](const twtcp::Preset& x, const twtcp::Preset& y) { return x.name < y.name; });
    std::vector<Config> v;
    for (const auto& p : sorted) {
      twtcp::ConfigLoader loader;
      auto r = loader.load_string(p.text, p.name);
      if (r.ok()) r = loader.finish();
      check(r.ok(), "preset does not load:", r.message());
      v.push_back(loader.config());
    }
    return v;
  }();
  return all;
}

// Pools small enough that a Stack is cheap to build per input.
Config shrink(Config c, bool tiny) {
  c.max_connections = tiny ? 4 : 64;
  c.flow_table_capacity = tiny ? 16 : 256;
  c.peer_table_size = 16;
  c.max_listeners = 4;
  // Same 4.6 h horizon as the default 4096 x 2 wheel at a sixteenth of the build cost (a
  // Stack is built per input), and one more cascade level to exercise.
  c.timer_slots = 256;
  c.timer_levels = 3;
  if (tiny) {
    c.tcp_max_tw_buckets = std::min(c.tcp_max_tw_buckets, 3);
    c.ip_local_port_range = {40000, 40003};
    c.tcp_max_syn_backlog = 2;
    c.tcp_max_orphans = 3;
  }
  return c;
}

// ---- the two stacks and the link -----------------------------------------------------------

struct Sink : twtcp::TxSink {
  std::vector<std::vector<std::uint8_t>> frames;
  void transmit(std::span<const std::uint8_t> f) override {
    frames.emplace_back(f.begin(), f.end());
  }
};

struct InFlight {
  std::uint64_t at;
  std::vector<std::uint8_t> bytes;
};

// What a stack last sent on one 4-tuple: the basis for forged segments' seq/ack/TS.
struct LastSent {
  std::uint32_t seq = 0, end_seq = 0, ack = 0;
  std::uint32_t tsval = 0, tsecr = 0;
  std::uint16_t window = 0;
  bool has_ts = false;
};

struct Tuple {
  std::uint32_t remote_addr;
  std::uint16_t remote_port;
  std::uint16_t local_port;
  auto operator<=>(const Tuple&) const = default;
};

struct AppConn {
  std::uint32_t iss = 0;
  std::uint16_t local_port = 0;
  std::uint64_t sent = 0;  // stream bytes the app queued
  std::uint64_t got = 0;   // stream bytes the app read
  bool dead = false;
  bool closed_by_app = false;
};

struct Side {
  Config cfg;
  Identity ident;
  Sink sink;
  std::optional<Stack> stack;
  std::map<ConnId, AppConn> conns;
  std::vector<ConnId> order;  // conns in creation order (op bytes pick from it)
  // (local port, our ISN) -> the peer's ISN, from every SYN-ACK on the link.
  std::map<std::pair<std::uint16_t, std::uint32_t>, std::uint32_t> peer_iss;
  std::vector<std::uint64_t> last_counters;
  std::set<ConnId> dead_ids;  // on_closed seen
  std::uint64_t events = 0;   // callbacks fired
  std::uint64_t emitted = 0;
  const char* name = "";
};

std::vector<std::uint64_t> counter_values(const Stack& s) {
  std::vector<std::uint64_t> v;
  v.reserve(48);
  s.counters().for_each([&](std::string_view, std::string_view name, std::uint64_t value) {
    v.push_back(name == "CurrEstab" ? 0 : value);
  });
  return v;
}

struct Harness {
  Side a, b;
  std::uint8_t fl = 0, fl2 = 0;
  std::uint64_t now = kStartUs;
  std::uint64_t delay_us = 100;
  std::deque<InFlight> a_to_b, b_to_a;
  bool lossy_ab = false, lossy_ba = false;
  bool link_cut = false;  // quiesce(): the peer is gone, nothing crosses
  std::uint32_t loss_counter = 0;
  int loop_steps = 0, frames_moved = 0;
  std::map<Tuple, LastSent> last_from_a;
  std::vector<Tuple> tuples;                 // distinct tuples A sent on, oldest first (bounded)
  std::vector<std::uint16_t> a_local_ports;  // recently used, for explicit-port connects
  std::set<std::uint16_t> forged_ports;      // A ports that saw a forged frame from B's address
  bool injecting = false;
  std::map<ConnId, std::uint64_t> b_request;  // B's pending request size per connecting conn
  std::vector<std::uint8_t> scratch;

  explicit Harness(Reader& in) {
    const auto& all = loaded_presets();
    const Config& preset = all[in.u8() % all.size()];
    fl = in.u8();
    fl2 = in.u8();
    const std::uint8_t seed = in.u8();
    const bool tiny = (fl & kFlagSmall) != 0;
    a.cfg = shrink(preset, tiny);
    b.cfg = shrink(preset, false);
    a.cfg.random_seed = 0x1000 + seed;
    b.cfg.random_seed = 0x2000;
    // B is a plain peer: it must never refuse to accept because of its own port/TW policy.
    b.cfg.tcp_max_tw_buckets = 64;
    if (fl & kFlagBNoTs) b.cfg.tcp_timestamps = 0;
    if (fl & kFlagShortTw) {
      for (Config* c : {&a.cfg, &b.cfg}) {
        c->timewait_len_ms = 3000;
        c->tcp_fin_timeout = 5;
      }
    }
    if (fl & kFlagRfc1337) a.cfg.tcp_rfc1337 = true;
    if (fl & kFlagNoDelack) a.cfg.delayed_ack_ms = b.cfg.delayed_ack_ms = 0;
    if ((fl2 & kFlag2ReuseOn) && a.cfg.tcp_tw_reuse == 0 && !a.cfg.tcp_tw_recycle) {
      a.cfg.tcp_tw_reuse = 1;
    }
    if (fl2 & kFlag2LongRtt) delay_us = 20'000;
    if (fl2 & kFlag2TsPerHost) a.cfg.ts_offset = twtcp::TsOffset::kPerHost;
    if ((fl2 & kFlag2TsNoOffset) && a.cfg.tcp_timestamps != 0) a.cfg.tcp_timestamps = 2;
    if (fl2 & kFlag2NoSackWs) a.cfg.tcp_sack = a.cfg.tcp_window_scaling = false;
    for (Side* s : {&a, &b}) {
      const auto v = twtcp::validate(s->cfg);
      check(v.ok(), "harness config invalid:", v.message());
    }
    const bool loop = (fl & kFlagLoopback) != 0;
    a.ident.addr = loop ? kLoopA : kAddrA;
    b.ident.addr = loop ? kLoopB : kAddrB;
    a.ident.mac = {2, 0, 0, 0, 0, 0xa};
    a.ident.peer_mac = {2, 0, 0, 0, 0, 0xb};
    b.ident.mac = a.ident.peer_mac;
    b.ident.peer_mac = a.ident.mac;
    a.name = "A";
    b.name = "B";
    a.stack.emplace(a.cfg, a.ident, a.sink, now);
    b.stack.emplace(b.cfg, b.ident, b.sink, now);
    a.last_counters = counter_values(*a.stack);
    b.last_counters = counter_values(*b.stack);
    scratch.resize(70000);

    for (std::uint16_t port : kAPorts) check(a.stack->listen(port, a_callbacks()), "A listen");
    for (std::uint16_t port : kBPorts) check(b.stack->listen(port, b_callbacks()), "B listen");
  }

  ~Harness() {
    // Stacks go first: their destructors may not call back, but keep the order explicit.
    a.stack.reset();
    b.stack.reset();
  }

  // ---- callbacks ----

  void track(Side& s, ConnId id) {
    if (id == 0 || s.conns.count(id) != 0) return;
    AppConn c;
    c.iss = s.stack->iss(id);
    c.local_port = s.stack->local_port(id);
    s.conns.emplace(id, c);
    s.order.push_back(id);
    if (s.order.size() > 64) s.order.erase(s.order.begin());
    if (&s == &a) {
      if (injecting) forged_ports.insert(c.local_port);
      remember_port(c.local_port);
    }
  }

  void remember_port(std::uint16_t port) {
    if (std::find(a_local_ports.begin(), a_local_ports.end(), port) != a_local_ports.end()) return;
    a_local_ports.push_back(port);
    if (a_local_ports.size() > 8) a_local_ports.erase(a_local_ports.begin());
  }

  // Reads everything readable and checks it against the peer's generator.
  void drain(Side& s, ConnId id, std::size_t cap = SIZE_MAX) {
    auto it = s.conns.find(id);
    if (it == s.conns.end()) return;
    std::uint8_t buf[4096];
    while (cap > 0) {
      const std::size_t n = s.stack->recv(id, std::span(buf, std::min(sizeof buf, cap)));
      if (n == 0) break;
      cap -= n;
      it = s.conns.find(id);  // recv may fire callbacks that track new conns
      if (it == s.conns.end()) return;
      verify_stream(s, it->second, std::span<const std::uint8_t>(buf, n));
    }
  }

  void verify_stream(Side& s, AppConn& c, std::span<const std::uint8_t> data) {
    const std::uint64_t start = c.got;
    c.got += data.size();
    if (&s == &a && forged_ports.count(c.local_port) != 0) return;  // forged bytes allowed
    const auto peer = s.peer_iss.find({c.local_port, c.iss});
    if (peer == s.peer_iss.end()) return;
    for (std::size_t i = 0; i < data.size(); ++i) {
      if (data[i] != stream_byte(peer->second, start + i)) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "%s port %u iss %u peer iss %u offset %llu", s.name,
                      c.local_port, c.iss, peer->second,
                      static_cast<unsigned long long>(start + i));
        fail("received bytes differ from what the peer app sent:", msg);
      }
    }
  }

  std::size_t app_send(Side& s, ConnId id, std::size_t len) {
    auto it = s.conns.find(id);
    if (it == s.conns.end()) return 0;
    len = std::min(len, kMaxSend);
    const AppConn c = it->second;
    for (std::size_t i = 0; i < len; ++i) scratch[i] = stream_byte(c.iss, c.sent + i);
    const std::size_t n = s.stack->send(id, std::span<const std::uint8_t>(scratch.data(), len));
    check(n <= len, "send() accepted more than offered");
    it = s.conns.find(id);
    if (it != s.conns.end()) it->second.sent += n;
    return n;
  }

  // Every callback: ids are never reused, so one naming a closed connection is a violation.
  void event(Side& s, ConnId id) {
    ++s.events;
    check(id != 0, "callback with id 0", s.name);
    check(s.dead_ids.count(id) == 0, "callback after on_closed", s.name);
  }

  Callbacks a_callbacks() {
    Callbacks cb;
    cb.on_accepted = [this](ConnId id) {
      event(a, id);
      check(a.conns.count(id) == 0, "on_accepted for a known id", "A");
      track(a, id);
    };
    cb.on_connected = [this](ConnId id) { event(a, id); };
    cb.on_readable = [this](ConnId id) {
      event(a, id);
      if (fl2 & kFlag2AAutoRead) drain(a, id);
    };
    cb.on_writable = [this](ConnId id) { event(a, id); };
    cb.on_peer_closed = [this](ConnId id) {
      event(a, id);
      if (fl2 & kFlag2AClosesOnFin) a.stack->close(id);
    };
    cb.on_closed = [this](ConnId id, CloseReason) {
      event(a, id);
      a.dead_ids.insert(id);
      auto it = a.conns.find(id);
      if (it != a.conns.end()) it->second.dead = true;
    };
    return cb;
  }

  Callbacks b_callbacks() {
    Callbacks cb;
    cb.on_accepted = [this](ConnId id) {
      event(b, id);
      check(b.conns.count(id) == 0, "on_accepted for a known id", "B");
      track(b, id);
    };
    cb.on_connected = [this](ConnId id) {
      event(b, id);
      track(b, id);
      const auto req = b_request.find(id);
      if (req != b_request.end()) {
        app_send(b, id, req->second);
        b_request.erase(req);
      }
    };
    cb.on_readable = [this](ConnId id) {
      event(b, id);
      if (fl2 & kFlag2BNoRead) return;
      const auto before = b.conns.count(id) ? b.conns[id].got : 0;
      drain(b, id);
      const auto it = b.conns.find(id);
      if (it == b.conns.end() || it->second.got == before) return;
      if (fl & kFlagBEcho) app_send(b, id, std::min<std::uint64_t>(it->second.got - before, 3000));
      if ((fl & kFlagBClosesFirst) && !b.conns[id].closed_by_app) {
        b.conns[id].closed_by_app = true;
        b.stack->close(id);
      }
    };
    cb.on_writable = [this](ConnId id) { event(b, id); };
    cb.on_peer_closed = [this](ConnId id) {
      event(b, id);
      auto it = b.conns.find(id);
      if (it != b.conns.end() && !it->second.closed_by_app) {
        it->second.closed_by_app = true;
        if (!(fl2 & kFlag2BNoRead)) drain(b, id);
        b.stack->close(id);
      }
    };
    cb.on_closed = [this](ConnId id, CloseReason) {
      event(b, id);
      b.dead_ids.insert(id);
      auto it = b.conns.find(id);
      if (it != b.conns.end()) it->second.dead = true;
      b_request.erase(id);
    };
    return cb;
  }

  // ---- frames ----

  void check_frame(const Side& s, std::span<const std::uint8_t> f) {
    const auto p = wire::parse_segment(f);
    if (!p) fail("emitted frame does not parse:", std::string(s.name) + ": " + p.why());
    check(p->src_addr == s.ident.addr, "emitted frame has a foreign source address", s.name);
    check(p->eth_src == s.ident.mac && p->eth_dst == s.ident.peer_mac,
          "emitted frame has wrong MACs", s.name);
    check(p->dst_addr != s.ident.addr, "emitted frame to ourselves", s.name);
    // Port 0 only as an RST answering a segment that carried it (Linux answers those too).
    check(p->src_port != 0 || (p->flags & flags::kRst), "emitted non-RST from port 0", s.name);
    check(p->payload.size() <= static_cast<std::size_t>(s.cfg.mss),
          "emitted payload above twtcp.mss", s.name);
    check(!p->has(flags::kSyn | flags::kRst), "emitted SYN+RST", s.name);
    check(!p->has(flags::kSyn | flags::kFin), "emitted SYN+FIN", s.name);
    check(!(p->flags & flags::kSyn) || p->payload.empty(), "emitted SYN with data", s.name);
    check(p->ttl != 0, "emitted TTL 0", s.name);
    if (s.cfg.tcp_timestamps == 0 && !(p->flags & flags::kRst)) {
      check(!p->options.ts.has_value(), "timestamps sent with tcp_timestamps = 0", s.name);
    }
  }

  // Moves what each stack emitted onto the link (or records it), after checking every frame.
  void collect() {
    for (Side* s : {&a, &b}) {
      Side& peer = (s == &a) ? b : a;
      std::vector<std::vector<std::uint8_t>> frames;
      frames.swap(s->sink.frames);
      for (auto& f : frames) {
        ++s->emitted;
        check_frame(*s, f);
        const auto p = wire::parse_segment(f);
        if (g_trace) trace(s->name, *p);
        if (s == &a) record_from_a(*p);
        if (p->has(flags::kSyn | flags::kAck) && p->dst_addr == peer.ident.addr) {
          s->peer_iss[{p->src_port, p->seq}] = p->ack - 1;
          peer.peer_iss[{p->dst_port, p->ack - 1}] = p->seq;
        }
        if (p->dst_addr != peer.ident.addr) continue;  // to a stranger: nobody answers
        if (link_cut) continue;
        const bool lossy = (s == &a) ? lossy_ab : lossy_ba;
        if (lossy && (++loss_counter % 2) == 0) continue;
        auto& q = (s == &a) ? a_to_b : b_to_a;
        q.push_back(InFlight{now + delay_us, std::move(f)});
      }
    }
  }

  void record_from_a(const wire::SegmentView& p) {
    const Tuple t{p.dst_addr, p.dst_port, p.src_port};
    auto [it, fresh] = last_from_a.try_emplace(t);
    if (fresh) {
      tuples.push_back(t);
      if (tuples.size() > 16) {
        last_from_a.erase(tuples.front());
        tuples.erase(tuples.begin());
      }
    }
    LastSent& l = it->second;
    l.seq = p.seq;
    l.end_seq = p.end_seq();
    l.ack = p.ack;
    l.window = p.window;
    l.has_ts = p.options.ts.has_value();
    if (l.has_ts) {
      l.tsval = p.options.ts->tsval;
      l.tsecr = p.options.ts->tsecr;
    }
  }

  // ---- invariants ----

  void check_side(Side& s) {
    const Stack& st = *s.stack;
    const auto v = counter_values(st);
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] < s.last_counters[i]) {
        std::string name;
        std::size_t k = 0;
        st.counters().for_each([&](std::string_view, std::string_view n, std::uint64_t) {
          if (k++ == i) name = n;
        });
        fail("counter decreased:", std::string(s.name) + " " + name);
      }
    }
    s.last_counters = v;
    check(st.timewait_count() <= static_cast<std::size_t>(s.cfg.tcp_max_tw_buckets),
          "timewait_count() above tcp_max_tw_buckets", s.name);
    check(st.connection_count() <= static_cast<std::size_t>(s.cfg.max_connections),
          "connection_count() above max_connections", s.name);
    check(st.counters().CurrEstab <= st.connection_count(), "CurrEstab above connection_count()",
          s.name);
    for (auto it = s.conns.begin(); it != s.conns.end();) {
      if (it->second.dead) {
        s.order.erase(std::remove(s.order.begin(), s.order.end(), it->first), s.order.end());
        it = s.conns.erase(it);
      } else {
        ++it;
      }
    }
  }

  void check_all() {
    collect();
    check_side(a);
    check_side(b);
  }

  // advance() with the wakeup contract: before next_wakeup() nothing may happen, and after
  // advance(t) nothing may still be due at t.
  void advance(Side& s, std::uint64_t t) {
    Stack& st = *s.stack;
    const std::uint64_t hint = st.next_wakeup();
    const std::uint64_t events = s.events;
    const std::size_t frames = s.sink.frames.size();
    const std::size_t tw = st.timewait_count(), conns = st.connection_count();
    const auto counters = counter_values(st);
    st.advance(t);
    if (t < hint) {
      check(s.events == events && s.sink.frames.size() == frames && st.timewait_count() == tw &&
                st.connection_count() == conns && counter_values(st) == counters,
            "advance() before next_wakeup() did work (the hint was late)", s.name);
    }
    const std::uint64_t after = st.next_wakeup();
    if (after <= t) {
      char msg[120];
      std::snprintf(msg, sizeof msg, "%s: advance(%llu) left next_wakeup() = %llu", s.name,
                    static_cast<unsigned long long>(t), static_cast<unsigned long long>(after));
      fail("next_wakeup() not after the time just advanced to:", msg);
    }
  }

  // ---- time ----

  void deliver_due() {
    while (!a_to_b.empty() && a_to_b.front().at <= now && frames_moved < kMaxFrames) {
      InFlight f = std::move(a_to_b.front());
      a_to_b.pop_front();
      ++frames_moved;
      b.stack->input(f.bytes, now);
      check_all();
    }
    while (!b_to_a.empty() && b_to_a.front().at <= now && frames_moved < kMaxFrames) {
      InFlight f = std::move(b_to_a.front());
      b_to_a.pop_front();
      ++frames_moved;
      a.stack->input(f.bytes, now);
      check_all();
    }
  }

  void run_until(std::uint64_t until) {
    while (loop_steps < kMaxLoopSteps && frames_moved < kMaxFrames) {
      std::uint64_t next = std::min(a.stack->next_wakeup(), b.stack->next_wakeup());
      if (!a_to_b.empty()) next = std::min(next, a_to_b.front().at);
      if (!b_to_a.empty()) next = std::min(next, b_to_a.front().at);
      if (next > until) break;
      ++loop_steps;
      now = std::max(next, now);
      deliver_due();
      advance(a, now);
      advance(b, now);
      check_all();
    }
    jump_to(until);
  }

  void jump_to(std::uint64_t t) {
    now = std::max(now, t);
    advance(a, now);
    advance(b, now);
    check_all();
    if (frames_moved < kMaxFrames) deliver_due();
  }

  // ---- ops ----

  ConnId pick(Side& s, Reader& in) {
    const std::uint8_t sel = in.u8();
    if (s.order.empty()) return sel;  // a never-valid id (or 0)
    if (sel >= 0xf0) return s.order[sel % s.order.size()] ^ (std::uint64_t{1} << 40);  // stale
    return s.order[sel % s.order.size()];
  }

  void op_connect(Reader& in) {
    const std::uint8_t sel = in.u8();
    twtcp::ConnectOptions opt;
    opt.callbacks = a_callbacks();
    std::uint32_t raddr = b.ident.addr;
    std::uint16_t rport = kBPorts[sel % 3];
    if ((sel & 3) == 3) raddr = kStrangers[(sel >> 5) & 1];  // SYNs into the void
    if (sel & 0x04) {
      if ((sel & 0x08) && !a_local_ports.empty()) {
        opt.local_port = a_local_ports[in.u8() % a_local_ports.size()];
      } else {
        opt.local_port = in.u16();
      }
    }
    if (sel & 0x10) {
      const std::uint16_t low = in.u16();
      opt.port_range = {low, static_cast<std::uint16_t>(std::min(65535, low + in.u8()))};
    }
    const auto r = a.stack->connect(raddr, rport, std::move(opt));
    if (r.ok()) {
      check(r.id != 0, "connect() ok with id 0");
      check(a.stack->local_port(r.id) != 0, "connected conn has local port 0");
      track(a, r.id);
    } else {
      check(r.error == twtcp::kEaddrnotavail || r.error == twtcp::kEnobufs ||
                r.error == twtcp::kEinval,
            "connect() error outside its documented set");
    }
  }

  void op_b_connect(Reader& in) {
    const std::uint8_t sel = in.u8();
    const std::uint64_t req = in.varint();
    twtcp::ConnectOptions opt;
    opt.callbacks = b_callbacks();
    if (sel & 0x04) opt.local_port = static_cast<std::uint16_t>(50000 + (sel >> 3));
    const std::uint16_t port = (sel & 3) == 2 ? kClosedPort : kAPorts[sel & 1];
    const auto r = b.stack->connect(a.ident.addr, port, std::move(opt));
    if (r.ok()) {
      track(b, r.id);
      b_request[r.id] = std::min<std::uint64_t>(req, kMaxSend);
    }
  }

  void op_b_close(Reader& in) {
    const ConnId id = pick(b, in);
    const std::uint8_t how = in.u8() % 3;
    auto it = b.conns.find(id);
    if (it != b.conns.end() && how != 2) it->second.closed_by_app = true;
    if (how == 0) b.stack->close(id);
    if (how == 1) b.stack->abort(id);
    if (how == 2) b.stack->shutdown(id);
  }

  // The forged segment op:
  //   tuple byte: bits 0-3 index the tuples A sent on (+ fixed ones); bit 4 replaces the
  //     remote port (u16 follows); bit 5 sends from a stranger's address; bit 6 targets A's
  //     listener 8080 as the local port.
  //   flags byte: the TCP flags, as is.
  //   mode byte: bit 0 TS option, bit 1 MSS (u16), bit 2 window scale (u8), bit 3
  //     SACK-permitted, bit 4 raw options (u8 length % 41, bytes) instead of bits 0-3,
  //     bit 5 absolute seq (u32), bit 6 absolute ack (u32), bit 7 SACK blocks instead of
  //     bits 1-4: [TS as above if bit 0], u8 count (1 + n % 3), per block zz left and zz right
  //     (from A's last end_seq).
  //   zz seq delta, zz ack delta (added to A's last ack / A's last end_seq when relative),
  //   if TS: zz tsval delta (from the TSecr A last sent), zz tsecr delta (from A's last TSval),
  //   varint window, varint payload length (% kMaxPayload) and the payload bytes.
  void op_inject(Reader& in) {
    const std::uint8_t tsel = in.u8();
    const std::uint8_t tcp_flags = in.u8();
    const std::uint8_t mode = in.u8();

    Tuple t{b.ident.addr, 50000, kAPorts[0]};
    LastSent last;
    if (!tuples.empty()) {
      t = tuples[(tsel & 0x0f) % tuples.size()];
      last = last_from_a[t];
    }
    if (tsel & 0x10) t.remote_port = in.u16();
    if (tsel & 0x20) t.remote_addr = kStrangers[tcp_flags & 1];
    if (tsel & 0x40) t.local_port = kAPorts[0];

    wire::SegmentSpec spec;
    spec.eth_src = b.ident.mac;
    spec.eth_dst = a.ident.mac;
    spec.src_addr = t.remote_addr;
    spec.dst_addr = a.ident.addr;
    spec.tcp.src_port = t.remote_port;
    spec.tcp.dst_port = t.local_port;
    spec.tcp.flags = tcp_flags;
    const std::uint32_t seq_base = (mode & 0x20) ? in.u32() : last.ack;
    const std::uint32_t ack_base = (mode & 0x40) ? in.u32() : last.end_seq;
    spec.tcp.seq = seq_base + static_cast<std::uint32_t>(in.zz());
    spec.tcp.ack = ack_base + static_cast<std::uint32_t>(in.zz());
    std::uint8_t raw_opts[44] = {};
    std::size_t raw_len = 0;
    if (mode & 0x10) {
      raw_len = in.u8() % 41;
      in.bytes(raw_opts, raw_len);
      raw_len = (raw_len + 3) & ~std::size_t{3};  // EOL padding
    } else if (mode & 0x80) {
      // SACK blocks (lib/wire has no builder for them) around what A sent, after an
      // optional TS, in Linux's NOP-aligned layout.
      auto put32 = [&](std::uint32_t v) {
        wire::store_be32(raw_opts + raw_len, v);
        raw_len += 4;
      };
      if (mode & 0x01) {
        const std::uint8_t ts_head[] = {1, 1, 8, 10};
        std::memcpy(raw_opts, ts_head, 4);
        raw_len = 4;
        put32(last.tsecr + static_cast<std::uint32_t>(in.zz()));
        put32(last.tsval + static_cast<std::uint32_t>(in.zz()));
      }
      const std::size_t blocks = 1 + in.u8() % 3;
      const std::uint8_t sack_head[] = {1, 1, 5, static_cast<std::uint8_t>(2 + 8 * blocks)};
      std::memcpy(raw_opts + raw_len, sack_head, 4);
      raw_len += 4;
      for (std::size_t k = 0; k < blocks; ++k) {
        put32(last.end_seq + static_cast<std::uint32_t>(in.zz()));
        put32(last.end_seq + static_cast<std::uint32_t>(in.zz()));
      }
    } else {
      if (mode & 0x01) {
        const std::uint32_t tsval = last.tsecr + static_cast<std::uint32_t>(in.zz());
        const std::uint32_t tsecr = last.tsval + static_cast<std::uint32_t>(in.zz());
        spec.tcp.options.ts = wire::TcpTimestamps{tsval, tsecr};
      }
      if (mode & 0x02) spec.tcp.options.mss = in.u16();
      if (mode & 0x04) spec.tcp.options.wscale = in.u8();
      if (mode & 0x08) spec.tcp.options.sack_permitted = true;
    }
    spec.tcp.window = static_cast<std::uint16_t>(in.varint());
    const std::size_t plen = in.varint() % kMaxPayload;
    std::vector<std::uint8_t> body(raw_len + plen);
    if (raw_len != 0) std::memcpy(body.data(), raw_opts, raw_len);
    in.bytes(body.data() + raw_len, plen);

    std::uint8_t frame[2048];
    const std::size_t n = wire::build_segment(frame, spec, body);
    check(n != 0, "harness: build_segment failed");
    if (raw_len != 0) {
      // The raw options went in as the start of the payload: move the data offset over them
      // and redo the TCP checksum (the IPv4 header does not change).
      std::uint8_t* tcp = frame + 14 + 20;
      tcp[12] = static_cast<std::uint8_t>(((20 + raw_len) / 4) << 4);
      wire::store_be16(tcp + 16, 0);
      const std::span<const std::uint8_t> seg(tcp, n - 34);
      wire::store_be16(tcp + 16, wire::tcp_checksum(spec.src_addr, spec.dst_addr, seg));
    }
    if (t.remote_addr == b.ident.addr) forged_ports.insert(t.local_port);
    if (g_trace) {
      if (const auto p = wire::parse_segment(std::span<const std::uint8_t>(frame, n))) {
        trace("forged", *p);
      }
    }
    input_a(std::span<const std::uint8_t>(frame, n));
  }

  void op_raw(Reader& in) {
    const std::size_t len = in.varint() % kMaxPayload;
    std::vector<std::uint8_t> f(len);
    in.bytes(f.data(), len);
    // Whatever parses as TCP from B's address may carry forged stream bytes.
    if (len >= 38 && f[12] == 0x08 && f[13] == 0x00) {
      const std::size_t ihl = (f[14] & 0x0f) * 4u;
      if (wire::load_be32(&f[26]) == b.ident.addr && 14 + ihl + 4 <= len) {
        forged_ports.insert(wire::load_be16(&f[14 + ihl + 2]));
      }
    }
    input_a(f);
  }

  void input_a(std::span<const std::uint8_t> f) {
    injecting = true;
    a.stack->input(f, now);
    injecting = false;
    check_all();
  }

  void op_conn_call(Op op, Reader& in) {
    const ConnId id = pick(a, in);
    auto it = a.conns.find(id);
    switch (op) {
      case kSend:
        app_send(a, id, in.varint());
        break;
      case kRecv:
        drain(a, id, in.varint() + 1);
        break;
      case kShutdown:
        a.stack->shutdown(id);
        break;
      case kClose:
        if (it != a.conns.end()) it->second.closed_by_app = true;
        a.stack->close(id);
        break;
      case kAbort:
        a.stack->abort(id);
        break;
      case kLinger0:
        a.stack->close_linger0(id);
        break;
      default:
        break;
    }
    check_all();
  }

  void run(Reader& in) {
    check_all();
    for (int ops = 0; ops < kMaxOps && !in.empty(); ++ops) {
      if (loop_steps >= kMaxLoopSteps || frames_moved >= kMaxFrames) break;
      const Op op = static_cast<Op>(in.u8() % kOpCount);
      switch (op) {
        case kRun:
          run_until(now + std::min(in.varint(), kMaxStepMs) * 1000);
          break;
        case kJump:
          jump_to(now + std::min(in.varint(), kMaxStepMs) * 1000);
          break;
        case kInject:
          op_inject(in);
          break;
        case kRaw:
          op_raw(in);
          break;
        case kConnect:
          op_connect(in);
          check_all();
          break;
        case kBConnect:
          op_b_connect(in);
          check_all();
          break;
        case kBClose:
          op_b_close(in);
          check_all();
          break;
        case kLink: {
          const std::uint8_t l = in.u8();
          lossy_ab = (l & 1) != 0;
          lossy_ba = (l & 2) != 0;
          if (l & 4) {
            a_to_b.clear();
            b_to_a.clear();
          }
          break;
        }
        default:
          op_conn_call(op, in);
          break;
      }
    }
    // Let what is in flight settle a little so closes and TIME_WAIT entries complete.
    run_until(now + 2 * kSec);
    quiesce();
    if (g_trace) print_summary();
  }

  // Hours later, with the link healthy and then cut, every timer must have run its course:
  // no TIME_WAIT entry is left, everything the apps closed is gone, and nothing that still had
  // data to send is alive. Skipped when the input used up its step budget
  // (the jumps then fire timers in coarse batches and retries may still be pending).
  void quiesce() {
    lossy_ab = lossy_ba = false;
    run_until(now + 3 * 3600 * kSec);
    a_to_b.clear();
    b_to_a.clear();
    link_cut = true;
    run_until(now + 3 * 3600 * kSec);
    if (loop_steps >= kMaxLoopSteps || frames_moved >= kMaxFrames) return;
    for (Side* s : {&a, &b}) {
      check(s->stack->timewait_count() == 0, "TIME_WAIT entry outlived every timer", s->name);
      std::size_t open = 0;
      for (const auto& [id, c] : s->conns) {
        if (c.closed_by_app) {
          char msg[96];
          std::snprintf(msg, sizeof msg, "%s: port %u iss %u still has local_port %u", s->name,
                        c.local_port, c.iss, s->stack->local_port(id));
          fail("a connection the app closed never reported on_closed:", msg);
        }
        if (!c.dead) ++open;
        // Three hours without a word from the peer: retransmissions (tcp_retries2) and
        // unanswered zero-window probes (tcp_probe_timer) must have given up on every
        // connection that still had data to deliver (regressions/stack/persist-unanswered-forever).
        const std::uint32_t sent_on_wire = s->stack->snd_nxt(id) - c.iss - 1;
        if (!c.dead && c.sent > sent_on_wire) {
          char msg[128];
          std::snprintf(msg, sizeof msg, "%s: port %u iss %u app sent %llu, snd_nxt at %u", s->name,
                        c.local_port, c.iss, static_cast<unsigned long long>(c.sent), sent_on_wire);
          fail("a connection with unsent data outlived 3 h of silence:", msg);
        }
      }
      check(s->stack->connection_count() >= open, "connection_count() below the apps' open ones",
            s->name);
    }
  }

  // FUZZ_STACK_TRACE=1: what an input reached, to check that seeds tell their story.
  void print_summary() const {
    for (const Side* s : {&a, &b}) {
      std::printf("%s: conns %zu tw %zu emitted %llu |", s->name, s->stack->connection_count(),
                  s->stack->timewait_count(), static_cast<unsigned long long>(s->emitted));
      s->stack->counters().for_each([](std::string_view, std::string_view n, std::uint64_t v) {
        if (v != 0)
          std::printf(" %.*s=%llu", static_cast<int>(n.size()), n.data(),
                      static_cast<unsigned long long>(v));
      });
      std::printf("\n");
    }
    std::printf("steps %d frames %d now %llu s\n", loop_steps, frames_moved,
                static_cast<unsigned long long>((now - kStartUs) / kSec));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in{data, size};
  Harness h(in);
  h.run(in);
  return 0;
}
