// bench/scale.cpp: twtcp-scale, one Stack holding many open connections and many TIME_WAIT
// entries at once (issue 5: 1M open connections and 10M TIME_WAIT entries in one process).
//
// The Stack under test (198.18.0.1) is a client; its peer is bench/scripted_peer.hpp, which
// answers from each frame alone and so adds no memory of its own. Connection i binds local
// port 1024 + i % 64512 and connects to 10.x.y.z:80 (a new peer address every 64512
// connections). First N connections are opened and left ESTABLISHED; then M more are opened
// and closed by the Stack once connected (the peer answers the FIN with its own), leaving M
// real TIME_WAIT entries. The resident set size is read before the Stack is built, after it
// is built, after the connection fill and after the TIME_WAIT fill.
//
// Then the per-segment cost at that size: prebuilt frames into Stack::input(), in random
// order over up to --probes distinct targets, --inputs segments per pass, --repeat passes
// (median). Four kinds: a pure ACK into an ESTABLISHED connection (no answer); a bare ACK at
// rcv_nxt into a TIME_WAIT entry (SPEC W3: absorbed and re-armed, so the entry moves to the
// tail of its expiry queue); an RST off rcv_nxt into a TIME_WAIT entry (W7: dropped, the
// lookup and the verdict alone); an RST for a tuple nobody holds (a table miss, dropped).
// Every pass checks that each segment did exactly that (counters, frames sent, table
// populations). The same is measured on a Stack with --small connections and TIME_WAIT
// entries (default 1000 each) and reported as a ratio.
//
//   twtcp-scale [--connections N] [--timewait M] [--buf BYTES] [--probes K] [--inputs P]
//               [--repeat R] [--small S] [--max-seconds T] [--json FILE]
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "scripted_peer.hpp"
#include "tcp/stack.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"

namespace {

using namespace twtcp;
using bench::FrameSet;
using bench::PeerOpts;
using bench::ScriptedPeer;
using bench::Tuple;
namespace fl = wire::tcp_flags;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kLocalPorts = 64512;  // 1024..65535
constexpr std::uint16_t kRemotePort = 80;
constexpr std::uint64_t kBatch = 1024;  // connections opened before the peer's answers flow
constexpr std::size_t kBurst = 32;      // frames per input_burst(): DPDK's usual RX burst
static_assert(kBurst == 32, "the report labels say bursts of 32");

struct Options {
  std::uint64_t connections = 1'000'000;
  std::uint64_t timewait = 10'000'000;
  std::uint32_t buf = 2048;  // tcp_rmem and tcp_wmem: the rings an idle connection keeps
  std::uint64_t probes = 1'000'000;
  std::uint64_t inputs = 1'000'000;
  int repeat = 5;
  std::uint64_t small = 1000;
  double max_seconds = 840;
  std::string json;
};

Tuple tuple_of(std::uint64_t i) {
  return Tuple{bench::kPeerNet + 1 + static_cast<std::uint32_t>(i / kLocalPorts), kRemotePort,
               static_cast<std::uint16_t>(1024 + i % kLocalPorts)};
}

std::uint64_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

std::uint64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  for (int line = 0; line < 64 && in >> key >> kb >> unit; ++line) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

double cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::uint64_t round16(std::uint64_t x) {
  return (x + 15) / 16 * 16;
}

Config scale_config(const Options& o, std::uint64_t conns, std::uint64_t tws) {
  Config c;
  c.random_seed = 7;
  c.tcp_rmem = {static_cast<std::int32_t>(o.buf), static_cast<std::int32_t>(o.buf),
                static_cast<std::int32_t>(o.buf)};
  c.tcp_wmem = c.tcp_rmem;
  // Exactly what the run holds: the table takes any capacity, so no slot goes unused.
  const std::uint64_t cap = conns + tws + kBatch;
  c.flow_table_capacity = static_cast<std::int32_t>(std::min<std::uint64_t>(cap, 1u << 26));
  c.max_connections = static_cast<std::int32_t>(conns + kBatch);
  c.tcp_max_tw_buckets = static_cast<std::int32_t>(tws);
  c.timewait_len_ms = 3'600'000;  // the longest allowed: no entry expires while we build
  return c;
}

// What a Stack of this config will hold in memory, for the check before building it.
struct Sizes {
  std::uint64_t table = 0, pool = 0, per_conn = 0, total = 0;
};
Sizes estimate(const Config& c, std::uint64_t conns, std::uint64_t tws, std::uint64_t probes) {
  Sizes s;
  s.table = static_cast<std::uint64_t>(c.flow_table_capacity) * 10 / 49 * 64;
  s.pool = (tws + tcp::TwPool::kQueues) * sizeof(tcp::TwEntry);
  // The slot (malloc'd ConnEntry), its two rings, the pool's pointer and free-list index;
  // each heap block with glibc's 8-byte header. The Callbacks are shared (shared_callbacks).
  s.per_conn = round16(sizeof(tcp::ConnEntry) + 8) +
               round16(static_cast<std::uint64_t>(c.tcp_rmem.def + c.tcp_wmem.def) + 8) + 8 + 4;
  s.total = s.table + s.pool + (conns + kBatch) * s.per_conn + conns * 8 + probes * 3 * 128;
  return s;
}

struct ProbeResult {
  double wall_ns = 0, cpu_ns = 0;  // medians per segment
  bool ok = false;
};

// The four kinds of segment, timed one way (one frame per input(), or bursts).
struct Probes {
  ProbeResult est_ack, tw_ack, tw_rst, miss;
  [[nodiscard]] bool ok() const { return est_ack.ok && tw_ack.ok && tw_rst.ok && miss.ok; }
};

// Full-size CPU time per segment over small-size, per kind.
struct Ratios {
  double est_ack = 0, tw_ack = 0, tw_rst = 0, miss = 0;
};
Ratios ratios(const Probes& big, const Probes& small) {
  auto r = [](const ProbeResult& b, const ProbeResult& s) {
    return s.cpu_ns > 0 ? b.cpu_ns / s.cpu_ns : 0.0;
  };
  return {r(big.est_ack, small.est_ack), r(big.tw_ack, small.tw_ack), r(big.tw_rst, small.tw_rst),
          r(big.miss, small.miss)};
}

struct RunResult {
  std::uint64_t conns = 0, tws = 0, capacity = 0;
  Sizes sizes;
  std::uint64_t rss_start = 0, rss_built = 0, rss_tw = 0, rss_conns = 0;
  double tw_fill_s = 0, conn_fill_s = 0, tw_fill_cpu_s = 0, conn_fill_cpu_s = 0;
  Probes one;  // one frame per Stack::input()
  // The same frames in bursts of kBurst through Stack::input_burst(), as a poll loop feeds them.
  Probes burst;
  std::string error;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

class Run {
 public:
  Run(const Options& o, std::uint64_t conns, std::uint64_t tws, Clock::time_point deadline)
      : o_(o), deadline_(deadline) {
    r_.conns = conns;
    r_.tws = tws;
  }

  RunResult go() {
    const Config cfg = scale_config(o_, r_.conns, r_.tws);
    if (const ConfigResult v = validate(cfg); !v.ok()) return fail("bad config: " + v.message());
    r_.capacity = static_cast<std::uint64_t>(cfg.flow_table_capacity);
    r_.sizes = estimate(cfg, r_.conns, r_.tws, o_.probes);
    ids_.assign(r_.conns, 0);  // the harness's own memory, touched before the first reading
    r_.rss_start = rss_bytes();
    stack_ = std::make_unique<Stack>(cfg, bench::stack_identity(), peer_, now_);
    r_.rss_built = rss_bytes();

    // Open connections first: the TIME_WAIT fill then needs kBatch more connection slots of
    // its own, so no slot it allocated is counted against the open connections.
    auto t0 = Clock::now();
    double c0 = cpu_s();
    if (!fill(r_.tws, r_.conns, false)) return r_;
    r_.conn_fill_s = std::chrono::duration<double>(Clock::now() - t0).count();
    r_.conn_fill_cpu_s = cpu_s() - c0;
    if (stack_->connection_count() != r_.conns || stack_->counters().CurrEstab != r_.conns) {
      return fail("connection fill: " + std::to_string(stack_->counters().CurrEstab) +
                  " established");
    }
    r_.rss_conns = rss_bytes();

    // TIME_WAIT fill: the Stack closes each connection as soon as it is connected.
    t0 = Clock::now();
    c0 = cpu_s();
    if (!fill(0, r_.tws, true)) return r_;
    r_.tw_fill_s = std::chrono::duration<double>(Clock::now() - t0).count();
    r_.tw_fill_cpu_s = cpu_s() - c0;
    if (stack_->timewait_count() != r_.tws || stack_->connection_count() != r_.conns) {
      return fail("TIME_WAIT fill: " + std::to_string(stack_->timewait_count()) + " entries, " +
                  std::to_string(stack_->connection_count()) + " connections");
    }
    r_.rss_tw = rss_bytes();

    peer_.replying = false;
    // Each kind's frames once, timed one at a time and then in bursts.
    const auto both = [&](const FrameSet& frames, ProbeResult Probes::*kind) {
      r_.one.*kind = measure(frames, 1);
      r_.burst.*kind = measure(frames, kBurst);
    };
    both(est_ack_frames(), &Probes::est_ack);
    both(tw_frames(false), &Probes::tw_ack);
    both(tw_frames(true), &Probes::tw_rst);
    both(miss_frames(), &Probes::miss);
    if (!r_.one.ok() || !r_.burst.ok()) {
      if (r_.error.empty()) r_.error = "a probe pass did not do what its segments should";
    }
    return r_;
  }

 private:
  RunResult fail(std::string why) {
    r_.error = std::move(why);
    return r_;
  }

  // Opens connections [first, first + count). Bounded by the count and the deadline.
  bool fill(std::uint64_t first, std::uint64_t count, bool close_when_connected) {
    // One Callbacks for all (what a load generator does): none is copied per connect().
    Callbacks closing_cb;
    closing_cb.on_connected = [this](ConnId id) { stack_->close(id); };
    const auto closing = std::make_shared<const Callbacks>(std::move(closing_cb));
    const auto silent = std::make_shared<const Callbacks>();
    for (std::uint64_t done = 0; done < count;) {
      const std::uint64_t n = std::min(kBatch, count - done);
      now_ += 10;
      peer_.tsval = static_cast<std::uint32_t>(now_ / 1000 + 1);
      for (std::uint64_t k = 0; k < n; ++k) {
        const Tuple t = tuple_of(first + done + k);
        ConnectOptions co;
        co.local_port = t.local_port;
        co.shared_callbacks = close_when_connected ? closing : silent;
        const ConnectResult cr = stack_->connect(t.remote_addr, t.remote_port, std::move(co));
        if (!cr.ok()) {
          fail("connect() #" + std::to_string(first + done + k) + " failed: error " +
               std::to_string(cr.error));
          return false;
        }
        if (!close_when_connected) ids_[done + k] = cr.id;
      }
      if (!peer_.settle(*stack_, now_)) {
        fail("the peer's exchange did not settle");
        return false;
      }
      stack_->advance(now_);
      done += n;
      if ((done & 0xffff) == 0 && Clock::now() > deadline_) {
        fail("--max-seconds reached after " + std::to_string(done) + " of " +
             std::to_string(count) + " connections");
        return false;
      }
    }
    return true;
  }

  PeerOpts ts() const {
    PeerOpts o;
    o.ts = wire::TcpTimestamps{peer_.tsval, 0};
    return o;
  }

  // Up to --probes distinct targets, in random order.
  std::vector<std::uint64_t> sample(std::uint64_t n) const {
    std::vector<std::uint64_t> idx;
    const std::uint64_t k = std::min(n, o_.probes);
    idx.reserve(k);
    std::mt19937_64 rng(n);
    if (k == n) {
      for (std::uint64_t i = 0; i < n; ++i) idx.push_back(i);
    } else {
      for (std::uint64_t i = 0; i < n && idx.size() < k; ++i) {  // selection sampling
        if (rng() % (n - i) < k - idx.size()) idx.push_back(i);
      }
    }
    std::shuffle(idx.begin(), idx.end(), rng);
    return idx;
  }

  FrameSet est_ack_frames() {
    FrameSet f;
    const auto idx = sample(r_.conns);
    f.reserve(idx.size());
    for (std::uint64_t j : idx) {
      const Tuple t = tuple_of(r_.tws + j);
      f.commit(bench::build_peer_frame(f.next_slot(), t, bench::peer_isn(t) + 1,
                                       stack_->snd_nxt(ids_[j]), fl::kAck, ts()));
    }
    return f;
  }

  // rst false: a bare ACK at rcv_nxt (W3: absorbed, re-armed, so the entry moves in its
  // expiry queue); true: an RST off rcv_nxt (W7: dropped, nothing written), the lookup and
  // the verdict alone.
  FrameSet tw_frames(bool rst) {
    const auto idx = sample(r_.tws);
    std::vector<std::uint64_t> sorted = idx;
    std::sort(sorted.begin(), sorted.end());
    std::vector<TimeWaitInfo> picked;
    picked.reserve(idx.size());
    std::uint64_t visit = 0;
    std::size_t next = 0;
    stack_->for_each_timewait(
        [&](const TimeWaitInfo& e) {
          if (next < sorted.size() && sorted[next] == visit) {
            picked.push_back(e);
            ++next;
          }
          ++visit;
        },
        r_.tws);
    std::mt19937_64 rng(idx.size());
    std::shuffle(picked.begin(), picked.end(), rng);
    FrameSet f;
    f.reserve(picked.size());
    for (const TimeWaitInfo& e : picked) {
      const Tuple t{e.remote_addr, e.remote_port, e.local_port};
      f.commit(
          rst ? bench::build_peer_frame(f.next_slot(), t, e.rcv_nxt + 1000, 0, fl::kRst, PeerOpts{})
              : bench::build_peer_frame(f.next_slot(), t, e.rcv_nxt, e.snd_nxt, fl::kAck, ts()));
    }
    return f;
  }

  FrameSet miss_frames() {
    FrameSet f;
    const std::uint64_t k = std::max<std::uint64_t>(1, std::min(o_.probes, r_.conns + r_.tws));
    f.reserve(k);
    for (std::uint64_t j = 0; j < k; ++j) {
      // 10.240.0.0/12 is beyond any address tuple_of() hands out (it stops at 10.3.x.x).
      const Tuple t{bench::kPeerNet + 0xF00000 + static_cast<std::uint32_t>(j / 60000),
                    static_cast<std::uint16_t>(1024 + j % 60000), 9};
      f.commit(bench::build_peer_frame(f.next_slot(), t, 1, 0, fl::kRst, PeerOpts{}));
    }
    // Random order, as for the others: a permutation of the same frames.
    FrameSet g;
    g.reserve(k);
    for (std::uint64_t j : sample(k)) {
      const auto src = f[j];
      std::copy(src.begin(), src.end(), g.next_slot().begin());
      g.commit(src.size());
    }
    return g;
  }

  ProbeResult measure(const FrameSet& frames, std::size_t burst) {
    ProbeResult pr;
    pr.ok = frames.size() == 0;  // nothing of this kind to probe (--connections 0, ...)
    if (frames.size() == 0) return pr;
    std::vector<double> wall, cpu;
    bool ok = true;
    for (int rep = 0; rep < o_.repeat; ++rep) {
      const StackCounters a = stack_->counters();
      const std::uint64_t frames_before = peer_.counts.frames;
      const auto t0 = Clock::now();
      const double c0 = cpu_s();
      std::size_t i = 0;
      if (burst == 1) {
        for (std::uint64_t q = 0; q < o_.inputs; ++q) {
          stack_->input(frames[i], now_);
          if (++i == frames.size()) i = 0;
        }
      } else {
        std::array<RxFrame, kBurst> rx;
        for (std::uint64_t q = 0; q < o_.inputs;) {
          const std::size_t n = std::min<std::uint64_t>(burst, o_.inputs - q);
          for (std::size_t j = 0; j < n; ++j) {
            rx[j] = RxFrame{frames[i], {}};
            if (++i == frames.size()) i = 0;
          }
          stack_->input_burst(std::span(rx.data(), n), now_);
          q += n;
        }
      }
      const double c1 = cpu_s();
      const auto t1 = Clock::now();
      const StackCounters b = stack_->counters();
      ok = ok && b.InSegs - a.InSegs == o_.inputs && b.OutRsts == a.OutRsts &&
           b.TwtcpRxDropped == a.TwtcpRxDropped && peer_.counts.frames == frames_before &&
           stack_->timewait_count() == r_.tws && stack_->connection_count() == r_.conns &&
           b.CurrEstab == r_.conns;
      wall.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                     static_cast<double>(o_.inputs));
      cpu.push_back((c1 - c0) * 1e9 / static_cast<double>(o_.inputs));
    }
    pr.wall_ns = median(wall);
    pr.cpu_ns = median(cpu);
    pr.ok = ok;
    return pr;
  }

  const Options& o_;
  Clock::time_point deadline_;
  RunResult r_;
  std::uint64_t now_ = 1'000'000;
  ScriptedPeer peer_;
  std::unique_ptr<Stack> stack_;
  std::vector<ConnId> ids_;
};

bool parse_u64(const char* s, std::uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') return false;
  out = v;
  return true;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "twtcp-scale: %s\n"
               "usage: twtcp-scale [--connections N] [--timewait M] [--buf BYTES] [--probes K]\n"
               "                   [--inputs P] [--repeat R] [--small S] [--max-seconds T]"
               " [--json FILE]\n",
               why);
  return 2;
}

double per(std::uint64_t bytes, std::uint64_t count) {
  return count == 0 ? 0 : static_cast<double>(bytes) / static_cast<double>(count);
}
double delta_per(std::uint64_t after, std::uint64_t before, std::uint64_t count) {
  return count == 0 ? 0
                    : (static_cast<double>(after) - static_cast<double>(before)) /
                          static_cast<double>(count);
}
// Open connections: what opening them added. TIME_WAIT entries: what building the Stack
// added (flow table, TIME_WAIT pool, connection pool's index arrays) plus what the TIME_WAIT
// fill added, so the whole flow table is charged to them.
double rss_per_conn(const RunResult& r) {
  return delta_per(r.rss_conns, r.rss_built, r.conns);
}
double rss_per_tw(const RunResult& r) {
  const double built = static_cast<double>(r.rss_built) - static_cast<double>(r.rss_start);
  const double fill = static_cast<double>(r.rss_tw) - static_cast<double>(r.rss_conns);
  return r.tws == 0 ? 0 : (built + fill) / static_cast<double>(r.tws);
}

void print_probes(const char* label, const Probes& p) {
  std::printf(
      "  %s: ACK->ESTABLISHED %.0f / %.0f, ACK->TIME_WAIT %.0f / %.0f, RST->TIME_WAIT %.0f / "
      "%.0f, RST->no entry %.0f / %.0f\n",
      label, p.est_ack.wall_ns, p.est_ack.cpu_ns, p.tw_ack.wall_ns, p.tw_ack.cpu_ns,
      p.tw_rst.wall_ns, p.tw_rst.cpu_ns, p.miss.wall_ns, p.miss.cpu_ns);
}

void print_ratios(const char* label, const Ratios& r) {
  std::printf(
      "ratio full / small%s: ACK->ESTABLISHED %.2fx, ACK->TIME_WAIT %.2fx, RST->TIME_WAIT "
      "%.2fx, RST->no entry %.2fx\n",
      label, r.est_ack, r.tw_ack, r.tw_rst, r.miss);
}

void json_probes(std::FILE* f, const Probes& p) {
  auto probe = [&](const char* name, const ProbeResult& x, bool last) {
    std::fprintf(f, "\"%s\":{\"wall_ns\":%.1f,\"cpu_ns\":%.1f}%s", name, x.wall_ns, x.cpu_ns,
                 last ? "" : ",");
  };
  std::fprintf(f, "{");
  probe("est_ack", p.est_ack, false);
  probe("tw_ack", p.tw_ack, false);
  probe("tw_rst", p.tw_rst, false);
  probe("miss", p.miss, true);
  std::fprintf(f, "}");
}

void json_ratios(std::FILE* f, const Ratios& r) {
  std::fprintf(f, "{\"est_ack\":%.3f,\"tw_ack\":%.3f,\"tw_rst\":%.3f,\"miss\":%.3f}", r.est_ack,
               r.tw_ack, r.tw_rst, r.miss);
}

void print_run(const char* label, const RunResult& r) {
  std::printf("[%s] %llu connections, %llu TIME_WAIT entries, flow table capacity %llu\n", label,
              static_cast<unsigned long long>(r.conns), static_cast<unsigned long long>(r.tws),
              static_cast<unsigned long long>(r.capacity));
  std::printf(
      "  fill: TIME_WAIT %.1f s (%.2f us CPU each), connections %.1f s (%.2f us CPU each)\n",
      r.tw_fill_s, r.tws ? r.tw_fill_cpu_s * 1e6 / static_cast<double>(r.tws) : 0.0, r.conn_fill_s,
      r.conns ? r.conn_fill_cpu_s * 1e6 / static_cast<double>(r.conns) : 0.0);
  std::printf(
      "  RSS MiB: start %.1f, Stack built %.1f, +connections %.1f, +TIME_WAIT %.1f\n",
      static_cast<double>(r.rss_start) / 1048576.0, static_cast<double>(r.rss_built) / 1048576.0,
      static_cast<double>(r.rss_conns) / 1048576.0, static_cast<double>(r.rss_tw) / 1048576.0);
  std::printf(
      "  per open connection: RSS %.1f B (Stack built -> connections open; the table "
      "is not in it), estimated %llu B\n",
      rss_per_conn(r), static_cast<unsigned long long>(r.sizes.per_conn));
  std::printf(
      "  per TIME_WAIT entry: RSS %.1f B (the Stack's construction, whole table "
      "included, + the TIME_WAIT fill); pool %.1f B + table per entry of capacity "
      "%.2f B = %.1f B\n",
      rss_per_tw(r), per(r.sizes.pool, r.tws), per(r.sizes.table, r.capacity),
      per(r.sizes.pool, r.tws) + per(r.sizes.table, r.capacity));
  print_probes("per segment (median, wall / CPU ns)", r.one);
  print_probes("per segment in bursts of 32 (input_burst)", r.burst);
}

void json_run(std::FILE* f, const RunResult& r) {
  std::fprintf(
      f,
      "{\"connections\":%llu,\"timewait\":%llu,\"flow_table_capacity\":%llu,"
      "\"table_bytes\":%llu,\"tw_pool_bytes\":%llu,\"est_bytes_per_connection\":%llu,"
      "\"rss\":{\"start\":%llu,\"built\":%llu,\"connections\":%llu,\"timewait\":%llu},"
      "\"rss_bytes_per_timewait\":%.2f,\"rss_bytes_per_connection\":%.2f,"
      "\"fill_seconds\":{\"timewait\":%.2f,\"connections\":%.2f},\"probe\":",
      static_cast<unsigned long long>(r.conns), static_cast<unsigned long long>(r.tws),
      static_cast<unsigned long long>(r.capacity), static_cast<unsigned long long>(r.sizes.table),
      static_cast<unsigned long long>(r.sizes.pool),
      static_cast<unsigned long long>(r.sizes.per_conn),
      static_cast<unsigned long long>(r.rss_start), static_cast<unsigned long long>(r.rss_built),
      static_cast<unsigned long long>(r.rss_conns), static_cast<unsigned long long>(r.rss_tw),
      rss_per_tw(r), rss_per_conn(r), r.tw_fill_s, r.conn_fill_s);
  json_probes(f, r.one);
  std::fprintf(f, ",\"probe_burst\":");
  json_probes(f, r.burst);
  std::fprintf(f, "}");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage("one Stack with many connections and TIME_WAIT entries (bench/README.md)");
      return 0;
    }
    if (i + 1 >= argc) return usage(("missing value for " + std::string(a)).c_str());
    const char* v = argv[++i];
    std::uint64_t x = 0;
    if (a == "--json") {
      o.json = v;
      continue;
    }
    if (!parse_u64(v, x)) return usage(("bad value for " + std::string(a)).c_str());
    if (a == "--connections") {
      o.connections = x;
    } else if (a == "--timewait") {
      o.timewait = x;
    } else if (a == "--buf") {
      o.buf = static_cast<std::uint32_t>(std::min<std::uint64_t>(x, 1u << 30));
    } else if (a == "--probes") {
      o.probes = x;
    } else if (a == "--inputs") {
      o.inputs = x;
    } else if (a == "--repeat") {
      o.repeat = static_cast<int>(std::min<std::uint64_t>(x, 1000));
    } else if (a == "--small") {
      o.small = x;
    } else if (a == "--max-seconds") {
      o.max_seconds = static_cast<double>(x);
    } else {
      return usage(("unknown flag " + std::string(a)).c_str());
    }
  }
  // Tuples: kLocalPorts local ports per peer address, peer addresses below 10.240.0.0.
  const std::uint64_t max_tuples = std::uint64_t{kLocalPorts} * 0xEFFFFF;
  if (o.connections + o.timewait == 0 || o.connections + o.timewait > max_tuples ||
      o.timewait > tcp::TwPool::kMaxCapacity || o.connections > 16'000'000 || o.buf == 0 ||
      o.probes == 0 || o.inputs == 0 || o.repeat == 0 || o.small == 0) {
    return usage("sizes out of range");
  }
  const std::uint64_t small_c = std::min(o.small, o.connections);
  const std::uint64_t small_t = std::min(o.small, o.timewait);
  const Config big_cfg = scale_config(o, o.connections, o.timewait);
  const Sizes need = estimate(big_cfg, o.connections, o.timewait, o.probes);
  const std::uint64_t avail = mem_available();
  if (avail != 0 && need.total > avail / 10 * 9) {
    std::fprintf(stderr,
                 "twtcp-scale: needs about %.1f GiB (table %.1f, TIME_WAIT pool %.1f, "
                 "%llu B per connection), %.1f GiB available\n",
                 static_cast<double>(need.total) / 1073741824.0,
                 static_cast<double>(need.table) / 1073741824.0,
                 static_cast<double>(need.pool) / 1073741824.0,
                 static_cast<unsigned long long>(need.per_conn),
                 static_cast<double>(avail) / 1073741824.0);
    return 1;
  }
  std::printf(
      "twtcp-scale: %llu connections + %llu TIME_WAIT entries, buffers %u + %u B, "
      "about %.2f GiB needed (%.1f GiB available)\n",
      static_cast<unsigned long long>(o.connections), static_cast<unsigned long long>(o.timewait),
      o.buf, o.buf, static_cast<double>(need.total) / 1073741824.0,
      static_cast<double>(avail) / 1073741824.0);
  std::printf("sizeof: ConnEntry %zu, Callbacks %zu, TwEntry %zu\n", sizeof(tcp::ConnEntry),
              sizeof(Callbacks), sizeof(tcp::TwEntry));
  std::fflush(stdout);

  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(o.max_seconds * 1000));
  RunResult small_r;
  {
    Run run(o, small_c, small_t, deadline);
    small_r = run.go();
  }
  if (!small_r.error.empty()) {
    std::fprintf(stderr, "twtcp-scale: small run: %s\n", small_r.error.c_str());
    return 1;
  }
  print_run("small", small_r);
  std::fflush(stdout);
  // Give the small run's memory back, so the full run's RSS deltas are its own.
  ::malloc_trim(0);
  // Never destroyed: its teardown (millions of frees) is no part of the figures; _Exit below.
  Run* big_run = new Run(o, o.connections, o.timewait, deadline);
  const RunResult big_r = big_run->go();
  if (!big_r.error.empty()) {
    std::fprintf(stderr, "twtcp-scale: %s\n", big_r.error.c_str());
    return 1;
  }
  print_run("full", big_r);
  const Ratios one = ratios(big_r.one, small_r.one);
  const Ratios burst = ratios(big_r.burst, small_r.burst);
  print_ratios(" (CPU time per segment)", one);
  print_ratios(", bursts of 32", burst);
  if (!o.json.empty()) {
    std::FILE* f = std::fopen(o.json.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "twtcp-scale: cannot write %s\n", o.json.c_str());
      return 1;
    }
    std::fprintf(f, "{\"buf_bytes\":%u,\"inputs\":%llu,\"repeat\":%d,\"small\":", o.buf,
                 static_cast<unsigned long long>(o.inputs), o.repeat);
    json_run(f, small_r);
    std::fprintf(f, ",\"full\":");
    json_run(f, big_r);
    std::fprintf(f, ",\"ratio\":");
    json_ratios(f, one);
    std::fprintf(f, ",\"ratio_burst\":");
    json_ratios(f, burst);
    std::fprintf(f, "}\n");
    std::fclose(f);
  }
  std::fflush(stdout);
  std::_Exit(0);  // skip freeing millions of connection slots
}
