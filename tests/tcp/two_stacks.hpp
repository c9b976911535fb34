// tests/tcp/two_stacks.hpp: two Stacks (client 198.18.0.2, server 198.18.0.1) back to back
// on a virtual clock, with a link that can drop frames and a way to inject forged ones, for
// tests that look at what crosses the wire (SACK blocks, blind-injection attacks).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <vector>

#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"
#include "wire/segment.hpp"

namespace twtcp::testing {

inline constexpr std::uint32_t kClientAddr = 0xC6120002;  // 198.18.0.2
inline constexpr std::uint32_t kServerAddr = 0xC6120001;  // 198.18.0.1
inline constexpr std::uint64_t kSec = 1'000'000;

struct Frame {
  std::uint64_t at = 0;
  std::vector<std::uint8_t> bytes;
};

// A one-way link with a fixed delay. `drop` (if set) sees every parsed segment and may drop
// it; `seen` records every segment put on the link (dropped ones included).
struct Link : TxSink {
  std::uint64_t* now = nullptr;
  std::uint64_t delay_us = 500;
  std::deque<Frame> q;
  std::function<bool(const wire::SegmentView&)> drop;
  std::function<void(const wire::SegmentView&)> seen;
  std::uint64_t dropped = 0;
  std::span<const std::uint8_t> last;  // the frame being transmitted, while `seen` runs
  void transmit(std::span<const std::uint8_t> f) override {
    last = f;
    const auto v = wire::parse_segment(f);
    if (v && seen) seen(*v);
    if (v && drop && drop(*v)) {
      ++dropped;
      return;
    }
    q.push_back(Frame{*now + delay_us, {f.begin(), f.end()}});
  }
};

inline Identity ident(std::uint32_t addr, std::uint8_t mac_last, std::uint8_t peer_last) {
  Identity id;
  id.addr = addr;
  id.mac = {2, 0, 0, 0, 0, mac_last};
  id.peer_mac = {2, 0, 0, 0, 0, peer_last};
  return id;
}

inline Config small_config(Config c = {}) {
  c.max_connections = 512;
  c.flow_table_capacity = 4096;
  c.peer_table_size = 64;
  c.random_seed = 42;
  return c;
}

struct Net {
  std::uint64_t now = 0;
  Link c2s, s2c;
  Stack client;
  Stack server;
  // Frames due at the same instant go to Stack::input_burst() together instead of one by one
  // to input(), as a poll loop hands over an RX burst.
  bool burst = false;
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
      deliver_due(c2s, server);
      deliver_due(s2c, client);
      client.advance(now);
      server.advance(now);
    }
    now = std::max(now, until);
    client.advance(now);
    server.advance(now);
  }
  void run_for(std::uint64_t us) { run_until(now + us); }

  // Taken off the link first (delivering queues answers on the other link only), then handed
  // over one by one or as one burst.
  void deliver_due(Link& link, Stack& to) {
    std::vector<Frame> due;
    while (!link.q.empty() && link.q.front().at <= now) {
      due.push_back(std::move(link.q.front()));
      link.q.pop_front();
    }
    if (!burst) {
      for (const Frame& f : due) to.input(f.bytes, now);
      return;
    }
    std::vector<RxFrame> rx;
    for (const Frame& f : due) rx.push_back(RxFrame{f.bytes, {}});
    if (!rx.empty()) to.input_burst(rx, now);
  }
};

// A forged segment from `src` to `dst` (host order), as an off-path attacker would send it.
inline std::vector<std::uint8_t> forge(std::uint32_t src, std::uint16_t sport, std::uint32_t dst,
                                       std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                                       std::uint8_t flags,
                                       std::span<const std::uint8_t> payload = {},
                                       std::uint16_t window = 65535) {
  wire::SegmentSpec s;
  s.eth_src = {2, 0, 0, 0, 0, 0x66};
  s.eth_dst = {2, 0, 0, 0, 0, dst == kServerAddr ? std::uint8_t{1} : std::uint8_t{2}};
  s.src_addr = src;
  s.dst_addr = dst;
  s.tcp.src_port = sport;
  s.tcp.dst_port = dport;
  s.tcp.seq = seq;
  s.tcp.ack = ack;
  s.tcp.flags = flags;
  s.tcp.window = window;
  std::vector<std::uint8_t> out(1600);
  out.resize(wire::build_segment(out, s, payload));
  return out;
}

}  // namespace twtcp::testing
