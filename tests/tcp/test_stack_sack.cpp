// tests/tcp/test_stack_sack.cpp: SACK blocks (RFC 2018) crossing the wire between two Stacks:
// the receiver's ACKs carry them through lib/wire, and the sender's recovery uses them.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "two_stacks.hpp"
#include "wire/seq.hpp"

namespace twtcp::testing {
namespace {

constexpr std::size_t kBytes = 1'000'000;

// Every 200th new data segment starts a loss burst: it is lost together with its first
// retransmission (which forces an RTO), and so is every 3rd new segment after it, 8 times.
// After the RTO the sender goes back to snd_una: with SACK it resends only the holes; without,
// everything after each hole that the growing window lets out again.
struct LossyLink {
  std::uint32_t max_end = 0;
  bool started = false;
  int new_segments = 0;
  int burst_at = -1;
  std::map<std::uint32_t, int> doomed;  // seq -> further drops due
  bool operator()(const wire::SegmentView& v) {
    if (v.payload.empty()) return false;
    if (auto it = doomed.find(v.seq); it != doomed.end()) {
      if (it->second == 0) return false;
      --it->second;
      return true;
    }
    if (started && !wire::seq_after(v.end_seq(), max_end)) return false;
    started = true;
    max_end = v.end_seq();
    const int k = ++new_segments;
    if (k % 200 == 0) {
      burst_at = k;
      doomed[v.seq] = 1;
      return true;
    }
    if (burst_at > 0 && k - burst_at <= 24 && (k - burst_at) % 3 == 0) {
      doomed[v.seq] = 0;
      return true;
    }
    return false;
  }
};

// With STACK_SACK_PCAP=FILE, the receiver's frames go to a classic pcap file, to check the
// blocks with `tshark -r FILE -Y tcp.options.sack_le`.
struct Pcap {
  std::FILE* f = nullptr;
  explicit Pcap(const char* path) : f(path ? std::fopen(path, "wb") : nullptr) {
    const std::uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};  // v2.4, Ethernet
    if (f) std::fwrite(hdr, sizeof hdr, 1, f);
  }
  ~Pcap() {
    if (f) std::fclose(f);
  }
  void write(std::uint64_t now_us, std::span<const std::uint8_t> frame) {
    if (!f) return;
    const std::uint32_t rec[4] = {static_cast<std::uint32_t>(now_us / 1'000'000),
                                  static_cast<std::uint32_t>(now_us % 1'000'000),
                                  static_cast<std::uint32_t>(frame.size()),
                                  static_cast<std::uint32_t>(frame.size())};
    std::fwrite(rec, sizeof rec, 1, f);
    std::fwrite(frame.data(), frame.size(), 1, f);
  }
};

struct Result {
  StackCounters client;
  std::size_t received = 0;
  bool intact = true;
  std::uint64_t acks_with_sack = 0;
  std::uint64_t sack_blocks_above_ack = 0;  // blocks that lie beyond the ACK, as they must
  std::uint64_t sack_blocks = 0;
  std::uint64_t virtual_ms = 0;
};

Result transfer(bool sack) {
  Config c = small_config();
  c.tcp_sack = sack;
  c.tcp_wmem.def = 262144;
  c.tcp_rmem.def = 262144;
  auto n = std::make_unique<Net>(c, c);
  Result r;
  LossyLink loss;
  n->c2s.drop = [&loss](const wire::SegmentView& v) { return loss(v); };
  Pcap pcap(sack ? std::getenv("STACK_SACK_PCAP") : nullptr);
  n->s2c.seen = [&r, &pcap, &n](const wire::SegmentView& v) {
    pcap.write(n->now, n->s2c.last);
    if (v.options.sack_count == 0) return;
    ++r.acks_with_sack;
    for (std::size_t b = 0; b < v.options.sack_count; ++b) {
      ++r.sack_blocks;
      if (wire::seq_after(v.options.sack[b].left, v.ack) &&
          wire::seq_before(v.options.sack[b].left, v.options.sack[b].right)) {
        ++r.sack_blocks_above_ack;
      }
    }
  };

  Callbacks srv;
  srv.on_readable = [&](ConnId id) {
    std::uint8_t buf[16384];
    while (const std::size_t k = n->server.recv(id, buf)) {
      for (std::size_t i = 0; i < k; ++i) {
        if (buf[i] != static_cast<std::uint8_t>((r.received + i) * 7)) r.intact = false;
      }
      r.received += k;
    }
  };
  EXPECT_TRUE(n->server.listen(5001, srv));

  std::vector<std::uint8_t> data(kBytes);
  for (std::size_t i = 0; i < kBytes; ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  std::size_t sent = 0;
  ConnectOptions o;
  auto pump = [&](ConnId id) {
    while (sent < kBytes) {
      const std::size_t k = n->client.send(id, std::span(data).subspan(sent));
      if (k == 0) break;
      sent += k;
    }
  };
  o.callbacks.on_connected = pump;
  o.callbacks.on_writable = pump;
  const ConnectResult cr = n->client.connect(kServerAddr, 5001, o);
  EXPECT_TRUE(cr.ok());
  for (int i = 0; i < 60'000 && r.received < kBytes; ++i) n->run_for(1000);
  r.virtual_ms = n->now / 1000;
  r.client = n->client.counters();
  return r;
}

TEST(StackSack, BlocksCrossTheWireAndRecoverySkipsWhatTheyCover) {
  const Result with = transfer(true);
  const Result without = transfer(false);
  std::printf(
      "1 MB, 9-hole loss bursts: SACK %llu ms, RetransSegs %llu, "
      "TCPTimeouts %llu, TCPSackRecovery %llu, ACKs with SACK %llu (%llu blocks); "
      "no SACK %llu ms, RetransSegs %llu, TCPTimeouts %llu, TCPRenoRecovery %llu\n",
      static_cast<unsigned long long>(with.virtual_ms),
      static_cast<unsigned long long>(with.client.RetransSegs),
      static_cast<unsigned long long>(with.client.TCPTimeouts),
      static_cast<unsigned long long>(with.client.TCPSackRecovery),
      static_cast<unsigned long long>(with.acks_with_sack),
      static_cast<unsigned long long>(with.sack_blocks),
      static_cast<unsigned long long>(without.virtual_ms),
      static_cast<unsigned long long>(without.client.RetransSegs),
      static_cast<unsigned long long>(without.client.TCPTimeouts),
      static_cast<unsigned long long>(without.client.TCPRenoRecovery));
  for (const Result* r : {&with, &without}) {
    EXPECT_EQ(r->received, kBytes);
    EXPECT_TRUE(r->intact);
  }
  // The receiver's ACKs carried SACK blocks describing data beyond the ACK.
  EXPECT_GT(with.acks_with_sack, 0u);
  EXPECT_EQ(with.sack_blocks_above_ack, with.sack_blocks);
  EXPECT_EQ(without.acks_with_sack, 0u);
  EXPECT_GT(with.client.TCPSackRecovery, 0u);
  EXPECT_EQ(with.client.TCPRenoRecovery, 0u);
  EXPECT_GT(without.client.TCPRenoRecovery, 0u);
  // Both go through RTOs; only the SACK sender knows what not to send again.
  EXPECT_GT(with.client.TCPTimeouts, 0u);
  EXPECT_GT(without.client.TCPTimeouts, 0u);
  EXPECT_LT(with.client.RetransSegs * 2, without.client.RetransSegs);
}

// Both sides send at once and every pure ACK is lost for a while: each side's data arrived,
// but neither knows, so both time out together and go back to snd_una. The retransmissions
// are old news to the receiver, which answers with an ACK; that ACK must carry the highest
// sequence sent (not the rewound snd_nxt) or the other side finds it out of window, drops
// it unread, and the two retransmit at each other until tcp_retries2 kills the connection.
TEST(LossRecovery, BothSidesTimingOutAtOnceStillLearnTheirDataArrived) {
  Net n(small_config(), small_config());
  constexpr std::size_t kEach = 8000;  // fits the initial window: all sent at once, with FIN
  const std::vector<std::uint8_t> from_client(kEach, 0xc1), from_server(kEach, 0x5e);
  std::vector<std::uint8_t> at_server, at_client;
  std::vector<CloseReason> closes;
  constexpr std::uint64_t kSendAt = 10'000, kAcksLostUntil = 150'000;
  n.c2s.drop = n.s2c.drop = [&](const wire::SegmentView& v) {
    return n.now >= kSendAt && n.now < kAcksLostUntil && v.payload.empty() &&
           !v.has(wire::tcp_flags::kFin);
  };
  const auto drain = [](Stack& s, ConnId id, std::vector<std::uint8_t>& into) {
    std::uint8_t buf[4096];
    while (const std::size_t k = s.recv(id, buf)) into.insert(into.end(), buf, buf + k);
  };
  ConnId server_id = 0;
  Callbacks srv;
  srv.on_accepted = [&](ConnId id) { server_id = id; };
  srv.on_readable = [&](ConnId id) { drain(n.server, id, at_server); };
  srv.on_closed = [&](ConnId, CloseReason r) { closes.push_back(r); };
  ASSERT_TRUE(n.server.listen(80, srv));
  ConnectOptions o;
  o.callbacks.on_readable = [&](ConnId id) { drain(n.client, id, at_client); };
  o.callbacks.on_closed = [&](ConnId, CloseReason r) { closes.push_back(r); };
  const ConnectResult c = n.client.connect(kServerAddr, 80, o);
  ASSERT_TRUE(c.ok());
  n.run_until(kSendAt);
  ASSERT_NE(server_id, 0u);
  // The same instant on both sides: neither segment can acknowledge the other's data.
  EXPECT_EQ(n.client.send(c.id, from_client), kEach);
  EXPECT_EQ(n.server.send(server_id, from_server), kEach);
  n.client.shutdown(c.id);
  n.server.shutdown(server_id);
  n.run_for(10 * kSec);
  EXPECT_EQ(at_server, from_client);
  EXPECT_EQ(at_client, from_server);
  EXPECT_GT(n.c2s.dropped, 0u);
  EXPECT_GT(n.s2c.dropped, 0u);
  EXPECT_GT(n.client.counters().TCPTimeouts, 0u);
  EXPECT_GT(n.server.counters().TCPTimeouts, 0u);
  // Both ends learn that their data and FIN arrived, and close cleanly.
  EXPECT_EQ(closes.size(), 2u);
  for (CloseReason r : closes) EXPECT_EQ(r, CloseReason::kNormal);
  EXPECT_EQ(n.client.counters().TCPAbortOnTimeout + n.server.counters().TCPAbortOnTimeout, 0u);
  EXPECT_EQ(n.client.connection_count() + n.server.connection_count(), 0u);
}

}  // namespace
}  // namespace twtcp::testing
