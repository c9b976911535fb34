// tests/tcp/test_input_burst.cpp: Stack::input_burst() behaves exactly as input() on each frame
// in turn. The same traffic runs twice, frames handed over one by one and then as bursts of
// everything due at an instant; the wire traces (every frame, byte for byte) and the counters
// must be identical. The traffic is built to make the burst's early lookups go stale: SYNs
// that reopen TIME_WAIT entries followed in the same burst by more segments of that tuple,
// bursts longer than the 32-frame chunk, and frames that are not ours mixed in.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "two_stacks.hpp"
#include "wire/tcp.hpp"

namespace twtcp::testing {
namespace {

constexpr std::uint16_t kPort = 80;
constexpr int kConns = 100;  // connected at one instant: SYN bursts of 100 > one 32-frame chunk

struct Outcome {
  std::vector<std::vector<std::uint8_t>> wire;  // every frame either side sent, in order
  std::map<std::string, std::uint64_t> client, server;
  std::uint64_t echoed = 0;
};

std::map<std::string, std::uint64_t> counters_of(const Stack& s) {
  std::map<std::string, std::uint64_t> m;
  s.counters().for_each([&](std::string_view g, std::string_view n, std::uint64_t v) {
    m[std::string(g) + ":" + std::string(n)] = v;
  });
  return m;
}

Outcome run(bool burst) {
  Outcome out;
  Config scfg = small_config();
  scfg.kernel_model = KernelModel::V6_18;
  Config ccfg = small_config();
  ccfg.random_seed = 43;
  Net n(ccfg, scfg);
  n.burst = burst;
  n.c2s.delay_us = n.s2c.delay_us = 1000;
  n.c2s.seen = [&](const wire::SegmentView&) {
    out.wire.emplace_back(n.c2s.last.begin(), n.c2s.last.end());
  };
  n.s2c.seen = [&](const wire::SegmentView&) {
    out.wire.emplace_back(n.s2c.last.begin(), n.s2c.last.end());
  };

  // The server echoes what it reads and closes first, so its side of every tuple ends in
  // TIME_WAIT; the client's next round reuses the same ports, and each SYN reopens an entry.
  Callbacks srv;
  srv.on_readable = [&](ConnId id) {
    std::uint8_t buf[256];
    const std::size_t got = n.server.recv(id, buf);
    out.echoed += n.server.send(id, std::span(buf, got));
    n.server.close(id);
  };
  EXPECT_TRUE(n.server.listen(kPort, srv));

  const std::vector<std::uint8_t> request(100, 'q');
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kConns; ++i) {
      ConnectOptions o;
      o.local_port = static_cast<std::uint16_t>(40000 + i);
      o.callbacks.on_connected = [&](ConnId id) { n.client.send(id, request); };
      o.callbacks.on_readable = [&](ConnId id) {
        std::uint8_t buf[256];
        (void)n.client.recv(id, buf);
      };
      o.callbacks.on_peer_closed = [&](ConnId id) { n.client.close(id); };
      EXPECT_NE(n.client.connect(kServerAddr, kPort, o).id, 0u) << round << " " << i;
    }
    // Each round's SYNs arrive at the server together; with the first round's tuples in
    // TIME_WAIT, the second round's SYNs reopen them. Extras ride in the same burst: a
    // duplicate of the first SYN, a segment to another address, one with a bad checksum.
    n.run_for(500);
    if (round == 1) {
      // Right behind the first SYN, inside its 32-frame chunk: the duplicate's lookup in the
      // chunk's early passes finds the TIME_WAIT entry that the first SYN then replaces.
      const Frame first = n.c2s.q.front();
      auto other = forge(kClientAddr, 40000, kServerAddr + 7, kPort, 1, 0, wire::tcp_flags::kSyn);
      auto bad = forge(kClientAddr, 40001, kServerAddr, kPort, 1, 0, wire::tcp_flags::kSyn);
      bad[bad.size() - 1] ^= 0xff;
      n.c2s.q.insert(n.c2s.q.begin() + 1,
                     {first, Frame{first.at, std::move(other)}, Frame{first.at, std::move(bad)}});
    }
    n.run_for(2 * kSec);
  }
  out.client = counters_of(n.client);
  out.server = counters_of(n.server);
  return out;
}

TEST(InputBurst, SameWireAndCountersAsOneFrameAtATime) {
  const Outcome one = run(false);
  const Outcome burst = run(true);
  // The traffic did what it was built for: two rounds of echoes, the second reopening the
  // first round's TIME_WAIT entries on the server, and the forged frames were counted.
  EXPECT_EQ(one.echoed, 2u * kConns * 100);
  EXPECT_EQ(one.server.at("Tcp:PassiveOpens"), 2u * kConns);
  EXPECT_EQ(one.server.at("TcpExt:TW"), 2u * kConns);
  EXPECT_EQ(one.server.at("twtcp:TwtcpRxDropped"), 2u);
  EXPECT_EQ(one.server.at("Tcp:InErrs"), 1u);
  ASSERT_EQ(one.wire.size(), burst.wire.size());
  for (std::size_t i = 0; i < one.wire.size(); ++i) ASSERT_EQ(one.wire[i], burst.wire[i]) << i;
  EXPECT_EQ(one.client, burst.client);
  EXPECT_EQ(one.server, burst.server);
}

}  // namespace
}  // namespace twtcp::testing
