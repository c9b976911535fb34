// tests/tcp/test_limits.cpp: every table a Stack owns is bounded by a config key. At each
// limit the new thing is refused with a reason and a counter (README "Limits"), and what
// already lives is not harmed: established connections keep carrying data both ways, and
// the refused thing works again once room is made.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "two_stacks.hpp"

namespace twtcp::testing {
namespace {

constexpr std::uint16_t kPort = 80;

// Two stacks, a server echoing nothing but counting what it receives per connection, and
// helpers to open client connections and check they still carry data.
struct Limited {
  std::unique_ptr<Net> n;
  std::map<ConnId, std::string> server_got;
  std::vector<ConnId> server_ids;
  std::uint64_t syns_sent = 0;

  Limited(const Config& ccfg, const Config& scfg) {
    n = std::make_unique<Net>(ccfg, scfg);
    n->c2s.seen = [this](const wire::SegmentView& v) {
      if (v.flags == wire::tcp_flags::kSyn) ++syns_sent;
    };
    Callbacks srv;
    srv.on_accepted = [this](ConnId id) { server_ids.push_back(id); };
    srv.on_readable = [this](ConnId id) {
      std::uint8_t buf[4096];
      const std::size_t k = n->server.recv(id, buf);
      server_got[id].append(reinterpret_cast<const char*>(buf), k);
    };
    srv.on_peer_closed = [this](ConnId id) { n->server.close(id); };
    EXPECT_TRUE(n->server.listen(kPort, srv));
  }

  ConnectResult open() {
    const ConnectResult r = n->client.connect(kServerAddr, kPort);
    n->run_for(5000);
    return r;
  }
  // Every client connection in `ids` sends a distinct message; the server gets each whole.
  void expect_all_carry_data(const std::vector<ConnId>& ids) {
    std::map<std::uint16_t, std::string> sent;
    for (ConnId id : ids) {
      const std::string msg = "hello from " + std::to_string(n->client.local_port(id));
      ASSERT_EQ(n->client.send(
                    id, std::span(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size())),
                msg.size());
    }
    n->run_for(100'000);
    std::size_t matched = 0;
    for (const auto& [sid, got] : server_got) {
      for (ConnId id : ids) {
        if (got.ends_with("hello from " + std::to_string(n->client.local_port(id)))) ++matched;
      }
    }
    EXPECT_EQ(matched, ids.size());
  }
};

Config client_config() {
  Config c = small_config();
  c.max_connections = 8;
  return c;
}

TEST(Limits, MaxConnectionsRefusesTheNextConnectWithEnobufsAndHarmsNoOne) {
  Limited t(client_config(), small_config());
  std::vector<ConnId> ids;
  for (int i = 0; i < 8; ++i) {
    const ConnectResult r = t.open();
    ASSERT_TRUE(r.ok()) << i;
    ids.push_back(r.id);
  }
  const std::uint64_t syns = t.syns_sent;
  const ConnectResult refused = t.open();
  EXPECT_EQ(refused.error, kEnobufs);
  EXPECT_EQ(refused.id, 0u);
  EXPECT_EQ(t.syns_sent, syns);  // nothing went on the wire
  EXPECT_EQ(t.n->client.counters().TwtcpConnectNoBuffers, 1u);
  EXPECT_EQ(t.n->client.counters().CurrEstab, 8u);
  t.expect_all_carry_data(ids);

  // A closed connection (its TIME_WAIT entry is not a connection) makes room for one more.
  ASSERT_TRUE(t.n->client.close(ids.back()));
  t.n->run_for(100'000);
  EXPECT_EQ(t.n->client.timewait_count(), 1u);
  ids.pop_back();
  const ConnectResult again = t.open();
  ASSERT_TRUE(again.ok());
  ids.push_back(again.id);
  t.expect_all_carry_data(ids);
}

TEST(Limits, FullTimeWaitPoolClosesWithoutTimeWaitAndCountsOverflow) {
  Config c = small_config();
  c.tcp_max_tw_buckets = 3;
  Limited t(c, small_config());
  std::vector<ConnId> keep;
  for (int i = 0; i < 2; ++i) keep.push_back(t.open().id);
  for (int i = 0; i < 6; ++i) {
    const ConnectResult r = t.open();
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(t.n->client.close(r.id));
    t.n->run_for(100'000);
  }
  const StackCounters k = t.n->client.counters();
  EXPECT_EQ(t.n->client.timewait_count(), 3u);
  EXPECT_EQ(k.TW, 3u);  // counted at entry (Linux >= 4.1): the overflowed ones are not
  EXPECT_EQ(k.TCPTimeWaitOverflow, 3u);
  EXPECT_EQ(k.EstabResets, 0u);
  EXPECT_EQ(t.n->server.counters().EstabResets, 0u);  // the server saw six clean closes
  t.expect_all_carry_data(keep);
  // The three entries expire on time, and the pool takes new ones again.
  t.n->run_for(61 * kSec);
  EXPECT_EQ(t.n->client.timewait_count(), 0u);
  const ConnectResult r = t.open();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(t.n->client.close(r.id));
  t.n->run_for(100'000);
  EXPECT_EQ(t.n->client.timewait_count(), 1u);
  EXPECT_EQ(t.n->client.counters().TCPTimeWaitOverflow, 3u);
}

TEST(Limits, FullFlowTableRefusesConnectsUntilTimeWaitExpires) {
  // TIME_WAIT entries share the 4-tuple table with connections: a table full of them
  // refuses connects (kEnobufs), and expiry gives the room back.
  Config c = small_config();
  c.flow_table_capacity = 16;
  c.max_connections = 16;
  Limited t(c, small_config());
  int opened = 0, refused = 0;
  for (int i = 0; i < 40; ++i) {
    const ConnectResult r = t.open();
    if (!r.ok()) {
      EXPECT_EQ(r.error, kEnobufs);
      ++refused;
      continue;
    }
    ++opened;
    ASSERT_TRUE(t.n->client.close(r.id));
    t.n->run_for(100'000);
  }
  std::printf("flow table of 16 slots: %d connects then %d refused, %zu TIME_WAIT entries\n",
              opened, refused, t.n->client.timewait_count());
  EXPECT_GT(opened, 0);
  EXPECT_LE(opened, 16);
  EXPECT_EQ(opened + refused, 40);
  EXPECT_EQ(t.n->client.counters().TwtcpConnectNoBuffers, static_cast<std::uint64_t>(refused));
  EXPECT_EQ(t.n->client.timewait_count(), static_cast<std::size_t>(opened));
  t.n->run_for(61 * kSec);
  EXPECT_EQ(t.n->client.timewait_count(), 0u);
  EXPECT_TRUE(t.open().ok());
}

TEST(Limits, MaxListenersRefusesTheNextListenAndTheOthersStillAccept) {
  Config s = small_config();
  s.max_listeners = 2;
  Limited t(small_config(), s);  // listens on kPort
  EXPECT_TRUE(t.n->server.listen(81, {}));
  EXPECT_FALSE(t.n->server.listen(82, {}));
  EXPECT_FALSE(t.n->server.listen(83, {}));
  EXPECT_EQ(t.n->server.counters().TwtcpListenLimit, 2u);
  EXPECT_FALSE(t.n->server.listen(81, {}));  // already listening: refused, not the limit
  EXPECT_EQ(t.n->server.counters().TwtcpListenLimit, 2u);
  const ConnectResult r = t.open();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(t.server_ids.size(), 1u);
  t.expect_all_carry_data({r.id});
  // A SYN to the refused port meets no listener: RST, the connect fails at once.
  CloseReason why{};
  ConnectOptions o;
  o.callbacks.on_closed = [&](ConnId, CloseReason cr) { why = cr; };
  ASSERT_TRUE(t.n->client.connect(kServerAddr, 82, o).ok());
  t.n->run_for(5000);
  EXPECT_EQ(why, CloseReason::kRefused);
}

}  // namespace
}  // namespace twtcp::testing
