// lib/scenario/syn_flood.cpp: a SYN flood against a web server (issue 6). For 50 ms, 2000
// spoofed SYNs per ms from random 198.18.0.0/15 sources and ports reach the server while a
// real client fetches a page every millisecond. Run once per net.ipv4.tcp_syncookies value
// (0, 1, 2) on top of the user's configuration of the server (default: linux-6 with a
// 128-entry SYN backlog and 1024 connections).
//  0: the flood fills the backlog at once and keeps it full; the client's SYNs are dropped
//     (TCPReqQFullDrop) until the half-opens give up after tcp_synack_retries.
//  1: once the backlog is full every SYN is answered with a cookie: the client connects,
//     memory stays at the backlog.
//  2: every SYN gets a cookie: no state for the flood at all.
#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "scenario/common.hpp"
#include "scenario/scenarios.hpp"
#include "sim/link.hpp"
#include "wire/segment.hpp"

namespace twtcp::scenario {
namespace {
constexpr std::uint32_t kServer = ipv4(198, 18, 0, 1);
constexpr std::uint32_t kClient = ipv4(198, 18, 0, 2);
constexpr std::uint16_t kHttp = 80;
constexpr std::uint64_t kFloodUs = 50 * kMs;
constexpr std::uint64_t kBurstEveryUs = 10;
constexpr int kSynsPerBurst = 20;  // 2000 per ms
constexpr std::uint64_t kFetchEveryUs = 1 * kMs;
// Before the client's first SYN retransmission (1 s): what the flood did to first attempts.
constexpr std::uint64_t kJudgeAtUs = kFloodUs + 200 * kMs;

// The server's uplink: only frames for the real client go on the wire (a router has no
// route back to the spoofed sources).
class Uplink : public sim::FrameSink {
 public:
  explicit Uplink(sim::FrameSink& wire) : wire_(wire) {}
  void receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) override {
    const auto v = wire::parse_segment(frame);
    if (v && v->dst_addr == kClient) {
      wire_.receive(port, frame, now_us);
    } else {
      ++unroutable;
    }
  }
  std::uint64_t unroutable = 0;

 private:
  sim::FrameSink& wire_;
};

struct ModeResult {
  int fetches = 0, finished = 0;
  std::size_t conn_hw = 0;
  std::size_t max_connections = 0, backlog = 0;
  std::uint64_t slot_bytes = 0;
  StackCounters server;
};

ModeResult run_mode(const Config& server_cfg, const Config& client_cfg, std::uint64_t seed) {
  ModeResult r;
  sim::Simulator sim(seed);
  StackHost server("server", server_cfg, identity(kServer, 1));
  StackHost client("client", client_cfg, identity(kClient, 2));
  sim::LinkParams lp;
  lp.delay_us = 100;
  sim::DuplexLink wire(sim, lp, seed * 4 + 3, "wire");
  wire.connect(client, StackHost::kPort, server, StackHost::kPort);
  Uplink uplink(wire.ba);
  server.attach(StackHost::kPort, uplink);
  sim.add_node(client);
  sim.add_node(server);
  serve_http_close_first(server, kHttp);

  sim::Rng rng = sim.rng(17);
  std::array<std::uint8_t, 128> buf{};
  std::uint32_t isn = 1;
  for (std::uint64_t t = 0; t < kFloodUs; t += kBurstEveryUs) {
    sim.schedule(t, [&](std::uint64_t now) {
      for (int i = 0; i < kSynsPerBurst; ++i) {
        const std::uint64_t x = rng.next();
        wire::SegmentSpec s;
        s.src_addr = ipv4(198, 18, 0, 0) | static_cast<std::uint32_t>(x & 0x1ffff);
        if (s.src_addr == kServer || s.src_addr == kClient) s.src_addr += 16;
        s.dst_addr = kServer;
        s.tcp.src_port = static_cast<std::uint16_t>(1024 + ((x >> 17) % 64512));
        s.tcp.dst_port = kHttp;
        s.tcp.seq = isn += 7919;
        s.tcp.flags = wire::tcp_flags::kSyn;
        s.tcp.window = 65535;
        s.tcp.options.mss = 1460;
        if (x & (1ULL << 40)) {  // half of them with a Linux-like option set
          s.tcp.options.wscale = 7;
          s.tcp.options.sack_permitted = true;
          s.tcp.options.ts = wire::TcpTimestamps{static_cast<std::uint32_t>(x >> 32), 0};
        }
        const std::size_t n = wire::build_segment(buf, s, {});
        if (n != 0) server.receive(StackHost::kPort, std::span(buf.data(), n), now);
      }
      r.conn_hw = std::max(r.conn_hw, server.stack().connection_count());
    });
  }
  std::vector<Fetch> fetches(kFloodUs / kFetchEveryUs);
  for (std::size_t i = 0; i < fetches.size(); ++i) {
    sim.schedule(i * kFetchEveryUs + 5, [&, i](std::uint64_t now) {
      start_fetch(client, now, kServer, kHttp, fetches[i]);
    });
  }
  while (sim.now() < kJudgeAtUs && sim.step()) {
    r.conn_hw = std::max(r.conn_hw, server.stack().connection_count());
  }
  r.fetches = static_cast<int>(fetches.size());
  for (const Fetch& f : fetches) {
    if (f.finished_us && *f.finished_us <= kJudgeAtUs) ++r.finished;
  }
  r.server = server.stack().counters();
  r.max_connections = static_cast<std::size_t>(server_cfg.max_connections);
  r.backlog = static_cast<std::size_t>(server_cfg.tcp_max_syn_backlog);
  r.slot_bytes = static_cast<std::uint64_t>(server_cfg.tcp_rmem.def) +
                 static_cast<std::uint64_t>(server_cfg.tcp_wmem.def);
  return r;
}
}  // namespace

Result run_syn_flood(const Options& options) {
  Result res;
  std::string err;
  ModeResult m[3];
  for (int mode = 0; mode < 3; ++mode) {
    Options o = options;
    o.sets.insert(o.sets.begin(),
                  {"net.ipv4.tcp_max_syn_backlog=128", "twtcp.max_connections=1024"});
    o.sets.push_back("net.ipv4.tcp_syncookies=" + std::to_string(mode));
    auto server_cfg = build_config("linux-6", o, 1, err);
    if (!server_cfg) return failure(err);
    Options copts;
    copts.seed = options.seed;
    auto client_cfg = build_config("linux-6", copts, 2, err);
    if (!client_cfg) return failure(err);
    m[mode] = run_mode(*server_cfg, *client_cfg, options.seed);
    const ModeResult& r = m[mode];
    const double pct = r.fetches ? 100.0 * r.finished / r.fetches : 0.0;
    const double mib = static_cast<double>(r.conn_hw * r.slot_bytes) / (1 << 20);
    char line[320];
    std::snprintf(line, sizeof line,
                  "tcp_syncookies=%d: fetches %d/%d (%.0f %%), server connections high-water "
                  "%zu of %zu (backlog %zu; %.1f MiB of buffers), SyncookiesSent %llu Recv "
                  "%llu, TCPReqQFullDrop %llu",
                  mode, r.finished, r.fetches, pct, r.conn_hw, r.max_connections, r.backlog, mib,
                  static_cast<unsigned long long>(r.server.SyncookiesSent),
                  static_cast<unsigned long long>(r.server.SyncookiesRecv),
                  static_cast<unsigned long long>(r.server.TCPReqQFullDrop));
    res.summary.emplace_back(line);
    res.json.emplace_back(
        "syncookies_" + std::to_string(mode),
        "{\"fetches\": " + std::to_string(r.fetches) +
            ", \"finished\": " + std::to_string(r.finished) +
            ", \"server_connections_high_water\": " + std::to_string(r.conn_hw) + ", \"server\": " +
            std::string("{\"SyncookiesSent\": ") + std::to_string(r.server.SyncookiesSent) +
            ", \"SyncookiesRecv\": " + std::to_string(r.server.SyncookiesRecv) +
            ", \"TCPReqQFullDrop\": " + std::to_string(r.server.TCPReqQFullDrop) + "}}");
  }
  res.sim_time_us = 3 * kJudgeAtUs;
  const std::size_t bound = m[1].backlog + 16;
  res.pass = m[0].finished * 10 < m[0].fetches && m[1].finished == m[1].fetches &&
             m[2].finished == m[2].fetches && m[1].conn_hw <= bound && m[2].conn_hw <= 16 &&
             m[0].server.TCPReqQFullDrop > 0 && m[2].server.SyncookiesRecv > 0;
  res.verdict = "under 2000 spoofed SYNs/ms: " + std::to_string(m[0].finished) + "/" +
                std::to_string(m[0].fetches) + " fetches without cookies, " +
                std::to_string(m[1].finished) + " with tcp_syncookies=1, " +
                std::to_string(m[2].finished) + " with 2; server connections peak at " +
                std::to_string(m[1].conn_hw) + " / " + std::to_string(m[2].conn_hw) +
                (res.pass ? ": cookies keep the server reachable within the backlog"
                          : ": expected cookies to keep every fetch and bound the state");
  return res;
}

}  // namespace twtcp::scenario
