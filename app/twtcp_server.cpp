// twtcp-server: a twtcp Stack on a DPDK port, serving HTTP (a fixed response), echo or
// discard on one or more TCP ports. With HTTP/1.0 or "Connection: close" the server closes
// first, so TIME_WAIT is on our side: the policy under test is the server's.
#include <rte_lcore.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/netif.hpp"
#include "common/telemetry.hpp"
#include "dpdk/clock.hpp"
#include "dpdk/eal.hpp"
#include "dpdk/port.hpp"
#include "twtcp/stack.hpp"

namespace {
using namespace twtcp;

constexpr const char* kUsage =
    "usage: twtcp-server [EAL args --] --ip A.B.C.D/LEN --port N [options]\n"
    "A twtcp Stack on a DPDK port (the first one, or --port-id), e.g. with EAL args\n"
    "  --vdev net_tap0,iface=dtap0 --no-huge --no-pci -m 512 --\n"
    "One Stack per EAL lcore (-l 0,1,...), flows spread by the NIC's RSS or in software;\n"
    "without EAL args: -l 0 --no-huge --no-pci -m 512 (one lcore).\n"
    "  --ip A.B.C.D/LEN      our address and prefix (ARP answered, ping answered)\n"
    "  --gateway A.B.C.D     next hop for off-link peers\n"
    "  --port N[:MODE]       TCP port to listen on (repeatable); MODE overrides --mode\n"
    "  --mode http|echo|discard   default http\n"
    "  --response-bytes N    HTTP body size, 0..16777216 (default 128)\n"
    "  --config FILE         sysctl.conf-style configuration (repeatable, later wins)\n"
    "  --set KEY=VALUE       one setting (repeatable, after the files)\n"
    "  --duration S          stop after S seconds (default: until Ctrl-C)\n"
    "  --stats-json FILE     final counters {\"Tcp\":..,\"TcpExt\":..,\"twtcp\":..}\n"
    "  --pcap FILE           pcapng of every frame received and sent\n"
    "  --port-id N           DPDK port to use (default: the first)\n"
    "  --quiet               no per-second line\n"
    "  --help, --version\n"
    "HTTP/1.0 (or Connection: close) closes after the response: the server closes first.\n"
    "Ctrl-C stops, prints and writes the counters; a second Ctrl-C exits at once.\n"
    "Exit status: 0 ok, 1 DPDK or I/O failure, 2 bad flags or configuration.\n";

int fail(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "twtcp-server: %s\n", msg.c_str());
  return code;
}

enum class Mode { kHttp, kEcho, kDiscard };

bool parse_mode(std::string_view s, Mode& m) {
  if (s == "http") {
    m = Mode::kHttp;
  } else if (s == "echo") {
    m = Mode::kEcho;
  } else if (s == "discard") {
    m = Mode::kDiscard;
  } else {
    return false;
  }
  return true;
}

struct Listen {
  std::uint16_t port = 0;
  std::optional<Mode> mode;  // unset: --mode
};

struct Options {
  app::Ipv4Prefix ip;
  bool ip_given = false;
  std::uint32_t gateway = 0;
  std::vector<Listen> ports;
  Mode mode = Mode::kHttp;
  std::uint32_t response_bytes = 128;
  std::vector<std::string> config_files, sets;
  std::uint32_t duration_s = 0;
  std::string stats_json, pcap;
  std::uint16_t port_id = UINT16_MAX;
  bool quiet = false;
};

// -1: printed help/version (exit 0); 0: ok; else the exit status after one line.
int parse(const std::vector<std::string>& args, Options& o) {
  bool mode_given = false, rb_given = false, dur_given = false, gw_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const std::string* v = i + 1 < args.size() ? &args[i + 1] : nullptr;
    auto take = [&]() -> const std::string* {
      if (v != nullptr) ++i;
      return v;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    } else if (a == "--version") {
      std::puts("twtcp-server 0.1.0");
      return -1;
    } else if (a == "--ip") {
      const std::string* x = take();
      if (o.ip_given) return fail("--ip given twice");
      if (x == nullptr || !app::parse_prefix(*x, o.ip)) return fail("--ip needs A.B.C.D/LEN");
      o.ip_given = true;
    } else if (a == "--gateway") {
      const std::string* x = take();
      if (gw_given) return fail("--gateway given twice");
      if (x == nullptr || !app::parse_ipv4(*x, o.gateway)) return fail("--gateway needs A.B.C.D");
      gw_given = true;
    } else if (a == "--port") {
      const std::string* x = take();
      Listen l;
      const std::string_view spec = x != nullptr ? std::string_view(*x) : std::string_view();
      const auto colon = spec.find(':');
      if (x == nullptr ||
          !app::parse_uint<std::uint16_t>(spec.substr(0, colon), 1, 65535, l.port)) {
        return fail("--port needs a TCP port 1..65535, optionally :http, :echo or :discard");
      }
      if (colon != std::string_view::npos) {
        Mode m{};
        if (!parse_mode(spec.substr(colon + 1), m)) {
          return fail("--port " + *x + ": mode must be http, echo or discard");
        }
        l.mode = m;
      }
      for (const Listen& other : o.ports) {
        if (other.port == l.port) return fail("--port " + std::to_string(l.port) + " given twice");
      }
      o.ports.push_back(l);
    } else if (a == "--mode") {
      const std::string* x = take();
      if (mode_given) return fail("--mode given twice");
      mode_given = true;
      if (x == nullptr || !parse_mode(*x, o.mode))
        return fail("--mode needs http, echo or discard");
    } else if (a == "--response-bytes") {
      const std::string* x = take();
      if (rb_given) return fail("--response-bytes given twice");
      rb_given = true;
      if (x == nullptr || !app::parse_uint<std::uint32_t>(*x, 0, 1u << 24, o.response_bytes)) {
        return fail("--response-bytes needs 0..16777216");
      }
    } else if (a == "--config") {
      const std::string* x = take();
      if (x == nullptr || x->empty()) return fail("--config needs a FILE");
      o.config_files.push_back(*x);
    } else if (a == "--set") {
      const std::string* x = take();
      if (x == nullptr || x->empty()) return fail("--set needs KEY=VALUE");
      o.sets.push_back(*x);
    } else if (a == "--duration") {
      const std::string* x = take();
      if (dur_given) return fail("--duration given twice");
      dur_given = true;
      if (x == nullptr || !app::parse_uint<std::uint32_t>(*x, 1, 86400 * 365, o.duration_s)) {
        return fail("--duration needs seconds 1..31536000");
      }
    } else if (a == "--stats-json") {
      const std::string* x = take();
      if (x == nullptr || x->empty()) return fail("--stats-json needs a FILE");
      if (!o.stats_json.empty()) return fail("--stats-json given twice");
      o.stats_json = *x;
    } else if (a == "--pcap") {
      const std::string* x = take();
      if (x == nullptr || x->empty()) return fail("--pcap needs a FILE");
      if (!o.pcap.empty()) return fail("--pcap given twice");
      o.pcap = *x;
    } else if (a == "--port-id") {
      const std::string* x = take();
      if (o.port_id != UINT16_MAX) return fail("--port-id given twice");
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
  if (o.ports.empty()) return fail("--port N is required");
  return 0;
}

// Per-connection application state, indexed by the connection's pool slot.
struct Session {
  ConnId id = 0;
  Mode mode = Mode::kHttp;
  // HTTP: bytes of the response still to send, requests waiting for theirs, and the tail of
  // what was read (to find "\r\n\r\n" across segments) plus the current request's head.
  std::uint64_t resp_left = 0;
  std::uint32_t requests_waiting = 0;
  std::uint32_t tail = 0;  // last 4 bytes read, big-endian
  bool close_after = false;
  bool peer_closed = false;
  std::array<char, 256> head{};
  std::uint16_t head_len = 0;
  // Echo: bytes read but not yet accepted by send().
  std::unique_ptr<std::uint8_t[]> backlog;
  std::uint32_t backlog_off = 0, backlog_len = 0;
};

class Server {
 public:
  Server(const Options& o, Stack& stack, std::size_t max_conns)
      : o_(o), stack_(stack), sessions_(max_conns) {
    header_close_ =
        "HTTP/1.1 200 OK\r\nServer: twtcp\r\nContent-Length: " + std::to_string(o.response_bytes) +
        "\r\nConnection: close\r\n\r\n";
    header_keep_ =
        "HTTP/1.1 200 OK\r\nServer: twtcp\r\nContent-Length: " + std::to_string(o.response_bytes) +
        "\r\nConnection: keep-alive\r\n\r\n";
    body_.assign(std::min<std::size_t>(o.response_bytes, 65536), 'x');
    for (std::size_t i = 0; i < body_.size(); ++i) body_[i] = static_cast<char>('a' + i % 26);
  }

  Callbacks callbacks(Mode mode) {
    Callbacks cb;
    cb.on_accepted = [this, mode](ConnId id) {
      Session& s = session(id);
      s = Session{};
      s.id = id;
      s.mode = mode;
      ++accepted_;
    };
    cb.on_readable = [this](ConnId id) { readable(id); };
    cb.on_writable = [this](ConnId id) { writable(id); };
    cb.on_peer_closed = [this](ConnId id) {
      Session& s = session(id);
      s.peer_closed = true;
      readable(id);
      if (s.resp_left == 0 && s.backlog_len == 0 && s.requests_waiting == 0) stack_.close(id);
    };
    cb.on_closed = [this](ConnId id, CloseReason why) {
      Session& s = session(id);
      if (why != CloseReason::kNormal) ++abnormal_;
      s.backlog.reset();
      s.id = 0;
      ++closed_;
    };
    return cb;
  }

  std::uint64_t accepted() const { return accepted_; }
  std::uint64_t closed() const { return closed_; }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t abnormal() const { return abnormal_; }

 private:
  Session& session(ConnId id) { return sessions_[(id & 0xffffffffu) % sessions_.size()]; }

  void readable(ConnId id) {
    Session& s = session(id);
    std::array<std::uint8_t, 16384> buf;
    switch (s.mode) {
      case Mode::kDiscard:
        while (stack_.recv(id, buf) > 0) {
        }
        return;
      case Mode::kEcho:
        echo(id, s);
        return;
      case Mode::kHttp:
        while (std::size_t n = stack_.recv(id, buf)) scan_requests(s, {buf.data(), n});
        respond(id, s);
        return;
    }
  }

  void writable(ConnId id) {
    Session& s = session(id);
    if (s.mode == Mode::kEcho) {
      echo(id, s);
    } else if (s.mode == Mode::kHttp) {
      respond(id, s);
    }
  }

  void echo(ConnId id, Session& s) {
    constexpr std::uint32_t kBacklog = 65536;
    for (;;) {
      if (s.backlog_len > 0) {
        const std::size_t sent = stack_.send(id, {s.backlog.get() + s.backlog_off, s.backlog_len});
        s.backlog_off += static_cast<std::uint32_t>(sent);
        s.backlog_len -= static_cast<std::uint32_t>(sent);
        if (s.backlog_len > 0) return;  // wait for on_writable
      }
      if (!s.backlog) s.backlog = std::make_unique<std::uint8_t[]>(kBacklog);
      const std::size_t n = stack_.recv(id, {s.backlog.get(), kBacklog});
      if (n == 0) break;
      s.backlog_off = 0;
      s.backlog_len = static_cast<std::uint32_t>(n);
    }
    if (s.peer_closed && s.backlog_len == 0) stack_.close(id);
  }

  // Counts complete request heads ("\r\n\r\n") and decides keep-alive from each head.
  void scan_requests(Session& s, std::span<const std::uint8_t> data) {
    for (std::uint8_t c : data) {
      if (s.head_len < s.head.size()) s.head[s.head_len++] = static_cast<char>(c);
      s.tail = (s.tail << 8) | c;
      if (s.tail != 0x0d0a0d0au) continue;
      ++s.requests_waiting;
      ++requests_;
      const std::string_view head(s.head.data(), s.head_len);
      if (wants_close(head)) s.close_after = true;
      s.head_len = 0;
    }
  }

  static bool icontains(std::string_view hay, std::string_view needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           }) != hay.end();
  }
  // HTTP/1.0 closes unless it asks for keep-alive; HTTP/1.1 keeps unless it asks to close.
  static bool wants_close(std::string_view head) {
    const auto eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const bool http10 = line.find("HTTP/1.0") != std::string_view::npos;
    if (icontains(head, "connection: close")) return true;
    if (http10) return !icontains(head, "connection: keep-alive");
    return false;
  }

  void respond(ConnId id, Session& s) {
    for (;;) {
      if (s.resp_left == 0) {
        if (s.requests_waiting == 0) break;
        --s.requests_waiting;
        const bool last = s.close_after && s.requests_waiting == 0;
        const std::string& h = last ? header_close_ : header_keep_;
        // Headers are small: they go whole or the connection's buffer is tiny; retry then.
        if (stack_.send(id, {reinterpret_cast<const std::uint8_t*>(h.data()), h.size()}) <
            h.size()) {
          ++s.requests_waiting;
          return;
        }
        s.resp_left = o_.response_bytes;
      }
      while (s.resp_left > 0) {
        const std::size_t chunk = std::min<std::uint64_t>(s.resp_left, body_.size());
        const std::size_t sent =
            stack_.send(id, {reinterpret_cast<const std::uint8_t*>(body_.data()), chunk});
        s.resp_left -= sent;
        if (sent < chunk) return;  // wait for on_writable
      }
    }
    if ((s.close_after || s.peer_closed) && s.resp_left == 0) stack_.close(id);
  }

  const Options& o_;
  Stack& stack_;
  std::vector<Session> sessions_;
  std::string header_close_, header_keep_, body_;
  std::uint64_t accepted_ = 0, closed_ = 0, requests_ = 0, abnormal_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string prefix = "--file-prefix=twtcp-server-" + std::to_string(getpid());
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
  // One worker per EAL lcore (-l): each its own Stack, queue pair and server (share
  // nothing); RSS, in the NIC or in software, keeps each flow on one worker.
  const auto workers = static_cast<std::uint16_t>(rte_lcore_count());
  auto host =
      app::Host::open({o.ip.addr, o.ip.len, o.gateway, o.port_id, o.pcap, workers}, *cfg, &err);
  if (!host) return fail(err, 1);
  dpdk::Port& port = host->port();
  const std::uint16_t port_id = port.id();
  std::vector<std::unique_ptr<Server>> servers;
  for (std::uint16_t w = 0; w < workers; ++w) {
    servers.push_back(std::make_unique<Server>(o, host->stack(w),
                                               static_cast<std::size_t>(cfg->max_connections)));
    for (const Listen& l : o.ports) {
      if (!host->stack(w).listen(l.port, servers[w]->callbacks(l.mode.value_or(o.mode)))) {
        return fail("cannot listen on port " + std::to_string(l.port), 1);
      }
    }
  }
  std::fprintf(stderr, "twtcp-server: %s/%u on port %u (%s", app::ipv4_str(o.ip.addr).c_str(),
               o.ip.len, port_id, port.driver().c_str());
  if (workers > 1) {
    std::fprintf(stderr, ", %u lcores, %s RSS", workers,
                 port.hardware_rss() ? "hardware" : "software");
  }
  std::fprintf(stderr, "), listening on");
  for (const Listen& l : o.ports) std::fprintf(stderr, " %u", l.port);
  std::fprintf(stderr, "\n");

  app::Telemetry telemetry(*cfg, workers);
  app::install_stop_signals();
  const std::uint64_t start = host->clock().now_us();
  const std::uint64_t end =
      o.duration_s ? start + std::uint64_t{o.duration_s} * 1'000'000 : UINT64_MAX;

  // What each worker shows the main lcore's per-second line (single writer, relaxed).
  struct Shown {
    std::atomic<std::uint64_t> accepted{0}, requests{0}, open{0}, timewait{0}, resets{0};
  };
  std::vector<Shown> shown(workers);
  auto run_worker = [&](std::uint16_t w) {
    dpdk::TscClock clock = host->clock();  // a copy per lcore: now_us() keeps state
    app::NetIf& netif = host->netif(w);
    Stack& stack = host->stack(w);
    const Server& server = *servers[w];
    std::uint64_t now = clock.now_us(), next_line = start + 1'000'000, last_accepted = 0;
    while (!app::stop_requested() && now < end) {
      now = clock.now_us();
      netif.poll(stack, now);
      if (telemetry.due(now, w)) {
        auto rows = netif.counter_rows();
        rows.insert(rows.begin(), {{"accepted", server.accepted()},
                                   {"requests", server.requests()},
                                   {"timewait_entries", stack.timewait_count()},
                                   {"connections_open", stack.connection_count()}});
        telemetry.publish(stack, now, rows, w);
        Shown& me = shown[w];
        me.accepted.store(server.accepted(), std::memory_order_relaxed);
        me.requests.store(server.requests(), std::memory_order_relaxed);
        me.open.store(stack.connection_count(), std::memory_order_relaxed);
        me.timewait.store(stack.timewait_count(), std::memory_order_relaxed);
        me.resets.store(stack.counters().OutRsts, std::memory_order_relaxed);
      }
      if (w == 0 && !o.quiet && now >= next_line) {
        next_line += 1'000'000;
        std::uint64_t acc = 0, req = 0, open = 0, tw = 0, rst = 0;
        for (const Shown& x : shown) {
          acc += x.accepted.load(std::memory_order_relaxed);
          req += x.requests.load(std::memory_order_relaxed);
          open += x.open.load(std::memory_order_relaxed);
          tw += x.timewait.load(std::memory_order_relaxed);
          rst += x.resets.load(std::memory_order_relaxed);
        }
        std::fprintf(stderr,
                     "%6.1fs accepted/s %llu  open %llu  TIME_WAIT %llu  requests %llu  resets "
                     "%llu\n",
                     static_cast<double>(now - start) / 1e6,
                     static_cast<unsigned long long>(acc - last_accepted),
                     static_cast<unsigned long long>(open), static_cast<unsigned long long>(tw),
                     static_cast<unsigned long long>(req), static_cast<unsigned long long>(rst));
        last_accepted = acc;
      }
    }
  };
  host->run_workers(run_worker);

  StackCounters c;
  std::uint64_t accepted = 0, requests = 0, closed = 0, abnormal = 0, pings = 0;
  std::size_t timewait = 0, open = 0;
  std::string per_lcore = "[";
  for (std::uint16_t k = 0; k < workers; ++k) {
    c += host->stack(k).counters();
    accepted += servers[k]->accepted();
    requests += servers[k]->requests();
    closed += servers[k]->closed();
    abnormal += servers[k]->abnormal();
    timewait += host->stack(k).timewait_count();
    open += host->stack(k).connection_count();
    pings += host->netif(k).neighbors().counters().icmp_echo_replies;
    per_lcore += (k ? ", " : "") + std::to_string(servers[k]->accepted());
  }
  per_lcore += "]";
  std::fprintf(stderr,
               "twtcp-server: accepted %llu, requests %llu, closed %llu (%llu abnormally), "
               "TIME_WAIT %zu, PassiveOpens %llu, TW %llu, pings %llu\n",
               static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(requests),
               static_cast<unsigned long long>(closed), static_cast<unsigned long long>(abnormal),
               timewait, static_cast<unsigned long long>(c.PassiveOpens),
               static_cast<unsigned long long>(c.TW), static_cast<unsigned long long>(pings));
  if (workers > 1) {
    std::fprintf(stderr, "twtcp-server: accepted per lcore %s\n", per_lcore.c_str());
  }
  if (!o.stats_json.empty()) {
    auto u = [](std::uint64_t v) { return std::to_string(v); };
    std::vector<std::pair<std::string, std::string>> extra = {{"accepted", u(accepted)},
                                                              {"requests", u(requests)},
                                                              {"timewait_entries", u(timewait)},
                                                              {"connections_open", u(open)},
                                                              {"lcores", u(workers)},
                                                              {"accepted_per_lcore", per_lcore}};
    // Port, ARP and software-RSS counters, summed over the workers.
    for (const auto& [k, v] : host->counter_rows()) extra.emplace_back(k, u(v));
    const std::string json = app::counters_json(c, extra) + "\n";
    if (!app::write_file(o.stats_json, json, &err)) return fail(err, 1);
  }
  return 0;
}
