// twtcp-client: a load generator of short connections on a twtcp Stack over a DPDK port:
// connect, send a request, read the response, close; with concurrency, a rate, a count or a
// duration, and a choice of who closes first (so TIME_WAIT lands on the side under test).
#include <rte_lcore.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/histogram.hpp"
#include "common/netif.hpp"
#include "common/telemetry.hpp"
#include "dpdk/clock.hpp"
#include "dpdk/eal.hpp"
#include "dpdk/port.hpp"
#include "twtcp/stack.hpp"

namespace {
using namespace twtcp;

constexpr const char* kUsage =
    "usage: twtcp-client [EAL args --] --ip A.B.C.D/LEN --target A.B.C.D:PORT [options]\n"
    "Short connections (connect, request, response, close) from a twtcp Stack on a DPDK port.\n"
    "One Stack per EAL lcore (-l 0,1,...), flows spread by the NIC's RSS or in software;\n"
    "without EAL args: -l 0 --no-huge --no-pci -m 512 (one lcore).\n"
    "  --ip A.B.C.D/LEN      our address and prefix\n"
    "  --gateway A.B.C.D     next hop for an off-link target\n"
    "  --target A.B.C.D:PORT the server\n"
    "  --concurrency N       connections in flight, 1..1000000 (default 1)\n"
    "  --rate R              new connections per second at most, 0 = unlimited (default 0)\n"
    "  --connections N       stop after N completed or failed connections\n"
    "  --duration S          stop after S seconds (default 10 unless --connections)\n"
    "  --close client|server who closes first: client sends HTTP/1.1 keep-alive and closes\n"
    "                        after the response (TIME_WAIT here); server sends HTTP/1.0 and\n"
    "                        closes when the server does (default server)\n"
    "  --request-bytes N     request size, padded with a header (default: minimal request)\n"
    "  --config FILE, --set KEY=VALUE   configuration (repeatable, later wins)\n"
    "  --stats-json FILE     summary and counters {\"Tcp\":..,\"TcpExt\":..,\"twtcp\":..};\n"
    "                        twtcp.per_second has completed and EADDRNOTAVAIL of each\n"
    "                        whole second (the per-second line's figures, first 86400 s)\n"
    "  --pcap FILE           pcapng of every frame received and sent\n"
    "  --port-id N           DPDK port to use (default: the first)\n"
    "  --quiet               no per-second line\n"
    "  --help, --version\n"
    "Ctrl-C stops and reports; a second Ctrl-C exits at once.\n"
    "Exit status: 0 ok (some connection completed), 1 DPDK/I-O failure or nothing completed,\n"
    "2 bad flags or configuration.\n";

int fail(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "twtcp-client: %s\n", msg.c_str());
  return code;
}

struct Options {
  app::Ipv4Prefix ip;
  bool ip_given = false;
  std::uint32_t gateway = 0;
  std::uint32_t target = 0;
  std::uint16_t target_port = 0;
  std::uint32_t concurrency = 1, rate = 0;
  std::uint64_t connections = 0;
  std::uint32_t duration_s = 0;
  bool client_closes = false;
  std::uint32_t request_bytes = 0;
  std::vector<std::string> config_files, sets;
  std::string stats_json, pcap;
  std::uint16_t port_id = UINT16_MAX;
  bool quiet = false;
};

int parse(const std::vector<std::string>& args, Options& o) {
  std::vector<std::string> seen;
  auto once = [&](const std::string& flag) {
    if (std::find(seen.begin(), seen.end(), flag) != seen.end()) return false;
    seen.push_back(flag);
    return true;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const std::string* v = i + 1 < args.size() ? &args[i + 1] : nullptr;
    auto take = [&]() -> const std::string* {
      if (v != nullptr) ++i;
      return v;
    };
    const bool repeatable = a == "--config" || a == "--set" || a == "--quiet";
    if (a.rfind("--", 0) == 0 && !repeatable && a != "--help" && a != "--version" && !once(a)) {
      return fail(a + " given twice");
    }
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    } else if (a == "--version") {
      std::puts("twtcp-client 0.1.0");
      return -1;
    } else if (a == "--ip") {
      const std::string* x = take();
      if (x == nullptr || !app::parse_prefix(*x, o.ip)) return fail("--ip needs A.B.C.D/LEN");
      o.ip_given = true;
    } else if (a == "--gateway") {
      const std::string* x = take();
      if (x == nullptr || !app::parse_ipv4(*x, o.gateway)) return fail("--gateway needs A.B.C.D");
    } else if (a == "--target") {
      const std::string* x = take();
      if (x == nullptr || !app::parse_endpoint(*x, o.target, o.target_port)) {
        return fail("--target needs A.B.C.D:PORT");
      }
    } else if (a == "--concurrency") {
      const std::string* x = take();
      if (x == nullptr || !app::parse_uint<std::uint32_t>(*x, 1, 1'000'000, o.concurrency)) {
        return fail("--concurrency needs 1..1000000");
      }
    } else if (a == "--rate") {
      const std::string* x = take();
      if (x == nullptr || !app::parse_uint<std::uint32_t>(*x, 0, 100'000'000, o.rate)) {
        return fail("--rate needs connections per second 0..100000000");
      }
    } else if (a == "--connections") {
      const std::string* x = take();
      if (x == nullptr ||
          !app::parse_uint<std::uint64_t>(*x, 1, 1'000'000'000'000ULL, o.connections)) {
        return fail("--connections needs 1..1000000000000");
      }
    } else if (a == "--duration") {
      const std::string* x = take();
      if (x == nullptr || !app::parse_uint<std::uint32_t>(*x, 1, 86400 * 365, o.duration_s)) {
        return fail("--duration needs seconds 1..31536000");
      }
    } else if (a == "--close") {
      const std::string* x = take();
      if (x == nullptr || (*x != "client" && *x != "server")) {
        return fail("--close needs client or server");
      }
      o.client_closes = *x == "client";
    } else if (a == "--request-bytes") {
      const std::string* x = take();
      if (x == nullptr || !app::parse_uint<std::uint32_t>(*x, 1, 1u << 20, o.request_bytes)) {
        return fail("--request-bytes needs 1..1048576");
      }
    } else if (a == "--config") {
      const std::string* x = take();
      if (x == nullptr || x->empty()) return fail("--config needs a FILE");
      o.config_files.push_back(*x);
    } else if (a == "--set") {
      const std::string* x = take();
      if (x == nullptr || x->empty()) return fail("--set needs KEY=VALUE");
      o.sets.push_back(*x);
    } else if (a == "--stats-json") {
      const std::string* x = take();
      if (x == nullptr || x->empty()) return fail("--stats-json needs a FILE");
      o.stats_json = *x;
    } else if (a == "--pcap") {
      const std::string* x = take();
      if (x == nullptr || x->empty()) return fail("--pcap needs a FILE");
      o.pcap = *x;
    } else if (a == "--port-id") {
      const std::string* x = take();
      if (x == nullptr || !app::parse_uint<std::uint16_t>(*x, 0, 1023, o.port_id)) {
        return fail("--port-id needs a DPDK port number 0..1023");
      }
    } else if (a == "--quiet") {
      o.quiet = true;
    } else {
      return fail("unknown argument '" + a + "' (see --help)");
    }
  }
  if (!o.ip_given) return fail("--ip A.B.C.D/LEN is required");
  if (o.target_port == 0) return fail("--target A.B.C.D:PORT is required");
  if (o.duration_s == 0 && o.connections == 0) o.duration_s = 10;
  return 0;
}

// Per-connection state, indexed by the connection's pool slot.
struct Session {
  ConnId id = 0;
  std::uint64_t started_us = 0, request_sent_us = 0;
  std::uint32_t request_left = 0;  // bytes of the request not yet accepted by send()
  // Response parsing: header bytes seen (to find Content-Length), body bytes expected.
  std::array<char, 512> head{};
  std::uint16_t head_len = 0;
  std::uint32_t tail = 0;
  bool in_body = false;
  std::int64_t body_left = -1;  // -1: unknown, until the server's FIN
  bool done = false;            // response complete
  bool close_sent = false;
};

struct Tally {
  std::uint64_t started = 0, completed = 0, eaddrnotavail = 0, enobufs = 0;
  std::uint64_t refused = 0, reset = 0, timeout = 0, other = 0, incomplete = 0;
  [[nodiscard]] std::uint64_t failed() const {
    return refused + reset + timeout + other + incomplete;
  }
  Tally& operator+=(const Tally& o) {
    started += o.started;
    completed += o.completed;
    eaddrnotavail += o.eaddrnotavail;
    enobufs += o.enobufs;
    refused += o.refused;
    reset += o.reset;
    timeout += o.timeout;
    other += o.other;
    incomplete += o.incomplete;
    return *this;
  }
};

class Client {
 public:
  Client(const Options& o, Stack& stack, std::size_t max_conns)
      : o_(o), stack_(stack), sessions_(max_conns) {
    request_ = o.client_closes ? "GET / HTTP/1.1\r\nHost: twtcp\r\nConnection: keep-alive\r\n"
                               : "GET / HTTP/1.0\r\nHost: twtcp\r\n";
    if (o.request_bytes > request_.size() + 2) {
      const std::size_t pad = o.request_bytes - request_.size() - 2 - 9;  // "X-Pad: " + CRLF
      if (o.request_bytes >= request_.size() + 2 + 9)
        request_ += "X-Pad: " + std::string(pad, 'p') + "\r\n";
    }
    request_ += "\r\n";
    opts_.callbacks.on_connected = [this](ConnId id) { connected(id); };
    opts_.callbacks.on_writable = [this](ConnId id) { send_request(id, session(id)); };
    opts_.callbacks.on_readable = [this](ConnId id) { readable(id); };
    opts_.callbacks.on_peer_closed = [this](ConnId id) {
      Session& s = session(id);
      readable(id);
      if (s.in_body && s.body_left < 0) finish(s);  // length by connection close
      stack_.close(id);
    };
    opts_.callbacks.on_closed = [this](ConnId id, CloseReason why) { closed(id, why); };
    // Shared by every connection this client opens: no copy or allocation per connect().
    opts_.shared_callbacks = std::make_shared<const Callbacks>(std::move(opts_.callbacks));
  }

  // Starts connections while below concurrency, the rate allows and the count is not done.
  void start(std::uint64_t now_us, std::uint64_t allowed_total) {
    while (open_ < o_.concurrency && tally_.started < allowed_total &&
           (o_.connections == 0 || tally_.started < o_.connections) && now_us >= retry_at_) {
      now_ = now_us;
      const ConnectResult r = stack_.connect(o_.target, o_.target_port, opts_);
      if (!r.ok()) {
        if (r.error == kEaddrnotavail) {
          ++tally_.eaddrnotavail;
        } else {
          ++tally_.enobufs;
        }
        retry_at_ = now_us + 1000;  // like a client backing off 1 ms
        return;
      }
      ++tally_.started;
      ++open_;
      Session& s = session(r.id);
      s = Session{};
      s.id = r.id;
      s.started_us = now_us;
    }
  }
  void set_now(std::uint64_t now) { now_ = now; }
  [[nodiscard]] const Tally& tally() const { return tally_; }
  [[nodiscard]] std::uint32_t open() const { return open_; }
  [[nodiscard]] const app::Histogram& connect_us() const { return connect_h_; }
  [[nodiscard]] const app::Histogram& response_us() const { return response_h_; }
  [[nodiscard]] bool finished_count() const {
    return o_.connections != 0 && tally_.completed + tally_.failed() >= o_.connections;
  }

 private:
  Session& session(ConnId id) { return sessions_[(id & 0xffffffffu) % sessions_.size()]; }

  void connected(ConnId id) {
    Session& s = session(id);
    connect_h_.record(now_ - s.started_us);
    s.request_left = static_cast<std::uint32_t>(request_.size());
    send_request(id, s);
  }
  void send_request(ConnId id, Session& s) {
    if (s.request_left == 0) return;
    const std::size_t off = request_.size() - s.request_left;
    s.request_left -= static_cast<std::uint32_t>(stack_.send(
        id, {reinterpret_cast<const std::uint8_t*>(request_.data()) + off, s.request_left}));
    if (s.request_left == 0) s.request_sent_us = now_;
  }
  void readable(ConnId id) {
    Session& s = session(id);
    std::array<std::uint8_t, 16384> buf;
    while (std::size_t n = stack_.recv(id, buf)) {
      for (std::size_t k = 0; k < n && !s.done; ++k) {
        const std::uint8_t c = buf[k];
        if (s.in_body) {
          if (s.body_left > 0) {
            const std::size_t take =
                std::min<std::size_t>(static_cast<std::size_t>(s.body_left), n - k);
            s.body_left -= static_cast<std::int64_t>(take);
            k += take - 1;
            if (s.body_left == 0) finish(s);
          }
          continue;
        }
        if (s.head_len < s.head.size()) s.head[s.head_len++] = static_cast<char>(c);
        s.tail = (s.tail << 8) | c;
        if (s.tail == 0x0d0a0d0au) {
          s.in_body = true;
          s.body_left = content_length({s.head.data(), s.head_len});
          if (s.body_left == 0) finish(s);
        }
      }
    }
    if (s.done && o_.client_closes && !s.close_sent) {
      s.close_sent = true;
      stack_.close(id);
    }
  }
  static std::int64_t content_length(std::string_view head) {
    static constexpr std::string_view kKey = "content-length:";
    for (std::size_t i = 0; i + kKey.size() <= head.size(); ++i) {
      bool match = true;
      for (std::size_t j = 0; j < kKey.size() && match; ++j) {
        match = std::tolower(static_cast<unsigned char>(head[i + j])) == kKey[j];
      }
      if (!match) continue;
      std::size_t p = i + kKey.size();
      while (p < head.size() && head[p] == ' ') ++p;
      std::int64_t v = 0;
      bool any = false;
      while (p < head.size() && head[p] >= '0' && head[p] <= '9') {
        v = v * 10 + (head[p++] - '0');
        any = true;
      }
      return any ? v : -1;
    }
    return -1;
  }
  void finish(Session& s) {
    if (s.done) return;
    s.done = true;
    response_h_.record(now_ - (s.request_sent_us ? s.request_sent_us : s.started_us));
  }
  void closed(ConnId id, CloseReason why) {
    Session& s = session(id);
    --open_;
    if (s.done) {
      ++tally_.completed;
    } else {
      switch (why) {
        case CloseReason::kRefused:
          ++tally_.refused;
          break;
        case CloseReason::kPeerReset:
          ++tally_.reset;
          break;
        case CloseReason::kTimeout:
          ++tally_.timeout;
          break;
        case CloseReason::kNormal:
          ++tally_.incomplete;
          break;
        default:
          ++tally_.other;
          break;
      }
    }
    s.id = 0;
  }

  const Options& o_;
  Stack& stack_;
  std::vector<Session> sessions_;
  std::string request_;
  ConnectOptions opts_;
  Tally tally_;
  std::uint32_t open_ = 0;
  std::uint64_t now_ = 0, retry_at_ = 0;
  app::Histogram connect_h_, response_h_;
};

std::string latency_json(const app::Histogram& h) {
  char b[256];
  std::snprintf(b, sizeof b,
                "{\"count\": %llu, \"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"p99.9\": %llu, "
                "\"max\": %llu, \"mean\": %.1f}",
                static_cast<unsigned long long>(h.count()),
                static_cast<unsigned long long>(h.percentile(0.5)),
                static_cast<unsigned long long>(h.percentile(0.9)),
                static_cast<unsigned long long>(h.percentile(0.99)),
                static_cast<unsigned long long>(h.percentile(0.999)),
                static_cast<unsigned long long>(h.max()), h.mean());
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string prefix = "--file-prefix=twtcp-client-" + std::to_string(getpid());
  const auto split = dpdk::split_args(
      argc, argv,
      {"-l", "0", "--no-huge", "--no-pci", "-m", "512", "--log-level", "error", prefix});
  Options o;
  if (const int rc = parse(split.program, o); rc != 0) return rc < 0 ? 0 : rc;
  std::string err;
  auto cfg = app::load_config(o.config_files, o.sets, &err);
  if (!cfg) return fail(err);

  dpdk::Eal eal(split.eal);
  if (!eal.ok()) return fail(eal.error(), 1);
  // One worker per EAL lcore (-l), each with its own Stack and its share of --concurrency,
  // --connections and --rate; connect() on each picks only source ports whose answers RSS
  // (the NIC's, or software) brings back to its own queue.
  const auto workers = static_cast<std::uint16_t>(rte_lcore_count());
  auto host =
      app::Host::open({o.ip.addr, o.ip.len, o.gateway, o.port_id, o.pcap, workers}, *cfg, &err);
  if (!host) return fail(err, 1);
  dpdk::Port& port = host->port();
  const std::uint16_t port_id = port.id();
  auto share = [&](std::uint64_t total, std::uint16_t w) {
    return total / workers + (w < total % workers ? 1 : 0);
  };
  std::vector<Options> worker_options(workers, o);
  std::vector<std::unique_ptr<Client>> clients;
  // A worker whose share of the concurrency, the connection count or the rate is zero opens
  // nothing (its queue still runs) and counts as finished from the start.
  std::vector<char> idle(workers, 0);
  for (std::uint16_t w = 0; w < workers; ++w) {
    Options& ow = worker_options[w];
    ow.concurrency = static_cast<std::uint32_t>(share(o.concurrency, w));
    ow.connections = o.connections ? share(o.connections, w) : 0;
    ow.rate = static_cast<std::uint32_t>(share(o.rate, w));
    idle[w] = ow.concurrency == 0 || (o.connections != 0 && ow.connections == 0) ||
              (o.rate != 0 && ow.rate == 0);
    if (idle[w]) ow.concurrency = 0;
    clients.push_back(std::make_unique<Client>(ow, host->stack(w),
                                               static_cast<std::size_t>(cfg->max_connections)));
  }
  std::fprintf(stderr, "twtcp-client: %s/%u on port %u (%s", app::ipv4_str(o.ip.addr).c_str(),
               o.ip.len, port_id, port.driver().c_str());
  if (workers > 1) {
    std::fprintf(stderr, ", %u lcores, %s RSS", workers,
                 port.hardware_rss() ? "hardware" : "software");
  }
  std::fprintf(stderr, ") -> %s:%u, ready\n", app::ipv4_str(o.target).c_str(), o.target_port);

  app::Telemetry telemetry(*cfg, workers);
  app::install_stop_signals();
  const std::uint64_t start = host->clock().now_us();
  const std::uint64_t end =
      o.duration_s ? start + std::uint64_t{o.duration_s} * 1'000'000 : UINT64_MAX;
  // What each worker shows the main lcore (single writer each, relaxed).
  struct Shown {
    std::atomic<std::uint64_t> completed{0}, eaddrnotavail{0}, refused{0}, reset{0}, timeout{0},
        other{0}, open{0}, timewait{0};
    std::atomic<bool> finished{false};
  };
  std::vector<Shown> shown(workers);
  // Completed connects and EADDRNOTAVAIL of each whole second, for --stats-json (the first
  // kMaxSeconds seconds: a day's worth, 2.7 MB at most).
  constexpr std::size_t kMaxSeconds = 86400;
  std::vector<std::uint64_t> completed_per_s, eaddrnotavail_per_s;
  completed_per_s.reserve(std::min<std::size_t>(o.duration_s ? o.duration_s + 1 : 60, kMaxSeconds));
  eaddrnotavail_per_s.reserve(completed_per_s.capacity());
  std::vector<std::uint64_t> last_now(workers, start);

  auto run_worker = [&](std::uint16_t w) {
    dpdk::TscClock clock = host->clock();  // a copy per lcore: now_us() keeps state
    app::NetIf& netif = host->netif(w);
    Stack& stack = host->stack(w);
    Client& client = *clients[w];
    const Options& ow = worker_options[w];
    Shown& me = shown[w];
    std::uint64_t now = start, next_line = start + 1'000'000;
    std::uint64_t last_completed = 0, last_eaddrnotavail = 0;
    if (idle[w]) me.finished.store(true, std::memory_order_release);
    auto all_finished = [&] {
      for (const Shown& x : shown) {
        if (!x.finished.load(std::memory_order_acquire)) return false;
      }
      return true;
    };
    // Every worker polls until all are done: worker 0 prints each second for everyone, and a
    // worker done early must still answer its connections' last segments (the software RSS
    // would otherwise hold its frames in a ring nobody reads).
    while (!app::stop_requested() && now < end && !all_finished()) {
      // Received frames first, then timers (both in poll), then new connections: after the
      // loop was descheduled, an ACK waiting in the RX ring must be seen before the RTO it
      // would cancel fires (timers first meant a spurious retransmission), and connect()
      // sees the TIME_WAIT entries the FINs just read made.
      now = clock.now_us();
      client.set_now(now);
      netif.poll(stack, now);
      const std::uint64_t allowed =
          ow.rate == 0 ? UINT64_MAX : (now - start) * ow.rate / 1'000'000 + 1;
      client.start(now, allowed);
      netif.flush();  // the SYNs start() queued
      const Tally& t = client.tally();
      me.completed.store(t.completed, std::memory_order_relaxed);
      me.eaddrnotavail.store(t.eaddrnotavail, std::memory_order_relaxed);
      me.refused.store(t.refused, std::memory_order_relaxed);
      me.reset.store(t.reset, std::memory_order_relaxed);
      me.timeout.store(t.timeout, std::memory_order_relaxed);
      me.other.store(t.other + t.incomplete, std::memory_order_relaxed);
      me.open.store(client.open(), std::memory_order_relaxed);
      me.timewait.store(stack.timewait_count(), std::memory_order_relaxed);
      if (client.finished_count()) me.finished.store(true, std::memory_order_release);
      if (telemetry.due(now, w)) {
        auto rows = netif.counter_rows();
        rows.insert(rows.begin(), {{"completed", t.completed},
                                   {"started", t.started},
                                   {"failed", t.failed()},
                                   {"eaddrnotavail", t.eaddrnotavail},
                                   {"open", client.open()},
                                   {"timewait_entries", stack.timewait_count()}});
        telemetry.publish(stack, now, rows, w);
      }
      if (w == 0 && now >= next_line) {
        next_line += 1'000'000;
        std::uint64_t done = 0, eaddr = 0, refused = 0, reset = 0, timeout = 0, other = 0, open = 0,
                      tw = 0;
        for (const Shown& x : shown) {
          done += x.completed.load(std::memory_order_relaxed);
          eaddr += x.eaddrnotavail.load(std::memory_order_relaxed);
          refused += x.refused.load(std::memory_order_relaxed);
          reset += x.reset.load(std::memory_order_relaxed);
          timeout += x.timeout.load(std::memory_order_relaxed);
          other += x.other.load(std::memory_order_relaxed);
          open += x.open.load(std::memory_order_relaxed);
          tw += x.timewait.load(std::memory_order_relaxed);
        }
        if (completed_per_s.size() < kMaxSeconds) {
          completed_per_s.push_back(done - last_completed);
          eaddrnotavail_per_s.push_back(eaddr - last_eaddrnotavail);
        }
        if (!o.quiet) {
          std::fprintf(
              stderr,
              "%6.1fs conn/s %llu  open %llu  failed: refused %llu reset %llu timeout "
              "%llu other %llu  EADDRNOTAVAIL %llu  TIME_WAIT %llu\n",
              static_cast<double>(now - start) / 1e6,
              static_cast<unsigned long long>(done - last_completed),
              static_cast<unsigned long long>(open), static_cast<unsigned long long>(refused),
              static_cast<unsigned long long>(reset), static_cast<unsigned long long>(timeout),
              static_cast<unsigned long long>(other), static_cast<unsigned long long>(eaddr),
              static_cast<unsigned long long>(tw));
        }
        last_completed = done;
        last_eaddrnotavail = eaddr;
      }
    }
    me.finished.store(true, std::memory_order_release);
    last_now[w] = now;
    // Let the last closes go out (bounded: 200 ms).
    for (const std::uint64_t stop = clock.now_us() + 200'000; clock.now_us() < stop;) {
      netif.poll(stack, clock.now_us());
    }
  };
  host->run_workers(run_worker);

  const std::uint64_t now = *std::max_element(last_now.begin(), last_now.end());
  const double secs = static_cast<double>(now - start) / 1e6;
  Tally t;
  app::Histogram ch, rh;
  StackCounters counters;
  std::size_t timewait = 0;
  std::string per_lcore = "[";
  for (std::uint16_t w = 0; w < workers; ++w) {
    t += clients[w]->tally();
    ch.merge(clients[w]->connect_us());
    rh.merge(clients[w]->response_us());
    counters += host->stack(w).counters();
    timewait += host->stack(w).timewait_count();
    per_lcore += (w ? ", " : "") + std::to_string(clients[w]->tally().completed);
  }
  per_lcore += "]";
  std::printf(
      "twtcp-client: %llu connections in %.2f s = %.0f/s; failed %llu (refused %llu, reset %llu, "
      "timeout %llu, other %llu), EADDRNOTAVAIL %llu, TIME_WAIT %zu\n",
      static_cast<unsigned long long>(t.completed), secs,
      secs > 0 ? static_cast<double>(t.completed) / secs : 0.0,
      static_cast<unsigned long long>(t.failed()), static_cast<unsigned long long>(t.refused),
      static_cast<unsigned long long>(t.reset), static_cast<unsigned long long>(t.timeout),
      static_cast<unsigned long long>(t.other + t.incomplete),
      static_cast<unsigned long long>(t.eaddrnotavail), timewait);
  if (workers > 1) std::printf("completed per lcore %s\n", per_lcore.c_str());
  std::printf("connect us:  p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu\n",
              static_cast<unsigned long long>(ch.percentile(0.5)),
              static_cast<unsigned long long>(ch.percentile(0.9)),
              static_cast<unsigned long long>(ch.percentile(0.99)),
              static_cast<unsigned long long>(ch.percentile(0.999)),
              static_cast<unsigned long long>(ch.max()));
  std::printf("response us: p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu\n",
              static_cast<unsigned long long>(rh.percentile(0.5)),
              static_cast<unsigned long long>(rh.percentile(0.9)),
              static_cast<unsigned long long>(rh.percentile(0.99)),
              static_cast<unsigned long long>(rh.percentile(0.999)),
              static_cast<unsigned long long>(rh.max()));
  if (!o.stats_json.empty()) {
    auto u = [](std::uint64_t v) { return std::to_string(v); };
    auto list = [&](const std::vector<std::uint64_t>& v) {
      std::string out = "[";
      for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + u(v[i]);
      return out + "]";
    };
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f",
                  secs > 0 ? static_cast<double>(t.completed) / secs : 0.0);
    std::vector<std::pair<std::string, std::string>> extra{
        {"completed", u(t.completed)},
        {"started", u(t.started)},
        {"seconds", std::to_string(secs)},
        {"connections_per_s", rate},
        {"failed", "{\"refused\": " + u(t.refused) + ", \"reset\": " + u(t.reset) +
                       ", \"timeout\": " + u(t.timeout) +
                       ", \"other\": " + u(t.other + t.incomplete) + "}"},
        {"eaddrnotavail", u(t.eaddrnotavail)},
        {"per_second", "{\"completed\": " + list(completed_per_s) +
                           ", \"eaddrnotavail\": " + list(eaddrnotavail_per_s) + "}"},
        {"enobufs", u(t.enobufs)},
        {"timewait_entries", u(timewait)},
        {"lcores", u(workers)},
        {"completed_per_lcore", per_lcore},
        {"connect_latency_us", latency_json(ch)},
        {"response_latency_us", latency_json(rh)}};
    for (const auto& [k, v] : host->counter_rows()) extra.emplace_back(k, u(v));
    const std::string json = app::counters_json(counters, extra) + "\n";
    if (!app::write_file(o.stats_json, json, &err)) return fail(err, 1);
  }
  return t.completed > 0 ? 0 : 1;
}
