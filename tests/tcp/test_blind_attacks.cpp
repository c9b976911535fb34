// tests/tcp/test_blind_attacks.cpp: an off-path attacker who knows a connection's 4-tuple but
// not its sequence numbers (RFC 5961) floods a Stack with forged RSTs, SYNs and data. The
// stack answers with challenge / duplicate ACKs within net.ipv4.tcp_challenge_ack_limit (per
// second, stack-wide) and tcp_invalid_ratelimit (per connection), the connections survive,
// and only an exact RST still resets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tcp/connection.hpp"
#include "two_stacks.hpp"

namespace twtcp::testing {
namespace {

namespace fl = wire::tcp_flags;

constexpr std::uint16_t kPort = 80;
// Well inside the server's receive window (rcvbuf 128 KB) and never 0: in window, not exact.
constexpr std::uint32_t kWindowGuess = 60000;

// Two stacks with `conns` established, idle connections from the client to the server.
struct Attacked {
  std::unique_ptr<Net> n;
  std::vector<ConnId> client_ids;
  std::vector<ConnId> server_ids;            // in accept order = connect order
  std::map<std::uint16_t, std::string> got;  // server side: bytes received, by client port
  std::map<std::uint16_t, CloseReason> server_closed;
  std::uint64_t acks_to_client = 0;  // server -> client pure ACKs put on the wire
  std::uint64_t rsts_to_client = 0;
  std::uint64_t forged = 0;

  Attacked(const Config& server_cfg, int conns) {
    n = std::make_unique<Net>(small_config(), server_cfg);
    n->s2c.seen = [this](const wire::SegmentView& v) {
      if (v.has(fl::kRst)) ++rsts_to_client;
      if (v.flags == fl::kAck && v.payload.empty()) ++acks_to_client;
    };
    Callbacks srv;
    srv.on_readable = [this](ConnId id) {
      std::uint8_t buf[4096];
      const std::size_t k = n->server.recv(id, buf);
      got[port_of_server_conn(id)].append(reinterpret_cast<const char*>(buf), k);
    };
    srv.on_closed = [this](ConnId id, CloseReason r) { server_closed[server_port_[id]] = r; };
    srv.on_accepted = [this](ConnId id) {
      // The client's port is the server connection's remote port; the accept order is the
      // connect order, so record it from the client ids.
      server_port_[id] = n->client.local_port(client_ids[server_port_.size()]);
      server_ids.push_back(id);
    };
    srv.on_peer_closed = [this](ConnId id) { n->server.close(id); };
    EXPECT_TRUE(n->server.listen(kPort, srv));
    for (int i = 0; i < conns; ++i) {
      const ConnectResult r = n->client.connect(kServerAddr, kPort);
      EXPECT_TRUE(r.ok());
      client_ids.push_back(r.id);
      n->run_for(5000);
    }
    n->run_until(kSec);  // attacks start on a second boundary
    EXPECT_EQ(n->server.connection_count(), static_cast<std::size_t>(conns));
  }
  std::uint16_t port_of_server_conn(ConnId id) { return server_port_[id]; }

  // A segment claiming to come from client connection `i`, injected into the server now.
  void inject(std::size_t i, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
              std::span<const std::uint8_t> payload = {}) {
    const auto f = forge(kClientAddr, n->client.local_port(client_ids[i]), kServerAddr, kPort, seq,
                         ack, flags, payload);
    n->server.input(f, n->now);
    ++forged;
  }
  std::uint32_t rcv_nxt(std::size_t i) const { return n->client.snd_nxt(client_ids[i]); }

 private:
  std::map<ConnId, std::uint16_t> server_port_;
};

Config server_config(std::int32_t limit, std::int32_t invalid_ratelimit_ms,
                     KernelModel model = KernelModel::V6_18) {
  Config c = small_config();
  c.kernel_model = model;
  c.tcp_challenge_ack_limit = limit;
  c.tcp_invalid_ratelimit = invalid_ratelimit_ms;
  return c;
}

// Challenge ACKs the server sent in each whole second of a flood of `seconds` seconds, one
// forged segment from `make` every `gap_us`, round-robin over the connections.
std::vector<std::uint64_t> flood(Attacked& a, int seconds, std::uint64_t gap_us,
                                 const std::function<void(Attacked&, std::size_t, int)>& make) {
  std::vector<std::uint64_t> per_second;
  int k = 0;
  for (int s = 0; s < seconds; ++s) {
    const std::uint64_t before = a.n->server.counters().TCPChallengeACK;
    const std::uint64_t end = a.n->now + kSec;
    for (std::uint64_t t = a.n->now; t < end; t += gap_us, ++k) {
      a.n->run_until(t);
      make(a, static_cast<std::size_t>(k) % a.client_ids.size(), k);
    }
    a.n->run_until(end);
    per_second.push_back(a.n->server.counters().TCPChallengeACK - before);
  }
  return per_second;
}

void in_window_rst(Attacked& a, std::size_t i, int k) {
  a.inject(i, a.rcv_nxt(i) + 1 + static_cast<std::uint32_t>(k * 7919) % kWindowGuess, 0, fl::kRst);
}
void blind_syn(Attacked& a, std::size_t i, int k) {
  a.inject(i, static_cast<std::uint32_t>(k) * 2654435761u, 0, fl::kSyn);
}

std::string join(const std::vector<std::uint64_t>& v) {
  std::string s;
  for (std::uint64_t x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return s;
}

// The connection still works both ways after the attack, and an exact RST still resets it.
void expect_survives_and_exact_rst_resets(Attacked& a, std::size_t i) {
  const std::uint16_t port = a.n->client.local_port(a.client_ids[i]);
  ASSERT_NE(port, 0u) << "client connection died";
  const std::string msg = "still here";
  EXPECT_EQ(
      a.n->client.send(a.client_ids[i],
                       std::span(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size())),
      msg.size());
  a.n->run_for(100'000);
  EXPECT_EQ(a.got[port], msg);
  EXPECT_FALSE(a.server_closed.contains(port));
  const std::size_t live = a.n->server.connection_count();
  a.inject(i, a.rcv_nxt(i), 0, fl::kRst);
  a.n->run_for(1000);
  ASSERT_TRUE(a.server_closed.contains(port));
  EXPECT_EQ(a.server_closed[port], CloseReason::kPeerReset);
  EXPECT_EQ(a.n->server.connection_count(), live - 1);
}

// Linux >= 4.7 budget for one second: ceil(limit/2) + [0, limit).
constexpr std::uint64_t kLimit = 100;
constexpr std::uint64_t kBudgetMin = (kLimit + 1) / 2;
constexpr std::uint64_t kBudgetMax = kBudgetMin + kLimit - 1;

TEST(ChallengeAckBudget, RandomisedBudgetAveragesTheLimitAndCountsRefusals) {
  tcp::ChallengeAckBudget b(1000, true, 7);
  std::uint64_t total = 0, refused = 0, lo = UINT64_MAX, hi = 0;
  for (std::uint64_t s = 0; s < 400; ++s) {
    std::uint64_t n = 0;
    for (int k = 0; k < 2000; ++k) {
      if (b.take(s * kSec + static_cast<std::uint64_t>(k) * 400)) {
        ++n;
      } else {
        ++refused;
      }
    }
    lo = std::min(lo, n);
    hi = std::max(hi, n);
    total += n;
  }
  EXPECT_GE(lo, 500u);
  EXPECT_LE(hi, 1499u);
  EXPECT_LT(lo, 600u);  // the whole range is used
  EXPECT_GT(hi, 1400u);
  EXPECT_NEAR(static_cast<double>(total) / 400, 1000.0, 30.0);
  EXPECT_EQ(b.skipped(), refused);
}

TEST(ChallengeAckBudget, ZeroRefusesAllUnlimitedRefusesNone) {
  tcp::ChallengeAckBudget none(0, true, 1), fixed_none(0, false, 1);
  tcp::ChallengeAckBudget all(tcp::ChallengeAckBudget::kUnlimited, true, 1);
  for (std::uint64_t t = 0; t < 3 * kSec; t += 1000) {
    EXPECT_FALSE(none.take(t));
    EXPECT_FALSE(fixed_none.take(t));
    EXPECT_TRUE(all.take(t));
  }
  EXPECT_EQ(all.skipped(), 0u);
  EXPECT_EQ(none.skipped(), 3000u);
}

TEST(BlindRstInjection, FloodOnOneConnectionGetsAtMostTheStackWideChallengeBudget) {
  // tcp_invalid_ratelimit 0: only the stack-wide limit stands between the flood and the ACKs.
  Attacked a(server_config(kLimit, 0), 1);
  const auto per_second = flood(a, 4, 200, in_window_rst);  // 5000 RSTs a second
  std::printf("challenge ACKs per second, limit %llu, 5000 in-window RSTs/s: %s\n",
              static_cast<unsigned long long>(kLimit), join(per_second).c_str());
  std::uint64_t total = 0;
  for (std::uint64_t c : per_second) {
    EXPECT_GE(c, kBudgetMin);
    EXPECT_LE(c, kBudgetMax);
    total += c;
  }
  // Randomised, not a constant an attacker can count against (CVE-2016-5696).
  EXPECT_NE(*std::min_element(per_second.begin(), per_second.end()),
            *std::max_element(per_second.begin(), per_second.end()));
  const StackCounters c = a.n->server.counters();
  EXPECT_EQ(c.TCPACKSkippedChallenge, 0u);
  EXPECT_EQ(a.acks_to_client, total);  // every counted challenge ACK went out, nothing else
  EXPECT_EQ(a.rsts_to_client, 0u);
  expect_survives_and_exact_rst_resets(a, 0);
}

TEST(BlindRstInjection, FixedBudgetOfLinux3) {
  Attacked a(server_config(kLimit, 0, KernelModel::V3_10), 1);
  const auto per_second = flood(a, 3, 500, in_window_rst);
  EXPECT_EQ(per_second, (std::vector<std::uint64_t>(3, kLimit)));
  EXPECT_EQ(a.n->server.counters().TwtcpChallengeAckLimited, a.forged - 3 * kLimit);
  expect_survives_and_exact_rst_resets(a, 0);
}

TEST(BlindRstInjection, FloodOverManyConnectionsSharesOneBudget) {
  // 200 connections, each allowed 2 challenge ACKs a second by tcp_invalid_ratelimit (500 ms):
  // 400 a second without the stack-wide limit.
  constexpr int kConns = 200;
  Attacked a(server_config(kLimit, 500), kConns);
  const auto per_second = flood(a, 3, 100, in_window_rst);  // 50 RSTs/s per connection
  const StackCounters c = a.n->server.counters();
  std::uint64_t total = 0;
  for (std::uint64_t x : per_second) {
    EXPECT_GE(x, kBudgetMin);
    EXPECT_LE(x, kBudgetMax);
    total += x;
  }
  const std::uint64_t skipped_stack_wide = a.forged - total - c.TCPACKSkippedChallenge;
  std::printf(
      "%d connections, %llu forged RSTs in 3 s: challenge ACKs per second %s, "
      "TCPACKSkippedChallenge %llu, skipped by the stack-wide limit %llu\n",
      kConns, static_cast<unsigned long long>(a.forged), join(per_second).c_str(),
      static_cast<unsigned long long>(c.TCPACKSkippedChallenge),
      static_cast<unsigned long long>(skipped_stack_wide));
  EXPECT_GT(c.TCPACKSkippedChallenge, 0u);  // the per-connection limit acts first
  EXPECT_GT(skipped_stack_wide, 0u);        // and the stack-wide one on what it lets by
  EXPECT_EQ(c.TwtcpChallengeAckLimited, skipped_stack_wide);  // each one counted
  EXPECT_EQ(a.n->server.connection_count(), static_cast<std::size_t>(kConns));
  EXPECT_EQ(a.n->client.connection_count(), static_cast<std::size_t>(kConns));
  expect_survives_and_exact_rst_resets(a, 17);
  EXPECT_EQ(a.n->server.connection_count(), static_cast<std::size_t>(kConns - 1));
}

TEST(BlindRstInjection, DefaultLimitIsUnlimitedAndOnlyThePerConnectionLimitActs) {
  Attacked a(server_config(tcp::ChallengeAckBudget::kUnlimited, 500), 1);
  const auto per_second = flood(a, 2, 1000, in_window_rst);
  EXPECT_EQ(per_second, (std::vector<std::uint64_t>{2, 2}));  // one per 500 ms
  expect_survives_and_exact_rst_resets(a, 0);
}

TEST(BlindSynInjection, FloodIsCountedAndChallengedWithinTheBudget) {
  Attacked a(server_config(kLimit, 0), 4);
  const auto per_second = flood(a, 3, 250, blind_syn);  // 4000 SYNs a second
  std::printf("blind SYNs, challenge ACKs per second (limit %llu): %s\n",
              static_cast<unsigned long long>(kLimit), join(per_second).c_str());
  for (std::uint64_t x : per_second) {
    EXPECT_GE(x, kBudgetMin);
    EXPECT_LE(x, kBudgetMax);
  }
  const StackCounters c = a.n->server.counters();
  EXPECT_EQ(c.TCPSYNChallenge, a.forged);  // Linux counts every SYN, answered or not
  EXPECT_EQ(c.PassiveOpens, 4u);           // no SYN opened anything
  EXPECT_EQ(a.rsts_to_client, 0u);
  EXPECT_EQ(a.n->server.connection_count(), 4u);
  for (std::size_t i = 0; i < 4; ++i) expect_survives_and_exact_rst_resets(a, i);
}

TEST(BlindDataInjection, GuessedSequenceOutOfWindowIsNotDelivered) {
  Attacked a(server_config(kLimit, 500), 1);
  const std::string evil = "rm -rf /";
  const std::span payload(reinterpret_cast<const std::uint8_t*>(evil.data()), evil.size());
  const std::uint64_t acks_before = a.acks_to_client;
  // 1000 guesses spread over the half of the sequence space behind and beyond the window.
  for (int k = 0; k < 1000; ++k) {
    const std::uint32_t seq = a.rcv_nxt(0) + 0x10000000u + static_cast<std::uint32_t>(k) * 0xdead;
    a.inject(0, seq, 0, fl::kAck | fl::kPsh, payload);
    a.n->run_for(1000);
  }
  const std::uint64_t data_acks = a.acks_to_client - acks_before;
  // Pure ACKs with guessed sequence numbers: answered at most once per tcp_invalid_ratelimit.
  for (int k = 0; k < 1000; ++k) {
    a.inject(0, a.rcv_nxt(0) + 0x20000000u + static_cast<std::uint32_t>(k) * 0xbeef, 0, fl::kAck);
    a.n->run_for(1000);
  }
  const std::uint64_t pure_acks = a.acks_to_client - acks_before - data_acks;
  const StackCounters c = a.n->server.counters();
  std::printf(
      "1000 blind data segments out of window: %llu duplicate ACKs; 1000 blind pure "
      "ACKs in 1 s: %llu duplicate ACKs, TCPACKSkippedSeq %llu\n",
      static_cast<unsigned long long>(data_acks), static_cast<unsigned long long>(pure_acks),
      static_cast<unsigned long long>(c.TCPACKSkippedSeq));
  EXPECT_TRUE(a.got.empty() || a.got.begin()->second.empty()) << "forged data was delivered";
  // Linux (tcp_oow_rate_limited) answers every data segment: it cannot be part of an ACK
  // loop. The duplicate ACK tells an off-path attacker nothing it did not send.
  EXPECT_EQ(data_acks, 1000u);
  EXPECT_LE(pure_acks, 3u);
  EXPECT_GE(c.TCPACKSkippedSeq, 997u);
  EXPECT_EQ(c.TCPChallengeACK, 0u);
  expect_survives_and_exact_rst_resets(a, 0);
}

TEST(BlindDataInjection, InWindowWithAGuessedOldAckIsChallengedNotDelivered) {
  // RFC 5961 §5.2: the sequence number guessed right, the ACK older than anything the peer
  // could have seen: a challenge ACK instead of accepting the data.
  Attacked a(server_config(kLimit, 0), 1);
  const std::string evil = "injected";
  const std::span payload(reinterpret_cast<const std::uint8_t*>(evil.data()), evil.size());
  const std::uint32_t server_snd_una = a.n->server.snd_nxt(a.server_ids[0]);
  for (int k = 0; k < 50; ++k) {
    a.inject(0, a.rcv_nxt(0), server_snd_una + 0x80001000u + static_cast<std::uint32_t>(k) * 977,
             fl::kAck, payload);
    a.n->run_for(1000);
  }
  const StackCounters c = a.n->server.counters();
  EXPECT_TRUE(a.got.empty() || a.got.begin()->second.empty()) << "forged data was delivered";
  EXPECT_EQ(c.TCPChallengeACK, 50u);
  expect_survives_and_exact_rst_resets(a, 0);
}

TEST(BlindDataInjection, IntoTimeWaitIsAckedAndTheEntryKept) {
  // The client closes first and holds the TIME_WAIT entry; the attacker forges data from the
  // server's side of the 4-tuple with guessed sequence numbers.
  Attacked a(server_config(kLimit, 500), 1);
  const std::uint16_t port = a.n->client.local_port(a.client_ids[0]);
  a.n->client.close(a.client_ids[0]);
  a.n->run_for(100'000);
  ASSERT_EQ(a.n->client.timewait_count(), 1u);
  ASSERT_EQ(a.n->server.connection_count(), 0u);
  // The client's answers go nowhere (the server would RST them, and that RST is exact).
  std::uint64_t acks = 0, rsts = 0;
  a.n->c2s.seen = [&](const wire::SegmentView& v) {
    if (v.has(fl::kRst)) ++rsts;
    if (v.has(fl::kAck) && v.payload.empty()) ++acks;
  };
  a.n->c2s.drop = [](const wire::SegmentView&) { return true; };
  const std::string evil = "HTTP/1.0 302 Found";
  const std::span payload(reinterpret_cast<const std::uint8_t*>(evil.data()), evil.size());
  const std::uint64_t attack_start = a.n->now;
  for (int k = 0; k < 500; ++k) {
    const auto f = forge(kServerAddr, kPort, kClientAddr, port,
                         0x12345678u + static_cast<std::uint32_t>(k) * 0x01000193u, 0x9abcdef0u,
                         fl::kAck | fl::kPsh, payload);
    a.n->client.input(f, a.n->now);
    a.n->run_for(2000);
  }
  // Pure ACKs with guessed numbers as well: these are rate limited (TCPACKSkippedTimeWait).
  for (int k = 0; k < 500; ++k) {
    const auto f =
        forge(kServerAddr, kPort, kClientAddr, port,
              0x76543210u + static_cast<std::uint32_t>(k) * 0x01000193u, 0x9abcdef0u, fl::kAck);
    a.n->client.input(f, a.n->now);
    a.n->run_for(2000);
  }
  const StackCounters c = a.n->client.counters();
  std::printf(
      "TIME_WAIT: 500 blind data segments + 500 blind pure ACKs over 2 s: %llu ACKs, "
      "TCPACKSkippedTimeWait %llu\n",
      static_cast<unsigned long long>(acks),
      static_cast<unsigned long long>(c.TCPACKSkippedTimeWait));
  EXPECT_EQ(rsts, 0u);
  EXPECT_EQ(acks, 500u + 2u);  // every data segment; one pure ACK per 500 ms
  EXPECT_EQ(c.TCPACKSkippedTimeWait, 498u);
  EXPECT_EQ(a.n->client.timewait_count(), 1u);
  EXPECT_EQ(c.TWKilled, 0u);
  // Each ACK-bearing segment re-armed the entry to 60 s: it outlives the 60 s from its start.
  a.n->run_until(attack_start + 60 * kSec);
  EXPECT_EQ(a.n->client.timewait_count(), 1u);
  a.n->run_until(a.n->now + 3 * kSec);
  EXPECT_EQ(a.n->client.timewait_count(), 0u);
}

}  // namespace
}  // namespace twtcp::testing
