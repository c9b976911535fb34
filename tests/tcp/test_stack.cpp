// tests/tcp/test_stack.cpp: two Stacks (client 198.18.0.2, server 198.18.0.1) wired back to
// back through their TX sinks on a virtual clock: handshake, request/response, who ends in
// TIME_WAIT, port exhaustion and tw_reuse, TIME_WAIT overflow, SYN reopen, RSTs for strays,
// garbage input, and the tw_recycle per-host check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "tcp/stack.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"
#include "wire/segment.hpp"

#ifndef TWTCP_CONFIGS_DIR
#error "TWTCP_CONFIGS_DIR must name the configs/ directory"
#endif

// GCC flags malloc/free inside replaced global new/delete when it inlines std allocators.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Heap allocations made while a Stack call is on the stack (the harness's own are excluded).
namespace {
bool g_count = false;
std::uint64_t g_allocs = 0;
}  // namespace
void* operator new(std::size_t n) {
  if (g_count) ++g_allocs;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace twtcp {
namespace {

// Stack calls run with counting on; the harness switches it off while it copies frames.
struct Counting {
  bool saved;
  explicit Counting(bool on) : saved(g_count) { g_count = on; }
  ~Counting() { g_count = saved; }
};

constexpr std::uint32_t kClientAddr = 0xC6120002;  // 198.18.0.2
constexpr std::uint32_t kServerAddr = 0xC6120001;  // 198.18.0.1
constexpr std::uint64_t kDelayUs = 100;
constexpr std::uint64_t kSec = 1'000'000;

struct Frame {
  std::uint64_t at = 0;
  std::vector<std::uint8_t> bytes;
};

// A one-way link: frames queue with a fixed delay; remembers per local port the highest
// sequence number sent (end of the last segment), i.e. the sender's final snd_nxt.
struct Link : TxSink {
  std::uint64_t* now = nullptr;
  std::deque<Frame> q;
  std::map<std::uint16_t, std::uint32_t> snd_nxt;  // by source port
  std::map<std::uint16_t, std::uint32_t> tsval;    // last TSval by source port
  std::vector<std::uint32_t> synack_seq;
  std::uint64_t sent = 0;
  void transmit(std::span<const std::uint8_t> f) override {
    const Counting off(false);
    q.push_back(Frame{*now + kDelayUs, {f.begin(), f.end()}});
    if (std::getenv("STACK_TRACE") != nullptr) {
      const auto v = wire::parse_segment(f);
      if (v) {
        std::printf("%10llu %u.%u > %u flags %02x seq %u ack %u len %zu\n",
                    static_cast<unsigned long long>(*now), v->src_addr & 0xff, v->src_port,
                    v->dst_port, v->flags, v->seq, v->ack, v->payload.size());
      }
    }
    ++sent;
    const auto p = wire::parse_segment(f);
    if (!p) return;
    snd_nxt[p->src_port] = p->end_seq();
    if (p->options.ts) tsval[p->src_port] = p->options.ts->tsval;
    if (p->has(wire::tcp_flags::kSyn | wire::tcp_flags::kAck)) synack_seq.push_back(p->seq);
  }
};

Identity ident(std::uint32_t addr, std::uint8_t mac_last, std::uint8_t peer_last) {
  Identity id;
  id.addr = addr;
  id.mac = {2, 0, 0, 0, 0, mac_last};
  id.peer_mac = {2, 0, 0, 0, 0, peer_last};
  return id;
}

Config small(Config c = {}) {
  c.max_connections = 64;
  c.flow_table_capacity = 1024;
  c.peer_table_size = 64;
  c.random_seed = 42;
  return c;
}

struct Net {
  std::uint64_t now = 0;
  Link c2s, s2c;
  Stack client;
  Stack server;
  Net(const Config& ccfg, const Config& scfg)
      : client(ccfg, ident(kClientAddr, 2, 1), c2s), server(scfg, ident(kServerAddr, 1, 2), s2c) {
    c2s.now = &now;
    s2c.now = &now;
  }

  // Runs the virtual clock to `until`, delivering frames and firing timers in time order.
  void run_until(std::uint64_t until) {
    for (;;) {
      std::uint64_t next = std::min(client.next_wakeup(), server.next_wakeup());
      if (!c2s.q.empty()) next = std::min(next, c2s.q.front().at);
      if (!s2c.q.empty()) next = std::min(next, s2c.q.front().at);
      if (next > until) break;
      now = std::max(next, now + 1);
      while (!c2s.q.empty() && c2s.q.front().at <= now) {
        Frame f = std::move(c2s.q.front());
        c2s.q.pop_front();
        const Counting on(true);
        server.input(f.bytes, now);
      }
      while (!s2c.q.empty() && s2c.q.front().at <= now) {
        Frame f = std::move(s2c.q.front());
        s2c.q.pop_front();
        const Counting on(true);
        client.input(f.bytes, now);
      }
      const Counting on(true);
      client.advance(now);
      server.advance(now);
    }
    now = std::max(now, until);
    client.advance(now);
    server.advance(now);
  }
  void run_for(std::uint64_t us) { run_until(now + us); }
};

const std::string kRequest = "GET / HTTP/1.0\r\n\r\n";
const std::string kResponse = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// An HTTP-like server on port 80: reads the request, answers, and closes first or after the
// client (whichever `server_closes_first` says).
struct HttpServer {
  Stack& s;
  bool server_closes_first = false;
  std::string got;
  int closed = 0;
  std::vector<CloseReason> reasons;
  ConnId last = 0;
  explicit HttpServer(Stack& st, bool first) : s(st), server_closes_first(first) {
    Callbacks cb;
    cb.on_accepted = [this](ConnId id) { last = id; };
    cb.on_readable = [this](ConnId id) {
      std::uint8_t buf[2048];
      const std::size_t n = s.recv(id, buf);
      got.assign(reinterpret_cast<char*>(buf), n);
      if (got.find("\r\n\r\n") != std::string::npos) {
        EXPECT_EQ(s.send(id, bytes(kResponse)), kResponse.size());
        if (server_closes_first) s.close(id);
      }
    };
    cb.on_peer_closed = [this](ConnId id) {
      if (!server_closes_first) s.close(id);
    };
    cb.on_closed = [this](ConnId, CloseReason r) {
      reasons.push_back(r);
      ++closed;
    };
    EXPECT_TRUE(s.listen(80, cb));
  }
};

// One client exchange: connect, request, read the response; close first unless the server
// does. Returns the connection id (dead once closed) and its local port.
struct Exchange {
  ConnId id = 0;
  std::uint16_t port = 0;
  int error = 0;
  std::string response;
  bool closed = false;
  CloseReason reason = CloseReason::kNone;
};

Exchange http_get(Net& n, bool client_closes_first, ConnectOptions opt = {},
                  std::uint64_t run_us = kSec) {
  auto ex = std::make_shared<Exchange>();
  Stack& c = n.client;
  opt.callbacks.on_connected = [&c](ConnId id) { c.send(id, bytes(kRequest)); };
  opt.callbacks.on_readable = [&c, ex, client_closes_first](ConnId id) {
    std::uint8_t buf[2048];
    const std::size_t k = c.recv(id, buf);
    ex->response.append(reinterpret_cast<char*>(buf), k);
    if (client_closes_first && ex->response == kResponse) c.close(id);
  };
  opt.callbacks.on_peer_closed = [&c, client_closes_first](ConnId id) {
    if (!client_closes_first) c.close(id);
  };
  opt.callbacks.on_closed = [ex](ConnId, CloseReason r) {
    ex->closed = true;
    ex->reason = r;
  };
  const ConnectResult r = c.connect(kServerAddr, 80, std::move(opt));
  ex->error = r.error;
  if (!r.ok()) return *ex;
  ex->id = r.id;
  ex->port = c.local_port(r.id);
  n.run_for(run_us);  // the exchange and both FINs take a few ms
  return *ex;
}

TEST(Stack, T1_ClientClosingFirstHoldsTimeWaitFor60s) {
  Net n(small(), small());
  HttpServer srv(n.server, false);
  const Exchange ex = http_get(n, true);
  ASSERT_EQ(ex.error, 0);
  EXPECT_EQ(ex.response, kResponse);
  EXPECT_EQ(srv.got, kRequest);
  EXPECT_TRUE(ex.closed);
  EXPECT_EQ(srv.closed, 1);
  EXPECT_EQ(srv.reasons, std::vector<CloseReason>{CloseReason::kNormal});
  EXPECT_EQ(n.client.timewait_count(), 1u);
  EXPECT_EQ(n.server.timewait_count(), 0u);
  EXPECT_EQ(n.client.connection_count(), 0u);
  EXPECT_EQ(n.server.connection_count(), 0u);
  const StackCounters cc = n.client.counters();
  EXPECT_EQ(cc.TW, 1u);
  EXPECT_EQ(cc.ActiveOpens, 1u);
  EXPECT_EQ(n.server.counters().PassiveOpens, 1u);
  EXPECT_EQ(cc.get("TW"), 1);
  n.run_for(58 * kSec);
  EXPECT_EQ(n.client.timewait_count(), 1u);
  n.run_for(2 * kSec);
  EXPECT_EQ(n.client.timewait_count(), 0u);
}

TEST(Stack, T3_ServerClosingFirstLeavesTimeWaitOnServerOnly) {
  Net n(small(), small());
  HttpServer srv(n.server, true);
  const Exchange ex = http_get(n, false);
  ASSERT_EQ(ex.error, 0);
  EXPECT_EQ(ex.response, kResponse);
  EXPECT_TRUE(ex.closed);
  EXPECT_EQ(n.server.timewait_count(), 1u);
  EXPECT_EQ(n.client.timewait_count(), 0u);
  EXPECT_EQ(n.server.counters().TW, 1u);
  EXPECT_EQ(n.client.counters().TW, 0u);
}

Config ten_ports(int reuse) {
  Config c = small();
  c.kernel_model = KernelModel::V6_18;
  c.tcp_tw_reuse = reuse;
  c.tcp_tw_reuse_delay = 1000;
  c.ip_local_port_range = PortRange{40000, 40009};
  return c;
}

TEST(Stack, R1_TenPortsWithoutReuseThenEaddrnotavail) {
  Net n(ten_ports(0), small());
  HttpServer srv(n.server, false);
  std::vector<std::uint16_t> used;
  for (int i = 0; i < 10; ++i) {
    const Exchange ex = http_get(n, true);
    ASSERT_EQ(ex.error, 0) << i;
    EXPECT_EQ(ex.response, kResponse);
    used.push_back(ex.port);
  }
  std::sort(used.begin(), used.end());
  EXPECT_EQ(std::unique(used.begin(), used.end()), used.end());
  EXPECT_EQ(used.front(), 40000);
  EXPECT_EQ(used.back(), 40009);
  EXPECT_EQ(n.client.timewait_count(), 10u);
  n.run_for(5 * kSec);
  const ConnectResult r = n.client.connect(kServerAddr, 80);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, 99);
  EXPECT_EQ(n.client.counters().TWRecycled, 0u);
}

TEST(Stack, SteeredConnectsUseOnlyTheTuplesTheSteeringClaims) {
  // What a Stack on one lcore of several sees: only the ports whose answers come back to its
  // queue. Here: even ports, 5 of the 10; then EADDRNOTAVAIL, and an explicit odd one too.
  Net n(ten_ports(0), small());
  HttpServer srv(n.server, false);
  n.client.steer_connects([](std::uint32_t, std::uint16_t lport, std::uint32_t, std::uint16_t) {
    return lport % 2 == 0;
  });
  std::vector<std::uint16_t> used;
  for (int i = 0; i < 5; ++i) {
    const Exchange ex = http_get(n, true);
    ASSERT_EQ(ex.error, 0) << i;
    used.push_back(ex.port);
  }
  for (std::uint16_t p : used) EXPECT_EQ(p % 2, 0) << p;
  std::sort(used.begin(), used.end());
  EXPECT_EQ(std::unique(used.begin(), used.end()), used.end());
  EXPECT_EQ(n.client.connect(kServerAddr, 80).error, 99);
  ConnectOptions odd;
  odd.local_port = 40001;
  EXPECT_EQ(n.client.connect(kServerAddr, 80, odd).error, 99);
  n.client.steer_connects({});
  EXPECT_TRUE(n.client.connect(kServerAddr, 80).ok());  // the odd ports are free
}

TEST(Stack, R2_R14_ReuseAfterDelayInheritsSndNxtPlus65537) {
  Net n(ten_ports(1), small());
  HttpServer srv(n.server, false);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(http_get(n, true, {}, 50'000).error, 0);
  ASSERT_EQ(n.client.timewait_count(), 10u);  // all within 0.5 s: none reusable yet
  EXPECT_EQ(n.client.connect(kServerAddr, 80).error, 99);
  // 1.1 s after the last one, all ten are.
  n.run_for(kSec + 100'000);
  const auto old_nxt = n.c2s.snd_nxt;
  for (int i = 0; i < 10; ++i) {
    const ConnectResult r = n.client.connect(kServerAddr, 80);
    ASSERT_TRUE(r.ok()) << i;
    const std::uint16_t port = n.client.local_port(r.id);
    EXPECT_EQ(n.client.iss(r.id), old_nxt.at(port) + 65537u) << port;
    n.run_for(10'000);
  }
  EXPECT_EQ(n.client.counters().TWRecycled, 10u);
  EXPECT_EQ(n.client.timewait_count(), 0u);
  EXPECT_EQ(n.client.connection_count(), 10u);
}

TEST(Stack, R2_NoReuseBeforeTheDelay) {
  Net n(ten_ports(1), small());
  HttpServer srv(n.server, false);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(http_get(n, true).error, 0);
  // Each exchange ran 1 s, so earlier entries were already taken over by later connects; the
  // last TIME_WAIT began less than 1 s ago, so a full round of ten connects cannot succeed.
  int ok = 0;
  for (int i = 0; i < 10; ++i) ok += n.client.connect(kServerAddr, 80).ok() ? 1 : 0;
  EXPECT_LT(ok, 10);
  EXPECT_EQ(n.client.counters().TWRecycled, static_cast<std::uint64_t>(ok));
}

TEST(Stack, T8_MaxTwBucketsZeroSkipsTimeWait) {
  Config c = small();
  c.tcp_max_tw_buckets = 0;
  Net n(c, small());
  HttpServer srv(n.server, false);
  const Exchange ex = http_get(n, true);
  ASSERT_EQ(ex.error, 0);
  EXPECT_TRUE(ex.closed);
  EXPECT_EQ(n.client.timewait_count(), 0u);
  EXPECT_EQ(n.client.connection_count(), 0u);
  EXPECT_EQ(n.client.counters().TCPTimeWaitOverflow, 1u);
  EXPECT_EQ(n.client.counters().TW, 0u);
  // The server's close() in on_peer_closed sends its FIN with the ACK of the client's: the
  // client goes from FIN_WAIT1 to TIME_WAIT, ACKs the FIN, and overflows.
  EXPECT_EQ(n.client.counters().OutRsts, 0u);
  EXPECT_EQ(srv.reasons, std::vector<CloseReason>{CloseReason::kNormal});
}

TEST(Stack, T8_MaxTwBucketsZeroOverflowsTheFinWait2StandIn) {
  Config c = small();
  c.tcp_max_tw_buckets = 0;
  Net n(c, small());
  // This server ACKs the client's FIN and closes only later, so the client's orphan reaches
  // FIN_WAIT2 first.
  ConnId accepted = 0;
  std::vector<CloseReason> reasons;
  Callbacks cb;
  cb.on_accepted = [&](ConnId id) { accepted = id; };
  cb.on_readable = [&](ConnId id) {
    std::uint8_t buf[2048];
    if (n.server.recv(id, buf) == kRequest.size()) n.server.send(id, bytes(kResponse));
  };
  cb.on_closed = [&](ConnId, CloseReason r) { reasons.push_back(r); };
  ASSERT_TRUE(n.server.listen(80, cb));
  const Exchange ex = http_get(n, true);
  ASSERT_EQ(ex.error, 0);
  EXPECT_TRUE(ex.closed);
  // The orphan overflowed already as the FIN_WAIT2 stand-in (as Linux's tcp_close ->
  // tcp_time_wait(FIN_WAIT2)).
  EXPECT_EQ(n.client.counters().TCPTimeWaitOverflow, 1u);
  EXPECT_EQ(n.client.timewait_count(), 0u);
  EXPECT_EQ(n.client.connection_count(), 0u);
  // The server's FIN then finds no socket and is answered with an RST.
  n.server.close(accepted);
  n.run_for(kSec);
  EXPECT_EQ(n.client.counters().OutRsts, 1u);
  EXPECT_EQ(reasons, std::vector<CloseReason>{CloseReason::kPeerReset});
}

// The Stack holds a connection's output while it runs the callbacks of a segment: what they
// write and close leaves in one segment with the ACK the segment was owed. An HTTP/1.0
// exchange takes six or seven segments (ten without it: a pure ACK before each answer).
TEST(Stack, CallbacksWritesAndCloseLeaveInOneSegmentWithTheAck) {
  for (const bool client_first : {true, false}) {
    SCOPED_TRACE(client_first ? "client closes first" : "server closes first");
    Net n(small(), small());
    HttpServer srv(n.server, !client_first);
    const Exchange ex = http_get(n, client_first);
    ASSERT_EQ(ex.error, 0);
    EXPECT_EQ(ex.response, kResponse);
    EXPECT_EQ(srv.got, kRequest);
    EXPECT_EQ(srv.reasons, std::vector<CloseReason>{CloseReason::kNormal});
    EXPECT_EQ(ex.reason, CloseReason::kNormal);
    // Client: SYN, request with the ACK of the SYN-ACK, FIN (with the ACK of the server's
    // when the server closed first), and the last ACK when it closed first. Server: SYN-ACK,
    // response (with the FIN when it closes first), FIN with the ACK of the client's FIN or
    // the last ACK.
    const std::uint64_t client_out = client_first ? 4 : 3;
    EXPECT_EQ(n.client.counters().OutSegs, client_out);
    EXPECT_EQ(n.server.counters().OutSegs, 3u);
    EXPECT_EQ(n.client.counters().InSegs, 3u);
    EXPECT_EQ(n.server.counters().InSegs, client_out);
    EXPECT_EQ((client_first ? n.client : n.server).timewait_count(), 1u);
  }
}

TEST(Stack, P11_NewerSynReopensServerTimeWaitWithIsnPlus65537) {
  Net n(small(), small());
  HttpServer srv(n.server, true);
  const Exchange ex = http_get(n, false);
  ASSERT_EQ(ex.error, 0);
  ASSERT_EQ(n.server.timewait_count(), 1u);
  const std::uint32_t tw_snd_nxt = n.s2c.snd_nxt.at(80);
  n.run_for(2 * kSec);  // the client's TS clock and ISN clock move on: a newer SYN
  ConnectOptions opt;
  opt.local_port = ex.port;
  const Exchange again = http_get(n, false, opt);
  ASSERT_EQ(again.error, 0);
  EXPECT_EQ(again.response, kResponse);
  EXPECT_EQ(srv.closed, 2);
  EXPECT_EQ(n.server.counters().PassiveOpens, 2u);
  // The SYN-ACK's seq is the reopened connection's ISN.
  ASSERT_EQ(n.s2c.synack_seq.size(), 2u);
  EXPECT_EQ(n.s2c.synack_seq[1], tw_snd_nxt + 65537u);
  EXPECT_EQ(n.server.timewait_count(), 1u);  // the new connection's own TIME_WAIT
}

// A TcpFields-built frame from (src:sport) to (dst:dport).
std::vector<std::uint8_t> frame(std::uint32_t src, std::uint16_t sport, std::uint32_t dst,
                                std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                                std::uint8_t flags, std::optional<std::uint32_t> tsval = {}) {
  wire::SegmentSpec s;
  s.src_addr = src;
  s.dst_addr = dst;
  s.tcp.src_port = sport;
  s.tcp.dst_port = dport;
  s.tcp.seq = seq;
  s.tcp.ack = ack;
  s.tcp.flags = flags;
  s.tcp.window = 65535;
  if (tsval) s.tcp.options.ts = wire::TcpTimestamps{*tsval, 0};
  if (flags & wire::tcp_flags::kSyn) s.tcp.options.mss = 1460;
  std::vector<std::uint8_t> out(256);
  out.resize(wire::build_segment(out, s));
  return out;
}

TEST(Stack, SegmentToNoConnectionGetsRstButRstGetsNothing) {
  Net n(small(), small());
  n.server.input(frame(kClientAddr, 5555, kServerAddr, 9999, 1000, 777, wire::tcp_flags::kAck),
                 n.now);
  ASSERT_EQ(n.s2c.q.size(), 1u);
  const auto p = wire::parse_segment(n.s2c.q.front().bytes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->flags, wire::tcp_flags::kRst);
  EXPECT_EQ(p->seq, 777u);
  EXPECT_EQ(p->dst_port, 5555);
  EXPECT_EQ(n.server.counters().OutRsts, 1u);
  // A SYN to a port nobody listens on: RST+ACK acknowledging it.
  n.server.input(frame(kClientAddr, 5556, kServerAddr, 81, 5000, 0, wire::tcp_flags::kSyn), n.now);
  ASSERT_EQ(n.s2c.q.size(), 2u);
  const auto q = wire::parse_segment(n.s2c.q.back().bytes);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->flags, wire::tcp_flags::kRst | wire::tcp_flags::kAck);
  EXPECT_EQ(q->ack, 5001u);
  n.server.input(frame(kClientAddr, 5557, kServerAddr, 81, 1, 0, wire::tcp_flags::kRst), n.now);
  EXPECT_EQ(n.s2c.q.size(), 2u);
  EXPECT_EQ(n.server.counters().OutRsts, 2u);
}

TEST(Stack, GarbageFramesAreCountedAndIgnored) {
  Net n(small(), small());
  HttpServer srv(n.server, false);
  std::vector<std::uint8_t> junk(100);
  for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<std::uint8_t>(i * 37);
  n.server.input(junk, 0);
  n.server.input({}, 0);
  auto good = frame(kClientAddr, 5555, kServerAddr, 80, 1000, 0, wire::tcp_flags::kSyn);
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    n.server.input(std::span<const std::uint8_t>(good).first(cut), 0);
  }
  auto bad_sum = good;
  bad_sum.back() ^= 0xff;  // last option byte: TCP checksum no longer matches
  n.server.input(bad_sum, 0);
  auto other_host = frame(kClientAddr, 5555, 0x0a000001, 80, 1000, 0, wire::tcp_flags::kSyn);
  n.server.input(other_host, 0);
  const StackCounters c = n.server.counters();
  EXPECT_EQ(c.TwtcpRxDropped, 2 + good.size() + 2);
  EXPECT_EQ(c.InErrs, 1u);
  EXPECT_EQ(n.s2c.sent, 0u);
  EXPECT_EQ(n.server.connection_count(), 0u);
}

TEST(Stack, C1_RecycleDropsSynWithOlderTimestampFromCachedHost) {
  ConfigLoader l;
  ASSERT_TRUE(l.load_file(std::string(TWTCP_CONFIGS_DIR) + "/linux-3.10-recycle.conf").ok());
  ASSERT_TRUE(l.finish().ok());
  Net n(small(), small(l.config()));
  HttpServer srv(n.server, true);  // the server closes first: its TW remembers the host
  const Exchange ex = http_get(n, false);
  ASSERT_EQ(ex.error, 0);
  ASSERT_EQ(ex.response, kResponse);
  const std::uint32_t last_ts = n.c2s.tsval.at(ex.port);
  const std::size_t before = n.s2c.sent;
  // Another port of the same host, with a timestamp older than the cached one: dropped
  // silently.
  n.server.input(
      frame(kClientAddr, 50000, kServerAddr, 80, 1000, 0, wire::tcp_flags::kSyn, last_ts - 1000),
      n.now);
  EXPECT_EQ(n.s2c.sent, before);
  EXPECT_EQ(n.server.counters().PAWSPassive, 1u);
  EXPECT_EQ(n.server.connection_count(), 0u);
  // A newer timestamp is accepted (SYN-ACK).
  n.server.input(
      frame(kClientAddr, 50001, kServerAddr, 80, 1000, 0, wire::tcp_flags::kSyn, last_ts + 1000),
      n.now);
  EXPECT_EQ(n.s2c.sent, before + 1);
  EXPECT_EQ(n.server.counters().PAWSPassive, 1u);
  EXPECT_EQ(n.server.connection_count(), 1u);
}

TEST(Stack, RetransmittedFinToTimeWaitIsAckedAgain) {
  Net n(small(), small());
  HttpServer srv(n.server, false);
  const Exchange ex = http_get(n, true);
  ASSERT_EQ(n.client.timewait_count(), 1u);
  const std::uint32_t srv_nxt = n.s2c.snd_nxt.at(80);
  const std::uint32_t cli_nxt = n.c2s.snd_nxt.at(ex.port);
  const std::size_t before = n.c2s.q.size();
  n.client.input(frame(kServerAddr, 80, kClientAddr, ex.port, srv_nxt - 1, cli_nxt,
                       wire::tcp_flags::kFin | wire::tcp_flags::kAck, n.s2c.tsval.at(80) + 5),
                 n.now);
  ASSERT_EQ(n.c2s.q.size(), before + 1);
  const auto a = wire::parse_segment(n.c2s.q.back().bytes);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->flags, wire::tcp_flags::kAck);
  EXPECT_EQ(a->seq, cli_nxt);
  EXPECT_EQ(a->ack, srv_nxt);
  EXPECT_EQ(n.client.timewait_count(), 1u);
}

TEST(Stack, CallbackMayAbortItsOwnConnectionAndKeepUsingItsCaptures) {
  Net n(small(), small());
  std::string big_capture(100, 'x');  // large enough that std::function stores it on the heap
  int after = 0;
  Callbacks scb;
  scb.on_readable = [&n, &after, big_capture](ConnId id) {
    EXPECT_TRUE(n.server.abort(id));                // closes and frees this very connection
    EXPECT_FALSE(n.server.abort(id));               // the id is dead now
    after += static_cast<int>(big_capture.size());  // the callback object is still alive
  };
  ASSERT_TRUE(n.server.listen(80, scb));
  CloseReason client_reason = CloseReason::kNone;
  ConnectOptions opt;
  opt.callbacks.on_connected = [&n](ConnId id) { n.client.send(id, bytes(kRequest)); };
  opt.callbacks.on_closed = [&](ConnId, CloseReason r) { client_reason = r; };
  ASSERT_TRUE(n.client.connect(kServerAddr, 80, std::move(opt)).ok());
  n.run_for(kSec);
  EXPECT_EQ(after, 100);
  EXPECT_EQ(client_reason, CloseReason::kPeerReset);
  EXPECT_EQ(n.server.connection_count(), 0u);
  EXPECT_EQ(n.client.connection_count(), 0u);
  EXPECT_EQ(n.client.counters().EstabResets, 1u);
}

TEST(Stack, SteadyStateDataExchangeAllocatesNothing) {
  Net n(small(), small());
  static std::uint8_t sbuf[65536], cbuf[65536];
  std::uint64_t echoed = 0, back = 0;
  Callbacks scb;
  scb.on_readable = [&](ConnId id) {
    const std::size_t k = n.server.recv(id, sbuf);
    echoed += n.server.send(id, std::span<const std::uint8_t>(sbuf, k));
  };
  ASSERT_TRUE(n.server.listen(7, scb));
  ConnectOptions opt;
  opt.callbacks.on_readable = [&](ConnId id) { back += n.client.recv(id, cbuf); };
  g_allocs = 0;
  ConnectResult r;
  {
    const Counting on(true);
    r = n.client.connect(kServerAddr, 7, std::move(opt));
  }
  ASSERT_TRUE(r.ok());
  EXPECT_GT(g_allocs, 0u);  // the counter works: a new connection builds its byte rings
  n.run_for(10'000);
  std::vector<std::uint8_t> chunk(1000, 0x5a);
  for (int i = 0; i < 5; ++i) {  // warm up
    ASSERT_EQ(n.client.send(r.id, chunk), chunk.size());
    n.run_for(50'000);
  }
  g_allocs = 0;
  for (int i = 0; i < 50; ++i) {
    {
      const Counting on(true);
      ASSERT_EQ(n.client.send(r.id, chunk), chunk.size());
    }
    n.run_for(50'000);
  }
  EXPECT_EQ(back, 55u * chunk.size());
  EXPECT_EQ(echoed, back);
  EXPECT_EQ(g_allocs, 0u);
}

// A load generator's connect(): one Callbacks shared by every connection (shared_callbacks)
// serves them all, and once the connection slots have been used (they keep their rings) a
// connect() allocates nothing; a per-connect Callbacks is copied into a new shared block.
TEST(Stack, SharedCallbacksServeEveryConnectionWithoutAnAllocationPerConnect) {
  Net n(small(), small());
  Callbacks scb;
  scb.on_readable = [&](ConnId id) {
    std::uint8_t buf[64];
    (void)n.server.recv(id, buf);
    n.server.close(id);  // the server closes first: no TIME_WAIT on the client's ports
  };
  ASSERT_TRUE(n.server.listen(7, scb));
  int connected = 0, closed = 0;
  Callbacks ccb;
  ccb.on_connected = [&](ConnId id) {
    ++connected;
    const std::uint8_t req[4] = {'p', 'i', 'n', 'g'};
    n.client.send(id, req);
  };
  ccb.on_peer_closed = [&](ConnId id) { n.client.close(id); };
  ccb.on_closed = [&](ConnId, CloseReason) { ++closed; };
  ConnectOptions opt;
  opt.shared_callbacks = std::make_shared<const Callbacks>(std::move(ccb));
  const auto round = [&](int conns, std::uint64_t* allocs) {
    std::uint64_t a = 0;
    for (int i = 0; i < conns; ++i) {
      g_allocs = 0;
      {
        const Counting on(true);
        ASSERT_TRUE(n.client.connect(kServerAddr, 7, opt).ok());
      }
      a += g_allocs;
    }
    EXPECT_EQ(opt.shared_callbacks.use_count(), 1 + conns);  // each live connection holds it
    n.run_for(2'000'000);
    *allocs = a;
  };
  std::uint64_t warm = 0, shared = 0;
  round(8, &warm);  // first use of 8 slots: their rings are built
  EXPECT_GT(warm, 0u);
  round(8, &shared);
  EXPECT_EQ(shared, 0u);
  EXPECT_EQ(connected, 16);
  EXPECT_EQ(closed, 16);
  EXPECT_EQ(opt.shared_callbacks.use_count(), 1);

  // The same with a Callbacks of its own per connect(): one allocation each at least.
  ConnectOptions own;
  own.callbacks = *opt.shared_callbacks;
  g_allocs = 0;
  {
    const Counting on(true);
    ASSERT_TRUE(n.client.connect(kServerAddr, 7, own).ok());
  }
  EXPECT_GE(g_allocs, 1u);
}

TEST(Stack, TimeWaitEntrySize) {
  std::printf("sizeof(TwEntry) = %zu, all-in at 1M capacity = %.2f bytes\n", sizeof(tcp::TwEntry),
              [] {
                Config c;
                c.flow_table_capacity = 1'000'000;
                return Stack::timewait_entry_bytes(c);
              }());
  EXPECT_EQ(sizeof(tcp::TwEntry), 48u);
  for (const int cap : {1024, 262144, 1 << 20, 11'001'024, 1 << 26}) {
    Config c;
    c.flow_table_capacity = cap;
    EXPECT_LE(Stack::timewait_entry_bytes(c), 64.0) << cap;
  }
}

TEST(Stack, CountersIterateByName) {
  StackCounters c;
  c.TWRecycled = 3;
  int n = 0;
  bool seen = false;
  c.for_each([&](std::string_view g, std::string_view name, std::uint64_t v) {
    ++n;
    if (name == "TWRecycled") seen = (g == "TcpExt" && v == 3);
  });
  EXPECT_TRUE(seen);
  EXPECT_GT(n, 20);
  EXPECT_EQ(c.get("nope"), -1);
}

}  // namespace
}  // namespace twtcp

namespace twtcp {
namespace {
// What `twtcp-server`'s /twtcp/timewait shows: the 4-tuple, the time left, ts_recent.
TEST(StackObservation, ForEachTimewaitListsEntriesWithTimeLeft) {
  Config c = small({});
  c.ip_local_port_range = {40000, 40009};
  Net n(c, small({}));
  n.server.listen(80, {});
  for (int i = 0; i < 3; ++i) {
    const ConnectResult r = n.client.connect(kServerAddr, 80);
    ASSERT_TRUE(r.ok());
    n.run_for(10'000);
    n.client.close(r.id);
    n.run_for(10'000);
  }
  ASSERT_EQ(n.client.timewait_count(), 3u);
  std::vector<TimeWaitInfo> seen;
  EXPECT_EQ(n.client.for_each_timewait([&](const TimeWaitInfo& i) { seen.push_back(i); }, 100), 3u);
  ASSERT_EQ(seen.size(), 3u);
  for (const TimeWaitInfo& i : seen) {
    EXPECT_EQ(i.local_addr, kClientAddr);
    EXPECT_EQ(i.remote_addr, kServerAddr);
    EXPECT_EQ(i.remote_port, 80);
    EXPECT_GE(i.local_port, 40000);
    EXPECT_LE(i.local_port, 40009);
    EXPECT_TRUE(i.has_timestamps);
    EXPECT_GT(i.expires_in_us, 59'000'000u);
    EXPECT_LE(i.expires_in_us, 60'001'000u);
  }
  // Soonest first within a lifetime; bounded by max.
  EXPECT_LE(seen[0].expires_in_us, seen[1].expires_in_us);
  EXPECT_EQ(n.client.for_each_timewait([](const TimeWaitInfo&) {}, 2), 2u);
}
}  // namespace
}  // namespace twtcp
