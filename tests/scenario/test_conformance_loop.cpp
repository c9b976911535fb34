// tests/scenario/test_conformance_loop.cpp: SPEC test cases that need a client and a server
// Stack running SPEC §9's connect loop (lib/scenario/connect_loop), named after their IDs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scenario/common.hpp"
#include "scenario/connect_loop.hpp"
#include "twtcp/config.hpp"

namespace twtcp::scenario {
namespace {

LoopSpec loop(std::vector<std::string> sets, std::uint64_t seconds = 5) {
  LoopSpec s;
  Config c = small_tables(Config{});
  c.random_seed = 3;
  sets.emplace_back("net.ipv4.ip_local_port_range=40000 40009");
  std::string err;
  EXPECT_TRUE(apply_sets(c, sets, err)) << err;
  s.client = c;
  s.server = small_tables(Config{});
  s.server.random_seed = 4;
  s.client_addr = ipv4(127, 0, 0, 1);
  s.server_addr = ipv4(127, 0, 0, 1);
  s.seconds = seconds;
  return s;
}

// R8: tw_reuse_delay=100 → about 100 connects/s with 10 ports.
TEST(Conformance, R8_ReuseDelay100GivesAbout100PerSecond) {
  const LoopResult r =
      run_connect_loop(loop({"net.ipv4.tcp_tw_reuse=1", "net.ipv4.tcp_tw_reuse_delay=100"}));
  for (std::uint64_t v : r.per_second) {
    EXPECT_GE(v, 90u);
    EXPECT_LE(v, 110u);
  }
}

// R9: tw_reuse_delay=3000 → bursts of 10 every ~3 s [E4b: 10, 0, 0, 10, 0].
TEST(Conformance, R9_ReuseDelay3000GivesBurstsEvery3s) {
  const LoopResult r =
      run_connect_loop(loop({"net.ipv4.tcp_tw_reuse=1", "net.ipv4.tcp_tw_reuse_delay=3000"}));
  EXPECT_EQ(r.per_second, (std::vector<std::uint64_t>{10, 0, 0, 10, 0}));
  EXPECT_EQ(r.TWRecycled, 10u);
}

// R21: a takeover does not decrement the TW count (the entry becomes the new connection and
// the new connection's own TIME_WAIT replaces it); TWRecycled +1 each; the old timer is
// cancelled, so nothing expires early or twice.
TEST(Conformance, R21_TakeoverKeepsTwCountAndCountsTwRecycled) {
  const LoopResult r = run_connect_loop(loop({"net.ipv4.tcp_tw_reuse=1"}));
  EXPECT_EQ(r.successes, 50u);
  EXPECT_EQ(r.TWRecycled, 40u);
  EXPECT_EQ(r.timewait_at_end, 10u);
  EXPECT_EQ(r.TW, 50u);  // every connection entered TIME_WAIT once (counted at scheduling)
  EXPECT_EQ(r.TWKilled, 0u);
}

// R7 through the stack: no timestamps, no reuse.
TEST(Conformance, R7_NoTimestampsNoReuse) {
  const LoopResult r =
      run_connect_loop(loop({"net.ipv4.tcp_tw_reuse=1", "net.ipv4.tcp_timestamps=0"}));
  EXPECT_EQ(r.successes, 10u);
  EXPECT_EQ(r.TWRecycled, 0u);
  EXPECT_GT(r.eaddrnotavail, 1000u);
}

// L1 / E6 through the stack: SO_LINGER{1,0} leaves no TIME_WAIT and the port is reusable at
// once.
TEST(Conformance, L1_Linger0LeavesNoTimewait) {
  LoopSpec s = loop({"net.ipv4.tcp_tw_reuse=0"}, 2);
  s.close = ClientClose::kLinger0;
  const LoopResult r = run_connect_loop(s);
  EXPECT_GT(r.successes, 500u);
  EXPECT_EQ(r.timewait_at_end, 0u);
  EXPECT_EQ(r.eaddrnotavail, 0u);
  EXPECT_GE(r.TCPAbortOnData, r.successes);
}

// T6/E5 through the stack: tcp_max_tw_buckets=4 keeps 4 entries, the rest overflow.
TEST(Conformance, T6_MaxTwBucketsOverflowThroughTheStack) {
  const LoopResult r =
      run_connect_loop(loop({"net.ipv4.tcp_tw_reuse=0", "net.ipv4.tcp_max_tw_buckets=4"}, 2));
  EXPECT_EQ(r.timewait_at_end, 4u);
  EXPECT_GT(r.successes, 500u);
  EXPECT_GE(r.TCPTimeWaitOverflow + 4, r.successes);
}

// L5 / E7a: orphaned FIN_WAIT2 with tcp_fin_timeout=3 frees the ports after ~3 s, without
// any tw_reuse. The server never closes, so each reused port first meets the server's
// CLOSE_WAIT: the SYN gets a challenge ACK, our RST clears it, and the SYN is retried 2 ms
// later (models >= 6.6).
TEST(Conformance, L5_FinTimeout3FreesOrphanPortsEvery3s) {
  LoopSpec s = loop({"net.ipv4.tcp_tw_reuse=0", "net.ipv4.tcp_fin_timeout=3"}, 8);
  s.server_closes = false;
  const LoopResult r = run_connect_loop(s);
  EXPECT_EQ(r.per_second, (std::vector<std::uint64_t>{10, 0, 0, 10, 0, 0, 10, 0}));
  EXPECT_EQ(r.TWRecycled, 0u);
  EXPECT_EQ(r.TWKilled, 30u);  // SPEC E7a: counted when armed (timeo <= 4 s: "killed")
}

}  // namespace
}  // namespace twtcp::scenario
