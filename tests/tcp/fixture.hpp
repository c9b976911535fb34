// tests/tcp/fixture.hpp: builds a Connection in a named state against a scripted peer, and a
// template segment from that peer that each test varies (smoltcp's tcp.rs style).
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <vector>

#include "tcp/connection.hpp"

namespace twtcp::tcp::testing {

inline constexpr std::uint32_t kIss = 1000;        // our ISN
inline constexpr std::uint32_t kPeerIss = 500000;  // the peer's ISN
inline constexpr std::uint8_t kPeerWscale = 7;
inline constexpr std::uint16_t kPeerMss = 1460;
inline constexpr std::uint32_t kPeerTs = 1000;  // the peer's TSval unless a test changes it

class TcpTest : public ::testing::Test {
 protected:
  Params params;
  Counters ctr;
  OutQueue out;
  std::unique_ptr<Connection> conn;
  std::uint64_t now = 10'000'000;  // 10 s: clear of the clocks' first-second special case
  std::uint32_t peer_nxt = kPeerIss + 1;
  std::uint32_t peer_ts = kPeerTs;
  std::uint32_t rcvbuf = 0;  // 0 = params.rcvbuf
  std::uint32_t sndbuf = 0;

  Connection& c() { return *conn; }
  void make() { conn = std::make_unique<Connection>(params, ctr, out, sndbuf, rcvbuf); }

  // The peer's SYN / SYN-ACK with every option.
  Segment peer_syn(bool with_ack) {
    Segment s;
    s.seq = kPeerIss;
    s.flags = with_ack ? (flags::kSyn | flags::kAck) : flags::kSyn;
    s.ack = with_ack ? kIss + 1 : 0;
    s.window = 65535;
    s.opts.mss = kPeerMss;
    s.opts.wscale = kPeerWscale;
    s.opts.sack_ok = true;
    s.opts.has_ts = true;
    s.opts.tsval = peer_ts;
    s.opts.tsecr = with_ack ? last_tsval() : 0;
    return s;
  }

  // The TSval of the last segment we sent (what the peer echoes).
  std::uint32_t last_tsval() const { return last_our_tsval_; }

  // The template: a pure ACK from the peer at the current sequence numbers.
  Segment tmpl() {
    Segment s;
    s.seq = peer_nxt;
    s.ack = c().tcb().snd_nxt;
    s.flags = flags::kAck;
    s.window = 65535;
    if (c().tcb().ts_ok) {
      s.opts.has_ts = true;
      s.opts.tsval = peer_ts;
      s.opts.tsecr = last_tsval();
    }
    return s;
  }

  // Feeds one segment; returns what the connection sent in answer.
  std::span<const OutSegment> send(const Segment& s) {
    out.clear();
    c().on_segment(s, now);
    note_output();
    return out.view();
  }
  std::span<const OutSegment> fire(std::uint64_t at) {
    now = at;
    out.clear();
    c().on_timer(now);
    note_output();
    return out.view();
  }
  void note_output() {
    for (const auto& o : out.view()) {
      if (o.opts.has_ts) last_our_tsval_ = o.opts.tsval;
    }
  }
  template <typename F>
  std::span<const OutSegment> app(F&& f) {
    out.clear();
    f();
    note_output();
    return out.view();
  }

  // Builds a connection in `st`. Active open unless `st` is SYN-RECEIVED (passive).
  Connection& connection_in(State st) {
    make();
    if (st == State::kClosed) return c();
    if (st == State::kSynReceived) {
      out.clear();
      EXPECT_TRUE(c().accept_syn(peer_syn(false), kIss, 0, now));
      note_output();
      return c();
    }
    app([&] { c().connect(kIss, 0, now); });
    if (st == State::kSynSent) return c();
    send(peer_syn(true));
    EXPECT_EQ(c().state(), State::kEstablished);
    switch (st) {
      case State::kEstablished:
        break;
      case State::kFinWait1:
        app([&] { c().shutdown_write(now); });
        break;
      case State::kFinWait2:
        app([&] { c().shutdown_write(now); });
        send(tmpl());
        break;
      case State::kCloseWait:
        peer_fin();
        break;
      case State::kClosing: {
        app([&] { c().shutdown_write(now); });
        Segment fin = tmpl();
        fin.ack = kIss + 1;  // does not ACK our FIN
        fin.flags |= flags::kFin;
        send(fin);
        ++peer_nxt;
        break;
      }
      case State::kLastAck:
        peer_fin();
        app([&] { c().shutdown_write(now); });
        break;
      default:
        ADD_FAILURE() << "no recipe for " << to_string(st);
    }
    EXPECT_EQ(c().state(), st);
    (void)c().take_events();
    return c();
  }

  void peer_fin() {
    Segment fin = tmpl();
    fin.flags |= flags::kFin;
    send(fin);
    ++peer_nxt;
  }

  // A data segment from the peer carrying `n` bytes of `fill`.
  Segment data(std::size_t n, std::uint8_t fill = 'x') {
    payload_.assign(n, fill);
    Segment s = tmpl();
    s.flags |= flags::kPsh;
    s.payload = payload_;
    return s;
  }

  // A data segment `offset` bytes past peer_nxt carrying `n` bytes of `fill`. Each one keeps
  // its own payload, so several can be built before they are sent.
  Segment data_at(std::uint32_t offset, std::size_t n, std::uint8_t fill) {
    payloads_.emplace_back(n, fill);
    Segment s = tmpl();
    s.seq = peer_nxt + offset;
    s.flags |= flags::kPsh;
    s.payload = payloads_.back();
    return s;
  }

  // Reads everything readable.
  std::vector<std::uint8_t> read_all() {
    std::vector<std::uint8_t> got(c().readable());
    got.resize(c().recv(got, now));
    return got;
  }

 private:
  std::uint32_t last_our_tsval_ = 0;
  std::vector<std::uint8_t> payload_;
  std::deque<std::vector<std::uint8_t>> payloads_;
};

}  // namespace twtcp::tcp::testing
