// tests/tcp/test_syn_flood.cpp: the per-listener SYN backlog and SYN cookies through two
// Stacks back to back (client 198.18.0.2, server 198.18.0.1) on a virtual clock.
//
// Handshakes through a cookie (options kept: a 256 KiB transfer needs window scaling), without
// timestamps (MSS only), forged and expired cookie ACKs (RST, SyncookiesFailed), and a flood:
// 2000 spoofed SYNs per virtual ms from random 198.18.0.0/15 sources while the client keeps
// connecting, for tcp_syncookies 0, 1 and 2. Prints the legitimate success rate and the
// server's connection high-water mark (slots, bytes) per mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "tcp/stack.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"
#include "wire/segment.hpp"

namespace twtcp {
namespace {

constexpr std::uint32_t kClientAddr = 0xC6120002;  // 198.18.0.2
constexpr std::uint32_t kServerAddr = 0xC6120001;  // 198.18.0.1
constexpr std::uint64_t kDelayUs = 100;
constexpr std::uint64_t kMs = 1000;
constexpr std::uint64_t kSec = 1'000'000;

struct Frame {
  std::uint64_t at = 0;
  std::vector<std::uint8_t> bytes;
};

// A one-way link that only carries frames for `to` (the router drops those for the spoofed
// sources) and keeps the last ones for inspection.
struct Link : TxSink {
  std::uint64_t* now = nullptr;
  std::uint32_t to = 0;
  std::deque<Frame> q;
  std::uint64_t sent = 0, unroutable = 0;
  std::vector<wire::TcpFields> seen;  // frames to `to`, when `keep` is set
  bool keep = false;
  void transmit(std::span<const std::uint8_t> f) override {
    ++sent;
    if (f.size() < 34) return;
    const std::uint32_t dst = (std::uint32_t{f[30]} << 24) | (std::uint32_t{f[31]} << 16) |
                              (std::uint32_t{f[32]} << 8) | f[33];
    if (dst != to) {
      ++unroutable;
      return;
    }
    if (keep) {
      const auto p = wire::parse_segment(f);
      if (p) {
        wire::TcpFields t;
        t.seq = p->seq;
        t.ack = p->ack;
        t.flags = p->flags;
        t.options = p->options;
        seen.push_back(t);
      }
    }
    q.push_back(Frame{*now + kDelayUs, {f.begin(), f.end()}});
  }
};

Identity ident(std::uint32_t addr, std::uint8_t mac_last, std::uint8_t peer_last) {
  Identity id;
  id.addr = addr;
  id.mac = {2, 0, 0, 0, 0, mac_last};
  id.peer_mac = {2, 0, 0, 0, 0, peer_last};
  return id;
}

Config base(int syncookies) {
  Config c;
  c.max_connections = 1024;
  c.flow_table_capacity = 8192;
  c.peer_table_size = 64;
  c.random_seed = 42;
  c.tcp_syncookies = syncookies;
  c.tcp_max_syn_backlog = 128;
  c.tcp_rmem.def = 262144;  // window scaling is needed to fill it
  return c;
}

struct Net {
  std::uint64_t now = 0;
  Link c2s, s2c;
  Stack client;
  Stack server;
  std::size_t server_conn_hw = 0;
  Net(const Config& ccfg, const Config& scfg)
      : client(ccfg, ident(kClientAddr, 2, 1), c2s), server(scfg, ident(kServerAddr, 1, 2), s2c) {
    c2s.now = &now;
    s2c.now = &now;
    c2s.to = kServerAddr;
    s2c.to = kClientAddr;
  }
  void note() { server_conn_hw = std::max(server_conn_hw, server.connection_count()); }
  // Delivers what is due at `now` and fires timers.
  void step() {
    while (!c2s.q.empty() && c2s.q.front().at <= now) {
      const Frame f = std::move(c2s.q.front());
      c2s.q.pop_front();
      server.input(f.bytes, now);
    }
    while (!s2c.q.empty() && s2c.q.front().at <= now) {
      const Frame f = std::move(s2c.q.front());
      s2c.q.pop_front();
      client.input(f.bytes, now);
    }
    client.advance(now);
    server.advance(now);
    note();
  }
  void run_until(std::uint64_t until) {
    for (;;) {
      std::uint64_t next = std::min(client.next_wakeup(), server.next_wakeup());
      if (!c2s.q.empty()) next = std::min(next, c2s.q.front().at);
      if (!s2c.q.empty()) next = std::min(next, s2c.q.front().at);
      if (next > until) break;
      now = std::max(next, now + 1);
      step();
    }
    now = std::max(now, until);
    step();
  }
  void run_for(std::uint64_t us) { run_until(now + us); }
};

// Builds TCP segments from arbitrary sources to the server, straight into server.input().
struct Injector {
  std::array<std::uint8_t, 256> buf{};
  void send(Stack& to, std::uint64_t now, std::uint32_t src, std::uint16_t sport,
            const wire::TcpFields& tcp) {
    wire::SegmentSpec s;
    s.eth_src = {2, 0, 0, 0, 0, 9};
    s.eth_dst = {2, 0, 0, 0, 0, 1};
    s.src_addr = src;
    s.dst_addr = kServerAddr;
    s.tcp = tcp;
    s.tcp.src_port = sport;
    s.tcp.dst_port = 80;
    const std::size_t n = wire::build_segment(buf, s, {});
    ASSERT_NE(n, 0u);
    to.input(std::span<const std::uint8_t>(buf.data(), n), now);
  }
};

std::span<const std::uint8_t> bytes_of(const std::vector<std::uint8_t>& v) {
  return {v.data(), v.size()};
}

// A sink on port 80 that echoes every byte back and closes when the client does.
struct EchoServer {
  Stack& s;
  int accepted = 0;
  std::uint64_t echoed = 0;
  std::vector<ConnId> ids;
  explicit EchoServer(Stack& st) : s(st) {
    Callbacks cb;
    cb.on_accepted = [this](ConnId id) {
      ++accepted;
      ids.push_back(id);
    };
    cb.on_readable = [this](ConnId id) { pump(id); };
    cb.on_writable = [this](ConnId id) { pump(id); };
    cb.on_peer_closed = [this](ConnId id) { s.close(id); };
    EXPECT_TRUE(s.listen(80, cb));
  }
  std::vector<std::uint8_t> pending;
  void pump(ConnId id) {
    std::uint8_t b[4096];
    for (;;) {
      if (!pending.empty()) {
        const std::size_t n = s.send(id, bytes_of(pending));
        echoed += n;
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
        if (!pending.empty()) return;
      }
      const std::size_t k = s.recv(id, b);
      if (k == 0) return;
      pending.assign(b, b + k);
    }
  }
};

// Sends `total` bytes, reads the echo, then closes.
struct EchoClient {
  Stack& s;
  std::uint64_t total, sent = 0, got = 0;
  bool connected = false, closed = false;
  ConnId id = 0;
  std::vector<std::uint8_t> chunk = std::vector<std::uint8_t>(8192, 0x5a);
  EchoClient(Stack& st, std::uint64_t n) : s(st), total(n) {
    ConnectOptions o;
    o.callbacks.on_connected = [this](ConnId c) {
      connected = true;
      push(c);
    };
    o.callbacks.on_writable = [this](ConnId c) { push(c); };
    o.callbacks.on_readable = [this](ConnId c) {
      std::uint8_t b[8192];
      while (const std::size_t k = s.recv(c, b)) got += k;
      if (got == total) s.close(c);
    };
    o.callbacks.on_closed = [this](ConnId, CloseReason) { closed = true; };
    const ConnectResult r = s.connect(kServerAddr, 80, std::move(o));
    EXPECT_TRUE(r.ok());
    id = r.id;
  }
  void push(ConnId c) {
    while (sent < total) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), total - sent));
      const std::size_t n = s.send(c, std::span<const std::uint8_t>(chunk.data(), want));
      sent += n;
      if (n < want) return;
    }
  }
};

TEST(SynCookies, HandshakeThroughACookieKeepsMssWscaleSackAndTimestamps) {
  Net n(base(1), base(2));
  n.s2c.keep = true;
  EchoServer srv(n.server);
  EchoClient cl(n.client, 256 * 1024);
  n.run_for(2 * kSec);
  EXPECT_TRUE(cl.connected);
  EXPECT_EQ(cl.got, cl.total);
  EXPECT_TRUE(cl.closed);
  const StackCounters sc = n.server.counters();
  EXPECT_EQ(sc.SyncookiesSent, 1u);
  EXPECT_EQ(sc.TCPReqQFullDoCookies, 1u);  // tcp_syncookies = 2: every SYN, as Linux counts
  EXPECT_EQ(sc.SyncookiesRecv, 1u);
  EXPECT_EQ(sc.SyncookiesFailed, 0u);
  EXPECT_EQ(sc.PassiveOpens, 1u);
  EXPECT_EQ(srv.accepted, 1);
  ASSERT_FALSE(n.s2c.seen.empty());
  const wire::TcpFields& synack = n.s2c.seen.front();
  ASSERT_EQ(synack.flags, wire::tcp_flags::kSyn | wire::tcp_flags::kAck);
  EXPECT_EQ(synack.options.mss, std::optional<std::uint16_t>(1460));
  EXPECT_TRUE(synack.options.wscale.has_value());  // 256 KiB receive buffer: shift 3
  EXPECT_TRUE(synack.options.sack_permitted);
  ASSERT_TRUE(synack.options.ts.has_value());
  // The client's wscale (7 for its 128 KiB buffer... whatever it offered) sits in the TSval.
  EXPECT_NE(synack.options.ts->tsval & 0x0f, 0x0fu);
  EXPECT_NE(synack.options.ts->tsval & 0x10, 0u);  // SACK-permitted
  // Later segments carry the ordinary clock again and the connection used the options.
  bool later_ts = false;
  for (std::size_t i = 1; i < n.s2c.seen.size(); ++i)
    later_ts |= n.s2c.seen[i].options.ts.has_value();
  EXPECT_TRUE(later_ts);
  EXPECT_EQ(n.server.connection_count(), 0u);
}

TEST(SynCookies, WithoutTimestampsTheCookieCarriesTheMssOnly) {
  Config cc = base(1);
  cc.tcp_timestamps = 0;
  Net n(cc, base(2));
  n.s2c.keep = true;
  EchoServer srv(n.server);
  EchoClient cl(n.client, 64 * 1024);
  n.run_for(2 * kSec);
  EXPECT_EQ(cl.got, cl.total);
  ASSERT_FALSE(n.s2c.seen.empty());
  const wire::TcpFields& synack = n.s2c.seen.front();
  EXPECT_TRUE(synack.options.mss.has_value());
  EXPECT_FALSE(synack.options.wscale.has_value());
  EXPECT_FALSE(synack.options.sack_permitted);
  EXPECT_FALSE(synack.options.ts.has_value());
  EXPECT_EQ(n.server.counters().SyncookiesRecv, 1u);
}

wire::TcpFields syn(std::uint32_t seq) {
  wire::TcpFields t;
  t.seq = seq;
  t.flags = wire::tcp_flags::kSyn;
  t.window = 65535;
  t.options.mss = 1300;
  return t;
}
wire::TcpFields ack(std::uint32_t seq, std::uint32_t a) {
  wire::TcpFields t;
  t.seq = seq;
  t.ack = a;
  t.flags = wire::tcp_flags::kAck;
  t.window = 65535;
  return t;
}

TEST(SynCookies, ForgedCookieAckIsAnsweredWithRstAndCounted) {
  Net n(base(1), base(2));
  EchoServer srv(n.server);
  Injector inj;
  const std::uint32_t src = 0xC6130101;
  // No cookie sent yet: a stray ACK is not even checked.
  inj.send(n.server, n.now, src, 1111, ack(5001, 777));
  EXPECT_EQ(n.server.counters().SyncookiesFailed, 0u);
  EXPECT_EQ(n.server.counters().OutRsts, 1u);

  n.s2c.to = src;  // see the SYN-ACK
  n.s2c.keep = true;
  inj.send(n.server, n.now, src, 1111, syn(5000));
  ASSERT_EQ(n.s2c.seen.size(), 1u);
  const std::uint32_t cookie = n.s2c.seen[0].seq;
  EXPECT_EQ(n.s2c.seen[0].ack, 5001u);
  EXPECT_EQ(n.server.connection_count(), 0u);  // no state for it
  inj.send(n.server, n.now, src, 1111, ack(5001, cookie + 0x10000));
  inj.send(n.server, n.now, src, 1112, ack(5001, cookie + 1));  // other tuple
  EXPECT_EQ(n.server.counters().SyncookiesFailed, 2u);
  EXPECT_EQ(n.server.counters().OutRsts, 3u);
  EXPECT_EQ(n.server.connection_count(), 0u);
  inj.send(n.server, n.now, src, 1111, ack(5001, cookie + 1));  // the real one
  EXPECT_EQ(n.server.counters().SyncookiesRecv, 1u);
  EXPECT_EQ(n.server.connection_count(), 1u);
  EXPECT_EQ(srv.accepted, 1);
  EXPECT_EQ(n.server.counters().CurrEstab, 1u);
}

TEST(SynCookies, CookieExpiresAfterTheSecondMinute) {
  Net n(base(1), base(2));
  EchoServer srv(n.server);
  Injector inj;
  const std::uint32_t src = 0xC6130102;
  n.s2c.to = src;
  n.s2c.keep = true;
  n.now = 30 * kSec;
  inj.send(n.server, n.now, src, 2222, syn(9000));
  const std::uint32_t old_cookie = n.s2c.seen.back().seq;
  // Still good in the next minute (t = 119 s: minute 1, cookie from minute 0).
  n.now = 119 * kSec;
  inj.send(n.server, n.now, src, 2223, syn(9100));  // keeps the listener checking ACKs
  const std::uint32_t fresh = n.s2c.seen.back().seq;
  n.now = 121 * kSec;  // minute 2: the minute-0 cookie is too old, the minute-1 one is fine
  inj.send(n.server, n.now, src, 2222, ack(9001, old_cookie + 1));
  EXPECT_EQ(n.server.counters().SyncookiesFailed, 1u);
  EXPECT_EQ(n.server.connection_count(), 0u);
  inj.send(n.server, n.now, src, 2223, ack(9101, fresh + 1));
  EXPECT_EQ(n.server.counters().SyncookiesRecv, 1u);
  EXPECT_EQ(n.server.connection_count(), 1u);
}

TEST(SynBacklog, FullBacklogDropsSynsWithoutCookiesAndDrainsAfterSynackRetries) {
  Config sc = base(0);
  sc.tcp_max_syn_backlog = 4;
  Net n(base(0), sc);
  EchoServer srv(n.server);
  Injector inj;
  for (std::uint16_t i = 0; i < 6; ++i) inj.send(n.server, n.now, 0xC6130200 + i, 3000, syn(1));
  EXPECT_EQ(n.server.connection_count(), 4u);
  StackCounters c = n.server.counters();
  EXPECT_EQ(c.TCPReqQFullDrop, 2u);
  EXPECT_EQ(c.ListenDrops, 2u);
  EXPECT_EQ(c.SyncookiesSent, 0u);
  // Half-opens die after tcp_synack_retries (5: 1+2+4+8+16+32 s), freeing the backlog.
  n.run_for(64 * kSec);
  EXPECT_EQ(n.server.connection_count(), 0u);
  EchoClient cl(n.client, 1000);
  n.run_for(kSec);
  EXPECT_EQ(cl.got, 1000u);
}

TEST(SynBacklog, ExhaustedConnectionPoolOverflowsOrAnswersWithCookies) {
  for (int mode = 0; mode < 2; ++mode) {
    Config sc = base(mode);
    sc.max_connections = 3;
    Net n(base(1), sc);
    EchoServer srv(n.server);
    Injector inj;
    const std::uint32_t src = 0xC6130300;
    n.s2c.to = src;
    n.s2c.keep = true;
    for (std::uint16_t i = 0; i < 4; ++i) inj.send(n.server, n.now, src, 4000 + i, syn(100));
    EXPECT_EQ(n.server.connection_count(), 3u);
    const StackCounters c = n.server.counters();
    if (mode == 0) {
      EXPECT_EQ(c.ListenOverflows, 1u);
      EXPECT_EQ(c.ListenDrops, 1u);
      EXPECT_EQ(n.s2c.seen.size(), 3u);
      continue;
    }
    EXPECT_EQ(c.SyncookiesSent, 1u);
    ASSERT_EQ(n.s2c.seen.size(), 4u);
    // The cookie comes back while the pool is still full: dropped as an accept-queue overflow.
    inj.send(n.server, n.now, src, 4003, ack(101, n.s2c.seen.back().seq + 1));
    EXPECT_EQ(n.server.counters().SyncookiesRecv, 1u);
    EXPECT_EQ(n.server.counters().ListenOverflows, 1u);
    EXPECT_EQ(n.server.connection_count(), 3u);
  }
}

// ---- the flood ----

struct FloodResult {
  int attempts = 0, connected = 0;
  std::size_t server_conn_hw = 0;
  StackCounters server;
  std::size_t server_conn_after = 0;
};

FloodResult flood(int syncookies) {
  constexpr std::uint64_t kStepUs = 10;
  constexpr int kSynsPerStep = 20;                // 2000 per virtual ms
  constexpr std::uint64_t kFloodUs = 50 * kMs;    // 100k spoofed SYNs
  constexpr std::uint64_t kConnectEveryUs = 100;  // 500 legitimate attempts
  Net n(base(1), base(syncookies));
  EchoServer srv(n.server);
  Injector inj;
  FloodResult r;
  std::vector<std::unique_ptr<EchoClient>> clients;
  std::uint64_t rng = 0x243f6a8885a308d3ULL;
  auto next = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  std::uint32_t isn = 1;
  for (std::uint64_t t = 0; t < kFloodUs; t += kStepUs) {
    n.now = t;
    for (int i = 0; i < kSynsPerStep; ++i) {
      const std::uint64_t x = next();
      // 198.18.0.0/15, but never the two real hosts.
      std::uint32_t src = 0xC6120000u | static_cast<std::uint32_t>(x & 0x1ffff);
      if (src == kClientAddr || src == kServerAddr) src += 16;
      const auto sport = static_cast<std::uint16_t>(1024 + ((x >> 17) % 64512));
      wire::TcpFields s = syn(isn += 7919);
      if (x & (1ull << 40)) {  // half of them with a full option set
        s.options.mss = 1460;
        s.options.wscale = 7;
        s.options.sack_permitted = true;
        s.options.ts = wire::TcpTimestamps{static_cast<std::uint32_t>(x >> 32), 0};
      }
      inj.send(n.server, n.now, src, sport, s);
    }
    if (t % kConnectEveryUs == 0) {
      clients.push_back(std::make_unique<EchoClient>(n.client, 100));
      ++r.attempts;
    }
    n.step();
  }
  // 100 ms after the flood's end: before the clients' first SYN retransmission (1 s).
  n.run_for(100 * kMs);
  for (const auto& c : clients) r.connected += c->got == c->total ? 1 : 0;
  r.server_conn_hw = n.server_conn_hw;
  r.server = n.server.counters();
  n.run_for(64 * kSec);  // every flood half-open has given up by now
  r.server_conn_after = n.server.connection_count();
  return r;
}

TEST(SynFlood, CookiesKeepLegitimateClientsConnectingWithBoundedMemory) {
  const Config cfg = base(0);
  const double slot_bytes =
      static_cast<double>(sizeof(tcp::ConnEntry)) + cfg.tcp_rmem.def + cfg.tcp_wmem.def;
  FloodResult res[3];
  for (int mode = 0; mode < 3; ++mode) {
    res[mode] = flood(mode);
    const FloodResult& r = res[mode];
    std::printf(
        "tcp_syncookies=%d: legitimate %d/%d (%.1f %%), server connections high-water %zu / "
        "%d pool (%.1f MiB of slots), SyncookiesSent %llu Recv %llu Failed %llu, "
        "TCPReqQFullDrop %llu DoCookies %llu ListenDrops %llu\n",
        mode, r.connected, r.attempts, 100.0 * r.connected / r.attempts, r.server_conn_hw,
        cfg.max_connections, static_cast<double>(r.server_conn_hw) * slot_bytes / (1 << 20),
        static_cast<unsigned long long>(r.server.SyncookiesSent),
        static_cast<unsigned long long>(r.server.SyncookiesRecv),
        static_cast<unsigned long long>(r.server.SyncookiesFailed),
        static_cast<unsigned long long>(r.server.TCPReqQFullDrop),
        static_cast<unsigned long long>(r.server.TCPReqQFullDoCookies),
        static_cast<unsigned long long>(r.server.ListenDrops));
    EXPECT_EQ(r.server_conn_after, 0u) << mode;
    EXPECT_EQ(r.server.SyncookiesFailed, 0u) << mode;
  }
  const int backlog = cfg.tcp_max_syn_backlog;
  // 0: the flood fills the backlog in its first 0.1 ms and keeps it full; legitimate SYNs are
  // dropped like the flood's.
  EXPECT_LT(res[0].connected, res[0].attempts / 10);
  EXPECT_GT(res[0].server.TCPReqQFullDrop, 90'000u);
  EXPECT_EQ(res[0].server.SyncookiesSent, 0u);
  EXPECT_LE(res[0].server_conn_hw, static_cast<std::size_t>(backlog) + 8);
  // 1: the backlog fills the same way, then every SYN gets a cookie.
  EXPECT_EQ(res[1].connected, res[1].attempts);
  EXPECT_GT(res[1].server.SyncookiesSent, 90'000u);
  EXPECT_GE(res[1].server.SyncookiesRecv, static_cast<std::uint64_t>(res[1].attempts) - 8);
  EXPECT_LE(res[1].server_conn_hw, static_cast<std::size_t>(backlog) + 8);
  // 2: no state for any SYN: only the legitimate connections, a few at a time.
  EXPECT_EQ(res[2].connected, res[2].attempts);
  EXPECT_EQ(res[2].server.SyncookiesRecv, static_cast<std::uint64_t>(res[2].attempts));
  EXPECT_LE(res[2].server_conn_hw, 8u);
}

}  // namespace
}  // namespace twtcp
